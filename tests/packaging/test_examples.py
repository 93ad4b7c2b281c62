"""examples/client.py and README.md's curl examples against a real server.

- WarmjailClient: results, input, limits, stdout, every kind of typed error,
  the token, health(); the command-line interface;
- every `curl -s localhost:8080/...` line of README.md's "The API by example"
  section, run against the test server's port, checked against the comment
  that follows it (`# 422 {...}` or `# {...}`): the status, and the
  error_type / result / error / stdout the comment shows.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "http"))
sys.path.insert(0, os.path.join(REPO, "examples"))
import harness  # noqa: E402
from client import WarmjailClient, WarmjailError  # noqa: E402

CLIENT = os.path.join(REPO, "examples", "client.py")
TOKEN = "examples-test-token"


class TestClient(harness.ServerTestCase):
    server_args = ("--api-token", TOKEN)

    def client(self, token=TOKEN):
        return WarmjailClient("http://%s:%d" % (harness.HOST, self.server.port), token)

    def test_result_and_stdout(self):
        c = self.client()
        self.assertEqual(c.execute("def main():\n    print('hi')\n    return {'a': [1, 2]}"), {"a": [1, 2]})
        self.assertEqual(c.last_response["stdout"], "hi\n")

    def test_input_and_limits(self):
        c = self.client()
        self.assertEqual(c.execute("def main(x):\n    return x['n'] * 2", input={"n": 21}), 42)
        self.assertEqual(c.execute("import pandas as pd\ndef main():\n    return int(pd.Series([1, 2]).sum())",
                                   limits={"timeout_s": 5, "memory_mb": 256}), 3)

    def test_typed_errors(self):
        c = self.client()
        with self.assertRaises(WarmjailError) as cm:
            c.execute("def main():\n    print('before')\n    raise ValueError('boom')")
        e = cm.exception
        self.assertEqual((e.status, e.error_type), (422, "runtime_error"))
        self.assertEqual(e.error, "Script execution error: ValueError: boom")
        self.assertEqual(e.stdout, "before\n")
        self.assertIn("line 3", e.traceback)
        with self.assertRaises(WarmjailError) as cm:
            c.execute("def main():\n    while True: pass", limits={"timeout_s": 1})
        self.assertEqual(cm.exception.error_type, "timeout")
        with self.assertRaises(WarmjailError) as cm:
            c.execute("def main(:")
        self.assertEqual(cm.exception.error_type, "syntax_error")
        with self.assertRaises(WarmjailError) as cm:
            c.execute("def main():\n    return 1", limits={"timeout_s": 10 ** 6})
        self.assertEqual((cm.exception.status, cm.exception.error_type), (400, "invalid_request"))

    def test_token(self):
        with self.assertRaises(WarmjailError) as cm:
            self.client(token=None).execute("def main():\n    return 1")
        self.assertEqual((cm.exception.status, cm.exception.error_type), (401, "unauthorized"))
        with self.assertRaises(WarmjailError) as cm:
            self.client(token="wrong").execute("def main():\n    return 1")
        self.assertEqual(cm.exception.status, 401)

    def test_health(self):
        c = self.client(token=None)
        self.assertEqual(c.health()["status"], "healthy")
        self.assertTrue(c.healthy())

    def test_transport_error(self):
        c = WarmjailClient("http://127.0.0.1:%d" % harness.free_port())
        with self.assertRaises(WarmjailError) as cm:
            c.execute("def main():\n    return 1")
        self.assertEqual((cm.exception.status, cm.exception.error_type), (0, "transport"))

    def run_cli(self, source, *args):
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(source)
        try:
            env = dict(os.environ, WARMJAIL_API_TOKEN=TOKEN)
            return subprocess.run([sys.executable, CLIENT, f.name, "--url",
                                   "http://%s:%d" % (harness.HOST, self.server.port)] + list(args),
                                  capture_output=True, text=True, timeout=120, env=env)
        finally:
            os.unlink(f.name)

    def test_cli(self):
        p = self.run_cli("def main(x):\n    print('got', x)\n    return x + 1", "--input", "41")
        self.assertEqual((p.returncode, json.loads(p.stdout)), (0, 42), p.stderr)
        self.assertIn("got 41", p.stderr)
        p = self.run_cli("def main():\n    return 1/0")
        self.assertEqual(p.returncode, 1)
        self.assertIn("runtime_error", p.stderr)
        p = self.run_cli("def main():\n    return 1", "--token", "wrong")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unauthorized", p.stderr)


def readme_curl_examples():
    """(command, expectation comment) pairs from README's "The API by example"."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## The API by example\s*$(.*?)^## ", text, re.M | re.S)
    if not m:
        raise AssertionError("README.md has no '## The API by example' section")
    blocks = re.findall(r"```sh\n(.*?)```", m.group(1), re.S)
    pairs = []
    for block in blocks:
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("curl "):
                cmd, _, inline = line.partition("   #")
                comment = []
                j = i + 1
                while j < len(lines) and lines[j].startswith("#"):
                    comment.append(lines[j][1:].strip())
                    j += 1
                pairs.append((cmd.strip(), inline.strip() or " ".join(comment)))
                i = j
            else:
                i += 1
    return pairs


