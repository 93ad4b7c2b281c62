"""Soak (issue 5): many mixed requests at concurrency 8 against one server,
then a check that nothing leaked.

The mix: every /execute seed case of tests/conformance/seed_cases.json,
echo scripts with a per-request nonce (so a response mixed up between
requests is caught), script errors (runtime, syntax, no main, not JSON),
invalid requests, crashes (SIGSEGV, os._exit), short timeouts (sleeping and
spinning, limits.timeout_s 1), memory bombs (limits.memory_mb 64), truncated
output, quick cases of the hostile suite (tests/hostile/cases) and /health.

Every response must be right for its script (status, error_type, error
text, result and stdout where they are deterministic); no 5xx; no 429 (the
queue is far larger than the concurrency). Afterwards: server descriptors
back to the post-warm-up baseline, no process under the server beyond the
zygote and its idle spares, no zombie, no cgroup beyond the spares', no new
mount, server RSS growth under 10% between the middle and the end of the run
(a leak grows with the requests served; a connection thread started late
adds its stack, not an arena of freed response buffers: see
test_http_limits.ConnectionThreadMemory), one log
line per /execute request (and none holding a script or its output), and
/metrics counting exactly what the clients saw.

Size: WARMJAIL_SOAK_REQUESTS (default 3000, about 5 minutes on the 2-core VM; the issue's full soak is 20000),
WARMJAIL_SOAK_CONCURRENCY (8), WARMJAIL_SOAK_SEED (random mix seed, 1).
"""

import glob
import http.client
import json
import os
import random
import re
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import opslib  # noqa: E402
from opslib import harness  # noqa: E402

REQUESTS = int(os.environ.get("WARMJAIL_SOAK_REQUESTS", "3000"))
CONCURRENCY = int(os.environ.get("WARMJAIL_SOAK_CONCURRENCY", "8"))
SEED = int(os.environ.get("WARMJAIL_SOAK_SEED", "1"))
QUEUE = max(256, 4 * CONCURRENCY)
CLIENT_TIMEOUT = 60.0
RSS_GROWTH_MAX = 0.10
FD_SLACK = 4

SEED_FILE = os.path.join(harness.REPO, "tests", "conformance", "seed_cases.json")
HOSTILE_DIR = os.path.join(harness.REPO, "tests", "hostile", "cases")
# Quick hostile cases (well under a second each, no input substitution, no
# state shared with another case: 071/073 check that nothing persisted, which
# must hold whatever ran before them).
HOSTILE_CASES = [
    "010_identity_ids.py", "011_identity_status.py", "013_proc_only_own.py",
    "014_filesystem_layout.py", "016_proc_self_exe.py", "020_fds_open.py",
    "022_proc_net.py", "024_socket_families.py", "041_refused_mount_family.py",
    "044_refused_sysv_ipc.py", "047_ioctl_prctl.py", "048_x32_syscall.py",
    "050_kill_everything.py", "053_init_proc_entries.py", "060_write_outside_tmp.py",
    "062_symlink_tricks.py", "066_cgroup_view.py", "070_persist_plant.py",
    "071_persist_check.py", "072_daemon_plant.py", "073_daemon_gone.py",
    "082_thread_bomb.py", "087_fill_tmp_one_file.py",
]
MARK = "wjsoakmark"  # in every generated script and its output; must never reach the log


# -- the mix -------------------------------------------------------------------

class Case:
    """One request to send and what its response must be."""

    def __init__(self, kind, method="POST", path="/execute", body=None, expect=None, headers=None):
        self.kind = kind
        self.method = method
        self.path = path
        self.body = body
        self.expect = expect or {}
        self.headers = headers or {}


def load_seed_cases():
    with open(SEED_FILE, encoding="utf-8") as f:
        doc = json.load(f)
    out = []
    for c in doc["cases"]:
        if c.get("method", "POST") != "POST" or c.get("path", "/execute") != "/execute":
            continue
        # The seed memory bomb (512 MB) and 2 s timeout are covered, cheaper,
        # by the soak's own memory bombs and timeouts.
        if c["expect"].get("error_type") in ("memory_limit", "timeout"):
            continue
        out.append(c)
    return out


