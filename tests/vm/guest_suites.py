"""The suites scripts/vm-check runs inside its guest, on cgroup v2 only, with
WARMJAIL_BIN=tests/vm/warmjail-delegated (each server alone in a delegated
cgroup below /sys/fs/cgroup/vm-check, as root or as WARMJAIL_VM_USER):

  CgroupV2Files      /health reports cgroup v2; a running sandbox's cgroup has
                     memory.max (the request's limit), memory.swap.max 0,
                     memory.oom.group 1, pids.max, cpu.max (one CPU); the
                     request log's peak_memory_bytes is the cgroup's
                     memory.peak
  HostileV2          the hostile cases about the cgroup view, processes,
                     memory, CPU and cleanup (CASES), with the after-suite
                     checks of tests/http/test_hostile.py (no process, no
                     sandbox cgroup, no mount left)
  SeedConformance    tests/http/test_conformance.py as it is
  ZNothingLeft       after every server stopped: no process and no cgroup but
                     the server's empty leaf in any delegated cgroup (which
                     the test then removes, as the delegating manager would)

TCG emulation is slow: the selection keeps the guest run within a few minutes.
`guest_suites.py --loopback-up` brings up lo (the guest has no iproute2).
"""

import fcntl
import json
import os
import socket
import struct
import sys
import threading
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "http"))

import harness  # noqa: E402
import test_hostile  # noqa: E402  (the module, not the class: the full suite is not run here)
from test_conformance import SeedConformance  # noqa: E402,F401  (run as it is)

# Under emulation on a loaded host a zygote's warm-up (numpy and pandas read
# from the virtual disk and imported) can take longer than the harness's 60 s.
harness.READY_TIMEOUT_S = 240.0

DELEGATED = "/sys/fs/cgroup/vm-check"
# The hostile cases that exercise what cgroup v2 provides: the sandbox's view
# of its cgroup, pids.max (fork/thread bombs), memory.max and the OOM count
# (memory bombs, also in child processes), the kill of a whole cgroup on
# timeout (spinning trees, ignored signals, blocked children), and cleanup.
CASES = (
    "066_cgroup_view.py",
    "073_daemon_gone.py",
    # Not 081_fork_bomb_recursive: its 10 s wall-clock deadline is too short
    # for the failing forks of 23 spinning children under emulation (it ends
    # as timeout under TCG on a loaded host); 080 and 082 prove pids.max.
    "080_fork_bomb.py", "082_thread_bomb.py",
    "083_memory_bytearray.py", "084_memory_numpy.py", "085_memory_mmap.py",
    "086_memory_in_children.py",
    "090_cpu_spin.py", "092_ignore_signals_spin.py", "094_spinning_tree_timeout.py",
    "096_block_in_kernel.py",
)
MAX_PROCS = 24
CPU_MAX = "100000 100000"  # one CPU's worth per sandbox, as jail/cgroups.cc sets it