def expectation(comment):
    """(status, {field: value}) from a comment such as
    `422 {"error":"...","error_type":"timeout",...}` or `{"result":42,...}`."""
    m = re.match(r"(\d{3})?\s*(.*)$", comment, re.S)
    status = int(m.group(1)) if m.group(1) else 200
    fields = {}
    for key in ("error_type", "error", "stdout", "status"):
        km = re.search(r'"%s":("(?:[^"\\]|\\.)*")' % key, m.group(2))
        if km:
            fields[key] = json.loads(km.group(1))
    rm = re.search(r'"result":(.*?)(?:,\.\.\.|,"|\}$)', m.group(2))
    if rm:
        raw = rm.group(1)
        if raw.startswith("{"):  # an object result: up to its matching brace
            depth = 0
            for n, ch in enumerate(m.group(2)[rm.start(1):]):
                depth += ch == "{"
                depth -= ch == "}"
                if depth == 0:
                    raw = m.group(2)[rm.start(1):rm.start(1) + n + 1]
                    break
        fields["result"] = json.loads(raw)
    return status, fields


class TestReadmeCurl(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("curl"):
            raise unittest.SkipTest("curl is not installed (scripts/install-deps installs it)")
        super().setUpClass()

    def test_readme_examples(self):
        pairs = readme_curl_examples()
        self.assertGreaterEqual(len(pairs), 10, pairs)
        for cmd, comment in pairs:
            with self.subTest(cmd=cmd[:80]):
                self.assertTrue(comment, "no expectation after %s" % cmd)
                argv = shlex.split(cmd)
                self.assertEqual(argv[:2], ["curl", "-s"], cmd)
                argv = [a.replace("localhost:8080", "%s:%d" % (harness.HOST, self.server.port)) for a in argv]
                argv[1:1] = ["-w", "\n%{http_code}", "--max-time", "120"]
                p = subprocess.run(argv, capture_output=True, text=True, timeout=150)
                self.assertEqual(p.returncode, 0, p.stderr)
                body, _, code = p.stdout.rpartition("\n")
                status, fields = expectation(comment)
                if "Prometheus" in comment:
                    self.assertEqual(int(code), 200)
                    self.assertIn("# TYPE warmjail_", body)
                    continue
                doc = json.loads(body)
                self.assertEqual(int(code), status, "%s -> %s" % (cmd, body[:500]))
                for key, value in fields.items():
                    self.assertIsNone(harness.json_equal(value, doc.get(key)),
                                      "%s: %s is %r, README shows %r" % (cmd, key, doc.get(key), value))


if __name__ == "__main__":
    unittest.main()
