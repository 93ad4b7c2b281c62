"""Concurrent requests: correctness under load, health while busy, 429."""

import os
import sys
import textwrap
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def src(text):
    return textwrap.dedent(text).lstrip("\n")


SLEEPY_ECHO = src("""
    import time
    import numpy as np

    def main(data):
        time.sleep(data["sleep"])
        print("request", data["i"])
        return {"i": data["i"], "tag": data["tag"], "sum": int(np.arange(data["i"] + 1).sum())}
    """)


class TwoWorkers(harness.ServerTestCase):

    server_args = ("--workers", "2")

    def call(self, i, sleep=0.3):
        payload = {"i": i, "tag": "t%03d" % i, "sleep": sleep}
        return self.server.post_execute({"script": SLEEPY_ECHO, "input": payload},
                                        {"X-Request-Id": "conc-%d" % i})

    def test_sixteen_concurrent_requests(self):
        t0 = time.monotonic()
        results = harness.run_parallel(self.call, list(range(16)))
        elapsed = time.monotonic() - t0
        for i, r in enumerate(results):
            with self.subTest(i=i):
                self.assertNotIsInstance(r, BaseException, repr(r))
                status, hdrs, data = r
                self.check_shape(status, hdrs, data)
                self.assertOk(r, {"i": i, "tag": "t%03d" % i, "sum": i * (i + 1) // 2},
                              stdout="request %d\n" % i)
                self.assertEqual(hdrs.get("X-Request-Id"), "conc-%d" % i)
        # 16 x 0.3 s on 2 workers needs at least 2.4 s; they must not run
        # more than 2 at a time, nor take much longer than that
        self.assertGreaterEqual(elapsed, 2.3, "more than 2 sandboxes ran at once")
        self.assertLess(elapsed, 30.0)

    def test_health_fast_while_workers_busy(self):
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(self.call(i, 3.0)))
                   for i in range(2)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.8)  # both workers are now sleeping
            for path in ("/healthz", "/health", "/healthz", "/health"):
                t0 = time.monotonic()
                status, hdrs, data = self.server.get(path, timeout=5)
                elapsed = time.monotonic() - t0
                self.assertLess(elapsed, 1.0, "%s took %.2f s while busy" % (path, elapsed))
                self.assertNotIsInstance(data, harness._Unparsed, data)
                if path == "/healthz":
                    self.assertEqual((status, data.get("status")), (200, "ok"))
                else:
                    self.assertIn((status, data.get("status")),
                                  ((200, "healthy"), (503, "unhealthy")), data)
            t0 = time.monotonic()
            status, _, _, raw = self.server.request("GET", "/metrics", timeout=5)
            self.assertEqual(status, 200)
            self.assertLess(time.monotonic() - t0, 1.0)
        finally:
            for t in threads:
                t.join(60)
        self.assertEqual(sorted(r[0] for r in results), [200, 200],
                         [r[2] for r in results])

    def test_mixed_outcomes_do_not_interfere(self):
        cases = [
            ({"script": "def main():\n    while True:\n        pass\n",
              "limits": {"timeout_s": 1}}, 422, "timeout"),
            ({"script": "import ctypes\ndef main():\n    ctypes.string_at(0)\n"}, 422, "crashed"),
            ({"script": "def main():\n    raise ValueError('v')\n"}, 422, "runtime_error"),
            ({"script": "def main(x):\n    return x\n", "input": "ok-1"}, 200, None),
            ({"script": "def main(x):\n    return x\n", "input": "ok-2"}, 200, None),
            ({"script": "def main(:\n"}, 422, "syntax_error"),
            ({"script": "def main(x):\n    return x\n", "input": "ok-3"}, 200, None),
            ({"script": 5}, 400, "invalid_request"),
        ]
        results = harness.run_parallel(lambda c: self.server.post_execute(c[0]), cases)
        for (body, status, etype), r in zip(cases, results):
            with self.subTest(body=body):
                self.assertNotIsInstance(r, BaseException, repr(r))
                self.check_shape(*r)
                if status == 200:
                    self.assertOk(r, body["input"])
                else:
                    self.assertFailure(r, status, etype)


class SmallQueue(harness.ServerTestCase):

    server_args = ("--workers", "2", "--queue", "2")

    def test_429_when_queue_full(self):
        source = "import time\n\ndef main(i):\n    time.sleep(2)\n    return i\n"

        def one(i):
            return self.server.post_execute({"script": source, "input": i})

        results = harness.run_parallel(one, list(range(6)), stagger=0.1)
        for r in results:
            self.assertNotIsInstance(r, BaseException, repr(r))
            self.check_shape(*r)
        statuses = [r[0] for r in results]
        self.assertEqual(statuses, [200, 200, 200, 200, 429, 429],
                         [(r[0], r[2]) for r in results])
        for i, (status, hdrs, data) in enumerate(results):
            if status == 200:
                self.assertEqual(data["result"], i)
            else:
                self.assertFailure((status, hdrs, data), 429, "overloaded", stdout="")
                self.assertRegex(hdrs.get("Retry-After") or "", r"^\s*\d+\s*$")
        # the queue drains and the server takes work again
        self.assertOk(self.script("def main():\n    return 'after'\n"), "after")


class NoSpares(harness.ServerTestCase):
    """--spares 0 keeps no sandbox waiting (it used to mean the default, as
    many as --workers): /health says 0, no idle sandbox is left under the
    zygote, and every request, concurrent ones too, still runs in a sandbox
    forked when it arrives."""

    server_args = ("--workers", "2", "--spares", "0")

    def test_spares_0_keeps_none_and_serves(self):
        status, _, data = self.server.get("/health")
        self.assertEqual((status, data.get("spares")), (200, 0), data)
        results = harness.run_parallel(
            lambda i: self.server.post_execute({"script": SLEEPY_ECHO, "input": {"i": i, "tag": "s", "sleep": 0.2}}),
            list(range(4)))
        for i, r in enumerate(results):
            with self.subTest(i=i):
                self.assertNotIsInstance(r, BaseException, repr(r))
                self.assertOk(r, {"i": i, "tag": "s", "sum": i * (i + 1) // 2})
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops"))
        import opslib
        problem = opslib.wait_until(lambda: opslib.stray_processes(self.server.pid, 0), seconds=8.0)
        self.assertIsNone(problem)
        self.assertOk(self.script("def main():\n    return 'again'\n"), "again")


if __name__ == "__main__":
    unittest.main()