def loopback_up():
    """ip link set lo up, with ioctl(SIOCGIFFLAGS/SIOCSIFFLAGS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        name = b"lo".ljust(16, b"\0")
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", name, 0))[:18])[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", name, flags | 1))


def read(path):
    with open(path) as f:
        return f.read().strip()


def read_or_none(path):
    """The file's content; None when it does not exist (a controller that is
    not enabled, or a cgroup removed meanwhile)."""
    try:
        return read(path)
    except FileNotFoundError:
        return None


def cgroup_procs(path):
    """Every PID in the cgroup at `path` and below it."""
    pids = []
    for dirpath, _, files in os.walk(path):
        if "cgroup.procs" in files:
            pids += read(os.path.join(dirpath, "cgroup.procs")).split()
    return pids


class CgroupV2Files(harness.ServerTestCase):
    server_args = ("--max-procs", str(MAX_PROCS), "--memory-mb", "512", "--workers", "1", "--spares", "1")

    def base(self):
        _, _, health = self.server.get("/health")
        bases = test_hostile.opslib.cgroup_bases(health)
        self.assertEqual(len(bases), 1, json.dumps(health))
        return bases[0]

    def test_1_health_says_v2_in_the_delegated_cgroup(self):
        _, _, health = self.server.get("/health")
        memory = health["isolation"]["memory_accounting"]
        self.assertEqual(memory["mechanism"], "cgroup", memory)
        self.assertTrue(memory["detail"].startswith("cgroup v2 at %s/run-" % DELEGATED), memory)
        own = read("/proc/%d/cgroup" % self.server.proc.pid)
        self.assertRegex(own, r"^0::/vm-check/run-\d+/warmjail-server$")

    def test_2_running_sandbox_limits(self):
        """A request with memory_mb 200, seen from outside while it runs."""
        base = self.base()
        result = {}
        script = "import time\ndef main():\n    time.sleep(6)\n    return 1\n"
        thread = threading.Thread(target=lambda: result.update(
            resp=self.script(script, limits={"memory_mb": 200, "timeout_s": 30})))
        thread.start()
        found = None
        deadline = time.monotonic() + 30
        while found is None and time.monotonic() < deadline and thread.is_alive():
            for name in os.listdir(base):
                path = os.path.join(base, name)
                if name.startswith("sandbox-") and read_or_none(path + "/memory.max") == str(200 << 20):
                    found = {f: read_or_none(os.path.join(path, f)) for f in
                             ("memory.max", "memory.swap.max", "memory.oom.group", "pids.max", "cpu.max",
                              "cgroup.procs")}
            time.sleep(0.2)
        thread.join(60)
        self.assertOk(result["resp"], 1)
        self.assertIsNotNone(found, "no sandbox cgroup with memory.max = 200 MiB under %s while the request ran" % base)
        self.assertEqual(found["memory.swap.max"], "0", found)
        self.assertEqual(found["memory.oom.group"], "1", found)
        self.assertEqual(found["pids.max"], str(MAX_PROCS), found)
        self.assertEqual(found["cpu.max"], CPU_MAX, found)
        self.assertTrue((found["cgroup.procs"] or "").split(), found)

    def test_3_peak_memory_is_the_cgroups(self):
        """The request log's peak_memory_bytes comes from memory.peak: it
        counts what the sandbox allocated, 150 MiB, and not the interpreter
        pages it shares with the zygote (charged to the zygote's cgroup), which
        ru_maxrss, the fallback, would count."""
        small = "def main():\n    return 1\n"
        big = "def main():\n    b = bytearray(150 << 20)\n    b[::4096] = b'x' * len(b[::4096])\n    return len(b)\n"

        def logged_peak(request_id):
            """peak_memory_bytes of the request's log line (written after the
            response, by the server's reaper thread), or None."""
            for line in self.server.stderr_tail(1 << 20).splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == "request" and event.get("request_id") == request_id:
                    return event.get("peak_memory_bytes")
            return None

        ids = []
        for source, result in ((small, 1), (big, 150 << 20)):
            resp = self.script(source)
            self.assertOk(resp, result)
            ids.append(resp[1].get("X-Request-Id"))
        deadline = time.monotonic() + 10
        while None in map(logged_peak, ids) and time.monotonic() < deadline:
            time.sleep(0.2)
        peaks = [logged_peak(i) for i in ids]
        self.assertNotIn(None, peaks, "request log lines with peak_memory_bytes for %s: %s" % (ids, peaks))
        sys.stderr.write("\npeak_memory_bytes: trivial script %d, 150 MiB script %d\n" % tuple(peaks))
        small_peak, big_peak = peaks
        self.assertGreaterEqual(big_peak, 150 << 20)
        self.assertLess(big_peak, 200 << 20)
        self.assertLess(small_peak, 40 << 20, "peak of a trivial script: the zygote's shared pages counted?")


class HostileV2(test_hostile.HostileSuite):
    """tests/http/test_hostile.py with CASES only."""

    def test_2_hostile_cases(self):
        ok, message = self.ensure_probe()
        if not ok:
            self.fail("hostile cases NOT run, because they could harm the host: " + message)
        values = {"$PORT": self.server.port, "$SERVER_PID": self.server.proc.pid,
                  "$TOKEN_SHA256": test_hostile.hashlib.sha256(test_hostile.TOKEN.encode()).hexdigest()}
        self.assertEqual(self.memory_mechanism, "cgroup")
        for name in CASES:
            with self.subTest(case=name):
                case = test_hostile.load_case(os.path.join(test_hostile.CASES_DIR, name))
                body = {"script": case["source"]}
                if case["limits"] is not None:
                    body["limits"] = case["limits"]
                if case["input"] is not ...:
                    body["input"] = test_hostile.substitute(case["input"], values)
                started = time.monotonic()
                status, _, data = self.post(body)
                sys.stderr.write("\n%s: %d %s (%.1f s)" % (name, status, data.get("error_type", ""),
                                                           time.monotonic() - started))
                problem = test_hostile.compare(case["expect"], status, data)
                self.assertIsNone(problem, "%s: %s\nresponse: %s" % (name, problem, test_hostile.brief(data)))
                health_status, _, health = self.server.get("/health")
                self.assertTrue(self.server.alive(), "server died after %s" % name)
                self.assertEqual((health_status, health.get("status")), (200, "healthy"),
                                 "server unhealthy after %s: %s" % (name, test_hostile.brief(health)))


class ZNothingLeft(unittest.TestCase):
    """Runs last (classes run in name order), when every server has stopped."""

    def test_no_cgroup_or_process_left(self):
        runs = sorted(d for d in os.listdir(DELEGATED) if d.startswith("run-"))
        self.assertTrue(runs, "no server ran in %s" % DELEGATED)
        for run in runs:
            path = os.path.join(DELEGATED, run)
            deadline = time.monotonic() + 10
            while cgroup_procs(path) and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(cgroup_procs(path), [], "processes left in %s" % path)
            left = sorted(os.path.relpath(d, path) for d, _, _ in os.walk(path) if d != path)
            self.assertIn(left, ([], ["warmjail-server"]), "cgroups left in %s" % path)
            for d in left:
                os.rmdir(os.path.join(path, d))
            os.rmdir(path)


if __name__ == "__main__":
    if sys.argv[1:] == ["--loopback-up"]:
        loopback_up()
    else:
        unittest.main()
