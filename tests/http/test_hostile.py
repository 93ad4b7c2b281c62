"""The hostile-script security suite: every file in tests/hostile/cases is an
attack written as an ordinary warmjail script; its header says exactly what
the server must answer.

Header lines (in the comment block at the top of a case):
  # expect: {"status": 200, "result": <exact JSON main() returns>}
  # expect: {"status": 422, "error_type": "timeout", "error": "<exact>",
  #          "stdout_truncated": true}
            ("error_one_of": [exact texts] where the host decides which
            of a few equally secure outcomes happens; "error_contains":
            a substring)
  # limits: {"timeout_s": 2}            (the request's "limits")
  # input:  {"port": "$PORT"}           (the request's "input"; the strings
            $PORT, $SERVER_PID and $TOKEN_SHA256 are replaced by the
            server's port, its PID on the host, and the SHA-256 of its API
            token)

One server runs the whole suite (with an API token, so the cases can look for
it). Before any case runs, a probe checks that the jail is in place (a new PID
namespace (the script is PID 1 or the child of the jail's init
there), the sandbox uid, seccomp filter, no_new_privs, no
capabilities, own UTS namespace, own root): several cases (kill(-1), fork,
memory and disk bombs) would harm the host without it, so when the probe
fails the cases are not run and the test fails saying why. Cases run in
file-name order (some are ordered pairs: one plants state, the next checks
it is gone); /health is checked after each. After the suite: the server is
healthy, no process is left under it but the zygote, no zombie, no cgroup beyond the idle spares'
cgroup directory, no new mount on the host.

WARMJAIL_HOSTILE_OBSERVE=1 prints, for every case, the `# expect:` line the
observed response would give (for writing new cases; check that what was
observed is the secure outcome before pasting it).
"""

import glob
import hashlib
import json
import os
import re
import secrets
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "ops"))
import opslib  # noqa: E402  (the host-side checks: processes, cgroups, mounts)

CASES_DIR = os.path.join(harness.REPO, "tests", "hostile", "cases")
TOKEN = "wjhostile-" + secrets.token_hex(16)
AUTH = {"Authorization": "Bearer " + TOKEN}
OBSERVE = os.environ.get("WARMJAIL_HOSTILE_OBSERVE") == "1"
# expect_rlimit: the outcome where memory is limited per process by RLIMIT_AS
# (no delegated cgroup: the unprivileged run), when it differs.
HEADER_KEYS = ("expect", "expect_rlimit", "limits", "input")
EXPECT_KEYS = {"status", "result", "error_type", "error", "error_one_of", "error_contains",
               "stdout_truncated", "stderr_truncated"}

PROBE = r'''
import os, socket

def main():
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    try:
        root, own = os.stat("/"), os.stat("/proc/self/root/")
        host_init = os.stat("/proc/1/root/") if os.getpid() != 1 and os.access("/proc/1/root/", os.R_OK) else own
        own_root = ((root.st_dev, root.st_ino) == (own.st_dev, own.st_ino) == (host_init.st_dev, host_init.st_ino)
                    and not os.path.exists("/work"))
    except OSError:
        own_root = False
    return {
        "pid_in_new_ns": os.getpid() in (1, 2),
        "uid": os.getuid(),
        "gid": os.getgid(),
        "Seccomp": status.get("Seccomp"),
        "NoNewPrivs": status.get("NoNewPrivs"),
        "CapEff": status.get("CapEff"),
        "CapBnd": status.get("CapBnd"),
        "hostname": socket.gethostname(),
        "proc1_root_is_sandbox_root": own_root,
        "only_own_processes": set(int(p) for p in os.listdir("/proc") if p.isdigit()) <= {1, 2},
    }
'''

PROBE_EXPECT = {
    "pid_in_new_ns": True, "uid": 65534, "gid": 65534, "Seccomp": "2", "NoNewPrivs": "1",
    "CapEff": "0000000000000000", "CapBnd": "0000000000000000", "hostname": "warmjail",
    "proc1_root_is_sandbox_root": True, "only_own_processes": True,
}


class CaseError(Exception):
    pass


