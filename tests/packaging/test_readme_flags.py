"""README's configuration table against `warmjail serve --help`: every flag
the server takes has a row (a flag added without documenting it fails here),
every flag a row names exists, and every flag but the loudly named danger
switch has its environment variable WARMJAIL_<FLAG>."""
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "http"))
import harness  # noqa: E402

README = os.path.join(harness.REPO, "README.md")
NO_ENV = {"--danger-disable-isolation", "--help"}


def help_flags():
    out = subprocess.run([harness.BIN, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    flags = {}
    for m in re.finditer(r"^\s+(?:-\w,)?(--[a-z][a-z0-9-]*)\b(.*)$", out, re.M):
        env = re.search(r"\(Env:(\w+)\)", m.group(2))
        flags[m.group(1)] = env.group(1) if env else None
    return flags


def readme_row_flags():
    """The flags each row of README's configuration table names, in order."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    flags = []
    for line in section.splitlines():
        if line.startswith("| `--"):
            flags += re.findall(r"`(--[a-z][a-z0-9-]*)`", line.split("|")[1])
    return flags


def readme_rows():
    return set(readme_row_flags())


class ReadmeFlags(unittest.TestCase):
    def test_every_flag_documented(self):
        flags = help_flags()
        self.assertGreater(len(flags), 15, "could not read the flags of `warmjail serve --help`")
        missing = sorted(set(flags) - readme_rows() - {"--help"})
        self.assertEqual(missing, [], "flags of `warmjail serve` without a row in README's configuration table")

    def test_every_row_is_a_flag(self):
        unknown = sorted(readme_rows() - set(help_flags()))
        self.assertEqual(unknown, [], "README rows naming flags `warmjail serve` does not take")

    def test_each_flag_has_one_row(self):
        """Two rows for one flag said different things (--max-connections:
        'more wait for a free one' and 'only /health and /healthz are
        answered')."""
        flags = readme_row_flags()
        self.assertEqual(sorted({f for f in flags if flags.count(f) > 1}), [])

    def test_env_var_sentence_names_the_exception(self):
        with open(README, encoding="utf-8") as f:
            text = " ".join(f.read().split("## Configuration", 1)[1].split("|", 1)[0].split())
        self.assertNotIn("Every flag has an environment variable", text)
        for flag in NO_ENV - {"--help"}:
            self.assertIn("`%s`" % flag, text, "README says every flag has an environment variable")

    def test_every_flag_has_its_env_var(self):
        for flag, env in help_flags().items():
            if flag in NO_ENV:
                continue
            with self.subTest(flag=flag):
                self.assertEqual(env, "WARMJAIL_" + flag[2:].upper().replace("-", "_"))


if __name__ == "__main__":
    unittest.main()
