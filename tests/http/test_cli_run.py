"""`warmjail run FILE.py [--input JSON]`: the response document on stdout,
exit 0 on success, 1 on a script error, 2 on usage errors."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class CliRun(unittest.TestCase):

    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(harness.BIN):
            raise RuntimeError("warmjail binary not found at %s" % harness.BIN)
        cls.tmp = tempfile.mkdtemp(prefix="warmjail-cli-test-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))
        return path

    def run_cli(self, *args, timeout=90):
        cmd = [harness.BIN, "run", *args] + harness.test_args()
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout)
        self._last = (cmd, proc)
        return proc

    def doc(self, proc):
        """The single JSON object printed on stdout."""
        text = proc.stdout.decode("utf-8")
        try:
            data = json.loads(text)
        except ValueError as exc:
            self.fail("stdout is not one JSON document (%s): %r\nstderr: %s"
                      % (exc, text[:2000], proc.stderr.decode("utf-8", "replace")[-4000:]))
        self.assertIsInstance(data, dict, text)
        return data

    def diag(self, proc):
        return "rc=%s\nstdout=%r\nstderr=%s" % (
            proc.returncode, proc.stdout[:2000],
            proc.stderr.decode("utf-8", "replace")[-4000:])

    def test_success_without_input(self):
        path = self.write("ok.py", """
            import pandas as pd

            def main():
                print("hello from script")
                return {"rows": len(pd.DataFrame({"a": [1, 2, 3]})), "args": "none"}
            """)
        proc = self.run_cli(path)
        self.assertEqual(proc.returncode, 0, self.diag(proc))
        data = self.doc(proc)
        self.assertEqual(data["result"], {"rows": 3, "args": "none"})
        self.assertEqual(data["stdout"], "hello from script\n")
        self.assertEqual(data["stderr"], "")
        self.assertIsInstance(data["duration_ms"], (int, float))
        self.assertNotIn("error", data)

    def test_success_with_input(self):
        path = self.write("echo.py", """
            def main(data):
                return {"echo": data, "n": len(data["items"])}
            """)
        value = {"items": [1, "two", None, 3.5], "name": "héllo"}
        proc = self.run_cli(path, "--input", json.dumps(value))
        self.assertEqual(proc.returncode, 0, self.diag(proc))
        self.assertEqual(self.doc(proc)["result"], {"echo": value, "n": 4})

    def test_input_scalar_json(self):
        path = self.write("scalar.py", "def main(x):\n    return [x, type(x).__name__]\n")
        for raw, expected in (("42", [42, "int"]), ('"s"', ["s", "str"]),
                              ("null", [None, "NoneType"]),
                              # the text as given: keys in order, integers exact
                              ('{"b": 1, "a": 2}', [{"b": 1, "a": 2}, "dict"]),
                              ("18446744073709551616", [18446744073709551616, "int"])):
            with self.subTest(input=raw):
                proc = self.run_cli(path, "--input", raw)
                self.assertEqual(proc.returncode, 0, self.diag(proc))
                self.assertEqual(self.doc(proc)["result"], expected)
                if isinstance(expected[0], dict):
                    self.assertEqual(list(self.doc(proc)["result"][0]), list(expected[0]))

    def test_runtime_error_exit_1(self):
        path = self.write("boom.py", """
            def main():
                print("partial")
                raise ValueError("nope")
            """)
        proc = self.run_cli(path)
        self.assertEqual(proc.returncode, 1, self.diag(proc))
        data = self.doc(proc)
        self.assertEqual(data["error_type"], "runtime_error")
        self.assertEqual(data["error"], "Script execution error: ValueError: nope")
        self.assertEqual(data["stdout"], "partial\n")
        self.assertRegex(data["traceback"], r"\bline 3\b")
        self.assertNotIn("result", data)

    def test_no_main_and_syntax_error_exit_1(self):
        for name, text, etype in (("nomain.py", "x = 1\n", "no_main"),
                                  ("syntax.py", "def main(:\n", "syntax_error"),
                                  ("notjson.py", "def main():\n    return {1}\n",
                                   "not_json_serializable")):
            with self.subTest(case=name):
                proc = self.run_cli(self.write(name, text))
                self.assertEqual(proc.returncode, 1, self.diag(proc))
                self.assertEqual(self.doc(proc)["error_type"], etype)

    def test_timeout_flag(self):
        path = self.write("spin.py", "def main():\n    while True:\n        pass\n")
        proc = self.run_cli(path, "--timeout", "1")
        self.assertEqual(proc.returncode, 1, self.diag(proc))
        data = self.doc(proc)
        self.assertEqual(data["error_type"], "timeout")
        self.assertEqual(data["error"], "Script execution timeout (1 seconds)")

    def test_missing_file_exit_2(self):
        proc = self.run_cli(os.path.join(self.tmp, "does-not-exist.py"))
        self.assertEqual(proc.returncode, 2, self.diag(proc))

    def test_no_file_argument_exit_2(self):
        proc = self.run_cli()
        self.assertEqual(proc.returncode, 2, self.diag(proc))

    def test_invalid_input_json_exit_2(self):
        path = self.write("in.py", "def main(x):\n    return x\n")
        proc = self.run_cli(path, "--input", "{not json")
        self.assertEqual(proc.returncode, 2, self.diag(proc))


if __name__ == "__main__":
    unittest.main()