def load_case(path, strict=True):
    """Reads a case file: its source and its header fields. Not strict (the
    observe mode): an empty or missing expectation is allowed."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    fields = {}
    for line in source.splitlines():
        if not line.startswith("#"):
            break
        m = re.match(r"#\s*(\w+)\s*:\s*(.*)$", line)
        if m and m.group(1) in HEADER_KEYS:
            if m.group(1) in fields:
                raise CaseError("%s: duplicate '# %s:' line" % (path, m.group(1)))
            try:
                fields[m.group(1)] = json.loads(m.group(2))
            except ValueError as exc:
                raise CaseError("%s: '# %s:' is not JSON: %s" % (path, m.group(1), exc))
    if not strict and not fields.get("expect"):
        fields["expect"] = {}
    elif "expect" not in fields:
        raise CaseError("%s: no '# expect:' line on top" % path)
    expect = fields["expect"]
    if not strict and not expect:
        pass
    elif not isinstance(expect, dict) or "status" not in expect:
        raise CaseError("%s: '# expect:' needs at least \"status\"" % path)
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise CaseError("%s: unknown keys in '# expect:': %s" % (path, sorted(unknown)))
    if expect and ("result" in expect) == ("error_type" in expect):
        raise CaseError("%s: '# expect:' needs exactly one of \"result\" and \"error_type\"" % path)
    return {"name": os.path.basename(path), "source": source, "expect": expect,
            "expect_rlimit": fields.get("expect_rlimit"),
            "limits": fields.get("limits"), "input": fields.get("input", ...)}


def substitute(value, values):
    if isinstance(value, str):
        return values.get(value, value)
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    return value


def compare(expect, status, data):
    """None when the response matches the expectation, else why not."""
    if status != expect["status"]:
        return "HTTP %d, expected %d" % (status, expect["status"])
    if "result" in expect:
        diff = harness.json_equal(expect["result"], data.get("result"))
        return "result differs: %s" % diff if diff else None
    if data.get("error_type") != expect["error_type"]:
        return "error_type %r, expected %r" % (data.get("error_type"), expect["error_type"])
    if "error" in expect and data.get("error") != expect["error"]:
        return "error %r, expected %r" % (data.get("error"), expect["error"])
    if "error_one_of" in expect and data.get("error") not in expect["error_one_of"]:
        return "error %r, expected one of %r" % (data.get("error"), expect["error_one_of"])
    if "error_contains" in expect and expect["error_contains"] not in data.get("error", ""):
        return "error %r does not contain %r" % (data.get("error"), expect["error_contains"])
    for key in ("stdout_truncated", "stderr_truncated"):
        if key in expect and bool(data.get(key, False)) != expect[key]:
            return "%s is %r, expected %r" % (key, data.get(key, False), expect[key])
    return None


def observed_expectation(status, data):
    if status == 200:
        return {"status": status, "result": data.get("result")}
    out = {"status": status, "error_type": data.get("error_type"), "error": data.get("error")}
    for key in ("stdout_truncated", "stderr_truncated"):
        if data.get(key):
            out[key] = True
    return out


def brief(data):
    """The response with long output cut, for failure messages."""
    if not isinstance(data, dict):
        return repr(data)
    shown = dict(data)
    for key in ("stdout", "stderr", "traceback"):
        if isinstance(shown.get(key), str) and len(shown[key]) > 600:
            shown[key] = shown[key][:600] + "...(%d chars)" % len(data[key])
    return json.dumps(shown)[:4000]


class HostileSuite(harness.ServerTestCase):
    server_env = {"WARMJAIL_API_TOKEN": TOKEN}
    probe_result = None  # (ok, message), once run
    cases_ran = False

    @classmethod
    def setUpClass(cls):
        cls.mounts_before = opslib.read_mountinfo()
        super().setUpClass()

    def post(self, body):
        return self.execute(body, headers=AUTH, timeout=120)

    @property
    def memory_mechanism(self):
        """"cgroup" or "rlimit", as /health reports the server's memory accounting."""
        _, _, health = self.server.get("/health", AUTH)  # the details need the token
        return ((health.get("isolation") or {}).get("memory_accounting") or {}).get("mechanism")

    def ensure_probe(self):
        cls = type(self)
        if cls.probe_result is None:
            status, _, data = self.post({"script": PROBE})
            if status != 200:
                cls.probe_result = (False, "the jail probe script did not run: HTTP %d %s" % (status, brief(data)))
            else:
                diff = harness.json_equal(PROBE_EXPECT, data["result"])
                cls.probe_result = (diff is None, "the jail is NOT in place (%s); observed %s" % (
                    diff, json.dumps(data["result"])) if diff else "jail in place")
        return cls.probe_result

    def test_1_jail_probe(self):
        ok, message = self.ensure_probe()
        self.assertTrue(ok, message)

    def test_2_hostile_cases(self):
        ok, message = self.ensure_probe()
        if not ok:
            self.fail("hostile cases NOT run, because they could harm the host: " + message)
        paths = sorted(glob.glob(os.path.join(CASES_DIR, "*.py")))
        self.assertGreaterEqual(len(paths), 45, "expected at least 45 cases in %s" % CASES_DIR)
        values = {"$PORT": self.server.port, "$SERVER_PID": self.server.pid,
                  "$TOKEN_SHA256": hashlib.sha256(TOKEN.encode()).hexdigest()}
        for path in paths:
            name = os.path.basename(path)
            with self.subTest(case=name):
                case = load_case(path, strict=not OBSERVE)
                body = {"script": case["source"]}
                if case["limits"] is not None:
                    body["limits"] = case["limits"]
                if case["input"] is not ...:
                    body["input"] = substitute(case["input"], values)
                started = time.monotonic()
                status, _, data = self.post(body)
                took = time.monotonic() - started
                if OBSERVE:
                    sys.stderr.write("\n%s (%.2f s)\n# expect: %s\n" % (
                        name, took, json.dumps(observed_expectation(status, data))))
                if not case["expect"]:
                    continue  # observe mode, no expectation written yet
                expect = case["expect"]
                if self.memory_mechanism == "rlimit" and case.get("expect_rlimit"):
                    expect = case["expect_rlimit"]
                problem = compare(expect, status, data)
                self.assertIsNone(problem, "%s: %s\nresponse: %s" % (name, problem, brief(data)))
                health_status, _, health = self.server.get("/health")
                self.assertTrue(self.server.alive(), "server died after %s" % name)
                self.assertEqual((health_status, health.get("status")), (200, "healthy"),
                                 "server unhealthy after %s: %s" % (name, brief(health)))
        type(self).cases_ran = True

    def test_3_after_suite(self):
        self.assertTrue(self.server.alive(), "server is not running")
        status, _, health = self.server.get("/health", AUTH)
        self.assertEqual((status, health.get("status")), (200, "healthy"), brief(health))

        server_pid = self.server.pid
        spares = int(health.get("spares", 0))
        # Allowed under the server: the zygote, and under it at most `spares`
        # idle spare sandboxes, each an init and its worker (a sandbox that
        # ran a script is gone with everything the script started).
        problem = opslib.wait_until(lambda: opslib.stray_processes(server_pid, spares), seconds=8.0)
        self.assertIsNone(problem, problem)

        if opslib.uses_cgroups(health):
            bases = opslib.cgroup_bases(health)
            self.assertTrue(bases, "cgroups active but no base path in /health: %s" % brief(health))
            for base in bases:
                self.assertTrue(os.path.isdir(base), "cgroup base %s does not exist" % base)
            # One cgroup per live sandbox: only the idle spares may have one.
            problem = opslib.wait_until(lambda: opslib.excess_cgroups(bases, spares), seconds=8.0)
            self.assertIsNone(problem, problem)
        else:
            sys.stderr.write("\nnote: memory limited by RLIMIT_AS; sandbox cgroup check not applicable\n")

        self.assertEqual(opslib.new_mounts(self.mounts_before), [],
                         "mounts that appeared on the host during the suite")


if __name__ == "__main__":
    unittest.main()