def load_hostile_cases():
    out = []
    for name in HOSTILE_CASES:
        path = os.path.join(HOSTILE_DIR, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            source = f.read()
        fields = {}
        for line in source.splitlines():
            if not line.startswith("#"):
                break
            m = re.match(r"#\s*(expect|limits|input)\s*:\s*(.*)$", line)
            if m:
                fields[m.group(1)] = json.loads(m.group(2))
        if "input" in fields or "expect" not in fields:
            continue
        body = {"script": source}
        if fields.get("limits"):
            body["limits"] = fields["limits"]
        out.append((name, body, fields["expect"]))
    return out


def seed_expect(e):
    exp = {"status": e["status"]}
    for key in ("error_type", "error", "stdout", "result", "result_approx"):
        if key in e:
            exp[key] = e[key]
    if "error_prefix" in e:
        exp["error_prefix"] = e["error_prefix"]
    if "error_contains" in e:
        exp["error_contains"] = e["error_contains"]
    if "result_keys" in e:
        exp["result_keys"] = e["result_keys"]
    return exp


def hostile_expect(e):
    exp = {"status": e["status"]}
    for key in ("result", "error_type", "error", "error_contains", "stdout_truncated", "stderr_truncated"):
        if key in e:
            exp[key] = e[key]
    if "error_one_of" in e:
        exp["error_one_of"] = e["error_one_of"]
    return exp


class Mix:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seed_cases = load_seed_cases()
        self.hostile = load_hostile_cases()
        # (weight, generator)
        self.kinds = [
            (38, self.seed), (20, self.echo), (6, self.runtime_error), (2, self.syntax_error),
            (2, self.no_main), (2, self.not_json), (3, self.invalid_request), (3, self.crash),
            (1, self.exit_early), (1.2, self.timeout_sleep), (0.4, self.timeout_spin),
            (1.5, self.memory_bomb), (1, self.big_output), (5, self.hostile_case), (1, self.health),
        ]
        self.total = sum(w for w, _ in self.kinds)

    def next(self, i):
        x = self.rng.random() * self.total
        for w, gen in self.kinds:
            x -= w
            if x < 0:
                return gen(i)
        return self.kinds[0][1](i)

    def nonce(self, i):
        return "%s-%d-%s" % (MARK, i, uuid.UUID(int=self.rng.getrandbits(128)).hex[:12])

    def seed(self, i):
        c = self.rng.choice(self.seed_cases)
        return Case("seed:" + c["name"], body=c["request"], expect=seed_expect(c["expect"]))

    def echo(self, i):
        n = self.nonce(i)
        value = {"id": n, "k": self.rng.randrange(10 ** 9), "xs": [self.rng.random() for _ in range(3)]}
        script = ("import numpy as np\n"
                  "def main(x):\n"
                  "    print(x['id'])\n"
                  "    return {'id': x['id'], 'k2': x['k'] * 2, 'n': len(x['xs']), 'sum': int(np.sum([x['k'], 1]))}\n")
        rid = "soak-%d" % i
        return Case("echo", body={"script": script, "input": value},
                    expect={"status": 200, "stdout": n + "\n",
                            "result": {"id": n, "k2": value["k"] * 2, "n": 3, "sum": value["k"] + 1},
                            "request_id": rid},
                    headers={"X-Request-Id": rid})

    def runtime_error(self, i):
        n = self.nonce(i)
        script = "def main():\n    print('before %s')\n    raise ValueError('%s')\n" % (n, n)
        return Case("runtime_error", body={"script": script},
                    expect={"status": 422, "error_type": "runtime_error",
                            "error": "Script execution error: ValueError: %s" % n,
                            "stdout": "before %s\n" % n, "traceback_contains": "line 3, in main"})

    def syntax_error(self, i):
        return Case("syntax_error", body={"script": "# %s\ndef main(:\n    return 1\n" % self.nonce(i)},
                    expect={"status": 422, "error_type": "syntax_error",
                            "error_prefix": "Syntax error in script:", "error_contains": "(line 2)"})

    def no_main(self, i):
        return Case("no_main", body={"script": "# %s\ndef helper():\n    return 1\n" % self.nonce(i)},
                    expect={"status": 422, "error_type": "no_main", "error": "ERROR: No main() function found"})

    def not_json(self, i):
        return Case("not_json", body={"script": "# %s\ndef main():\n    return {1, 2}\n" % self.nonce(i)},
                    expect={"status": 422, "error_type": "not_json_serializable",
                            "error": "ERROR: main() function must return JSON serializable data "
                                     "(TypeError: Object of type set is not JSON serializable)"})

    def invalid_request(self, i):
        which = self.rng.randrange(4)
        script = "def main():\n    return 1  # %s\n" % self.nonce(i)
        if which == 0:
            return Case("invalid:unknown_field", body={"script": script, "code": "x"},
                        expect={"status": 400, "error_type": "invalid_request",
                                "error": "Unknown field 'code': allowed fields are 'script', 'input' and 'limits'"})
        if which == 1:
            return Case("invalid:not_json", body=b'{"script": "def main():', expect={
                "status": 400, "error_type": "invalid_request", "error": "Request body must be a JSON object"})
        if which == 2:
            return Case("invalid:timeout_too_big", body={"script": script, "limits": {"timeout_s": 1000}},
                        expect={"status": 400, "error_type": "invalid_request", "error_contains": "timeout_s"})
        return Case("invalid:no_script", body={"input": 1}, expect={
            "status": 400, "error_type": "invalid_request", "error": "Request must contain 'script' field"})

    def crash(self, i):
        script = "import ctypes\ndef main():\n    print('%s')\n    ctypes.string_at(0)\n" % self.nonce(i)
        return Case("crash:segv", body={"script": script},
                    expect={"status": 422, "error_type": "crashed",
                            "error": "Script crashed: killed by signal SIGSEGV"})

    def exit_early(self, i):
        script = "import os\ndef main():\n    # %s\n    os._exit(3)\n" % self.nonce(i)
        return Case("crash:exit", body={"script": script},
                    expect={"status": 422, "error_type": "crashed",
                            "error": "Script crashed: exited with status 3 before returning"})

    def timeout_sleep(self, i):
        script = "import time\ndef main():\n    # %s\n    time.sleep(30)\n" % self.nonce(i)
        return Case("timeout:sleep", body={"script": script, "limits": {"timeout_s": 1}},
                    expect={"status": 422, "error_type": "timeout",
                            "error": "Script execution timeout (1 seconds)", "max_seconds": 1 + 20})

    def timeout_spin(self, i):
        script = "def main():\n    # %s\n    while True:\n        pass\n" % self.nonce(i)
        return Case("timeout:spin", body={"script": script, "limits": {"timeout_s": 1}},
                    expect={"status": 422, "error_type": "timeout",
                            "error": "Script execution timeout (1 seconds)", "max_seconds": 1 + 20})

    def memory_bomb(self, i):
        if self.rng.random() < 0.5:
            script = "def main():\n    # %s\n    x = bytearray(300 * 1024 * 1024)\n    return len(x)\n" % self.nonce(i)
        else:
            script = "def main():\n    # %s\n    return len(list(range(10 ** 8)))\n" % self.nonce(i)
        return Case("memory_bomb", body={"script": script, "limits": {"memory_mb": 64}},
                    expect={"status": 422, "error_type": "memory_limit",
                            "error": "Script execution error: Memory limit exceeded"})

    def big_output(self, i):
        n = self.nonce(i)
        script = ("import sys\ndef main():\n    sys.stdout.write('%s' + 'x' * (2 * 1024 * 1024))\n"
                  "    return 'done'\n" % n)
        return Case("big_output", body={"script": script},
                    expect={"status": 200, "result": "done", "stdout_truncated": True,
                            "stdout_startswith": n, "stdout_len": 1024 * 1024})

    def hostile_case(self, i):
        name, body, expect = self.rng.choice(self.hostile)
        return Case("hostile:" + name, body=body, expect=hostile_expect(expect))

    def health(self, i):
        return Case("health", method="GET", path="/health", expect={"status": 200, "health": True})


def check(case, status, hdrs, data, took):
    """None when the response is right for the case, else why not."""
    e = case.expect
    if isinstance(data, dict) and "__unparsed_body__" in data:
        return "body is not JSON: %r" % data.get("__unparsed_body__", "")[:300]
    if status != e["status"]:
        return "HTTP %d, expected %d" % (status, e["status"])
    ctype = (hdrs.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return "Content-Type %r" % ctype
    if e.get("health"):
        return None if data.get("status") == "healthy" else "health %r" % data.get("status")
    if not hdrs.get("X-Request-Id"):
        return "no X-Request-Id"
    if "request_id" in e and hdrs.get("X-Request-Id") != e["request_id"]:
        return "X-Request-Id %r, sent %r" % (hdrs.get("X-Request-Id"), e["request_id"])
    if "max_seconds" in e and took > e["max_seconds"]:
        return "took %.1f s" % took
    if status == 200:
        if "error" in data or "error_type" in data:
            return "success with an error"
        if "result" in e:
            diff = harness.json_equal(e["result"], data.get("result"), e.get("result_approx"))
            if diff:
                return "result differs: %s" % diff
        if "result_keys" in e:
            if not isinstance(data.get("result"), dict) or sorted(data["result"]) != sorted(e["result_keys"]):
                return "result keys %r" % (data.get("result"),)
    else:
        if data.get("error_type") != e.get("error_type"):
            return "error_type %r, expected %r" % (data.get("error_type"), e.get("error_type"))
        if "result" in data:
            return "failure with a result"
        err = data.get("error")
        if not isinstance(err, str) or not err:
            return "no error text"
        if "error" in e and err != e["error"]:
            return "error %r, expected %r" % (err, e["error"])
        if "error_prefix" in e and not err.startswith(e["error_prefix"]):
            return "error %r does not start with %r" % (err, e["error_prefix"])
        if "error_contains" in e and e["error_contains"] not in err:
            return "error %r does not contain %r" % (err, e["error_contains"])
        if "error_one_of" in e and err not in e["error_one_of"]:
            return "error %r not one of %r" % (err, e["error_one_of"])
        if "traceback_contains" in e and e["traceback_contains"] not in (data.get("traceback") or ""):
            return "traceback %r lacks %r" % (data.get("traceback"), e["traceback_contains"])
    if "stdout" in e and data.get("stdout") != e["stdout"]:
        return "stdout %r, expected %r" % ((data.get("stdout") or "")[:200], e["stdout"])
    for key in ("stdout_truncated", "stderr_truncated"):
        if key in e and bool(data.get(key, False)) != e[key]:
            return "%s is %r, expected %r" % (key, data.get(key, False), e[key])
    if "stdout_startswith" in e and not (data.get("stdout") or "").startswith(e["stdout_startswith"]):
        return "stdout does not start with %r" % e["stdout_startswith"]
    if "stdout_len" in e and len((data.get("stdout") or "").encode("utf-8")) != e["stdout_len"]:
        return "stdout is %d bytes, expected %d" % (len((data.get("stdout") or "").encode()), e["stdout_len"])
    return None


# -- the run -------------------------------------------------------------------

class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = {}        # kind -> [count, latencies]
        self.outcomes = {}       # (outcome label, status) for /execute
        self.executes = 0
        self.failures = []
        self.failure_count = 0
        self.statuses = {}

    def add(self, case, status, data, took, problem):
        with self.lock:
            entry = self.by_kind.setdefault(case.kind.split(":")[0], [0, []])
            entry[0] += 1
            entry[1].append(took)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if case.path == "/execute" and status is not None:
                self.executes += 1
                label = "ok" if status == 200 else (data or {}).get("error_type", "?")
                key = (label, str(status))
                self.outcomes[key] = self.outcomes.get(key, 0) + 1
            if problem:
                self.failure_count += 1
                if len(self.failures) < 25:
                    self.failures.append("%s: %s\n    response: HTTP %s %s" % (
                        case.kind, problem, status, opslib.brief(data, 800)))


def send(port, case):
    hdrs = dict(case.headers)
    data = None
    if case.body is not None:
        data = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(harness.HOST, port, timeout=CLIENT_TIMEOUT)
    try:
        conn.request(case.method, case.path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, resp.headers, harness.parse_json(raw)
    finally:
        conn.close()


def run_batch(port, cases, concurrency, tally, progress_every=0):
    it = iter(enumerate(cases))
    it_lock = threading.Lock()
    done = [0]
    started = time.monotonic()

    def worker():
        while True:
            with it_lock:
                try:
                    i, case = next(it)
                except StopIteration:
                    return
            t0 = time.monotonic()
            try:
                status, hdrs, data = send(port, case)
                took = time.monotonic() - t0
                problem = check(case, status, hdrs, data, took)
            except Exception as exc:
                status, data, took = None, None, time.monotonic() - t0
                problem = "client error after %.1f s: %r" % (took, exc)
            tally.add(case, status, data, took, problem)
            with it_lock:
                done[0] += 1
                if progress_every and done[0] % progress_every == 0:
                    el = time.monotonic() - started
                    sys.stderr.write("  soak: %d/%d requests, %.0f s, %.1f req/s, %d problems\n"
                                     % (done[0], len(cases), el, done[0] / el, tally.failure_count))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


class Soak(unittest.TestCase):
    maxDiff = 6000

    def test_soak(self):
        mix = Mix(SEED)
        self.assertGreater(len(mix.seed_cases), 20, "seed cases not found in %s" % SEED_FILE)
        self.assertGreater(len(mix.hostile), 10, "hostile cases not found in %s" % HOSTILE_DIR)
        warmup_n = min(max(300, REQUESTS // 10), REQUESTS)
        cases = [mix.next(i) for i in range(REQUESTS)]
        warmup, main = cases[:warmup_n], cases[warmup_n:]
        # The warm-up also sends a burst of the largest responses (1 MiB of
        # output each) on all connections at once, so that the connection
        # threads and the allocator's arenas exist before the RSS baseline.
        warmup += [mix.big_output(REQUESTS + i) for i in range(8 * CONCURRENCY)]

        mounts_before = opslib.read_mountinfo()
        srv = harness.Server(["--queue", str(QUEUE)]).start()
        self.addCleanup(srv.stop)
        try:
            self._soak(srv, warmup, main, mounts_before)
        except BaseException:
            sys.stderr.write("\n===== warmjail stderr (tail) =====\n%s\n===== end =====\n"
                             % srv.stderr_tail(6000))
            raise

    def _soak(self, srv, warmup, main, mounts_before):
        pid = srv.proc.pid
        status, _, health = srv.get("/health")
        self.assertEqual(status, 200)
        spares = int(health.get("spares", 0))
        workers = int(health.get("limits", {}).get("workers", 0))
        bases = opslib.cgroup_bases(health) if opslib.uses_cgroups(health) else []
        tally = Tally()

        sys.stderr.write("\nsoak: %d requests (%d warm-up) at concurrency %d; server --workers %d --queue %d, "
                         "%d spares, seed %d\n" % (len(warmup) + len(main), len(warmup), CONCURRENCY,
                                                   workers, QUEUE, spares, SEED))
        t_warm = run_batch(srv.port, warmup, CONCURRENCY, tally)
        self.assertTrue(srv.alive(), "server died during the warm-up")
        # Baselines once the warm-up's connections and sandboxes are gone.
        opslib.wait_until(lambda: opslib.stray_processes(pid, spares), 10)
        time.sleep(1.0)
        fds_base = opslib.fd_count(pid)
        fd_kinds_base = opslib.fd_summary(pid)
        threads_base = opslib.thread_count(pid)

        # The memory baseline is the middle of the run, not its start: by then
        # every connection thread exists, so what grows from
        # there to the end grows with the requests served.
        half = len(main) // 2
        progress = max(500, len(main) // 10)
        t_main = run_batch(srv.port, main[:half], CONCURRENCY, tally, progress_every=progress)
        rss_mid = opslib.rss_bytes(pid)
        threads_mid = opslib.thread_count(pid)
        t_main += run_batch(srv.port, main[half:], CONCURRENCY, tally, progress_every=progress)
        total = len(warmup) + len(main)
        elapsed = t_warm + t_main

        lines = ["soak: %d requests in %.1f s (%.1f req/s); statuses %s" % (
            total, elapsed, total / elapsed, dict(sorted(tally.statuses.items(), key=str)))]
        for kind, (count, lat) in sorted(tally.by_kind.items()):
            lines.append("  %-15s %6d  p50 %7.3f s  p99 %7.3f s  max %7.3f s" % (
                kind, count, percentile(lat, 50), percentile(lat, 99), max(lat)))
        sys.stderr.write("\n".join(lines) + "\n")

        self.assertTrue(srv.alive(), "server died during the soak")
        self.assertEqual(tally.failures, [], "%d of %d responses wrong; first ones:\n%s" % (
            tally.failure_count, total, "\n".join(tally.failures)))
        fivexx = {s: n for s, n in tally.statuses.items() if s is None or s >= 500}
        self.assertEqual(fivexx, {}, "5xx or no answer")
        self.assertNotIn(429, tally.statuses, "429 although the queue (%d) exceeds the concurrency (%d)"
                         % (QUEUE, CONCURRENCY))

        # -- afterwards: nothing leaked --------------------------------------
        status, _, health = srv.get("/health")
        self.assertEqual((status, health.get("status")), (200, "healthy"), opslib.brief(health))
        problem = opslib.wait_until(
            lambda: None if (srv.get("/health")[2].get("sandboxes_running"), srv.get("/health")[2].get("queue_depth")) == (0, 0)
            else "sandboxes_running/queue_depth not back to 0: %s" % opslib.brief(srv.get("/health")[2]), 10)
        self.assertIsNone(problem, problem)

        problem = opslib.wait_until(lambda: opslib.stray_processes(pid, spares), 15)
        self.assertIsNone(problem, problem)
        if bases:
            problem = opslib.wait_until(lambda: opslib.excess_cgroups(bases, spares), 15)
            self.assertIsNone(problem, problem)
        self.assertEqual(opslib.new_mounts(mounts_before), [], "mounts that appeared on the host")

        problem = opslib.wait_until(lambda: "server has %d fds, %d after the warm-up (%s, then %s)" % (
            opslib.fd_count(pid), fds_base, fd_kinds_base, opslib.fd_summary(pid))
            if opslib.fd_count(pid) > fds_base + FD_SLACK else None, 20)
        self.assertIsNone(problem, problem)

        rss_end = opslib.rss_bytes(pid)
        growth = (rss_end - rss_mid) / float(rss_mid)
        threads_end = opslib.thread_count(pid)
        sys.stderr.write("soak: server fds %d -> %d, threads %d -> %d -> %d, RSS mid-run %.1f MB -> end %.1f MB "
                         "(%+.1f%%)\n" % (fds_base, opslib.fd_count(pid), threads_base, threads_mid, threads_end,
                                           rss_mid / 1e6, rss_end / 1e6, 100 * growth))
        self.assertLess(growth, RSS_GROWTH_MAX, "server RSS grew %.1f%% (%d -> %d bytes) in the second half of the run"
                        % (100 * growth, rss_mid, rss_end))
        self.assertLessEqual(threads_end, threads_base + 2, "server threads grew")

        # -- the log and the metrics agree with what the clients saw ----------
        log = opslib.server_log(srv)
        self.assertNotIn(MARK, log, "a script or its output reached the server's log")
        reqs = opslib.request_log_lines(log)
        self.assertEqual(len(reqs), tally.executes, "request log lines vs /execute requests")
        logged = {}
        for r in reqs:
            key = (r.get("error_type") or "ok", str(r.get("status")))
            logged[key] = logged.get(key, 0) + 1
        self.assertEqual(logged, tally.outcomes, "logged outcomes vs outcomes seen by the clients")
        for field in ("request_id", "status", "duration_ms", "script_bytes", "time"):
            missing = [r for r in reqs if field not in r]
            self.assertEqual(missing[:3], [], "request log lines without %r" % field)

        metrics = opslib.get_metrics(srv)
        counted = {}
        for (name, labels), value in metrics.items():
            if name == "warmjail_requests_total" and value:
                d = dict(labels)
                counted[(d.get("outcome"), d.get("status"))] = int(value)
        self.assertEqual(counted, tally.outcomes, "warmjail_requests_total vs outcomes seen by the clients")
        self.assertEqual(int(opslib.metric(metrics, "warmjail_request_duration_seconds_count") or 0),
                         tally.executes)
        self.assertEqual(opslib.metric(metrics, "warmjail_queue_depth"), 0)
        self.assertEqual(opslib.metric(metrics, "warmjail_sandboxes_running"), 0)
        self.assertEqual(opslib.metric(metrics, "warmjail_zygote_restarts_total"), 0)


if __name__ == "__main__":
    unittest.main()
