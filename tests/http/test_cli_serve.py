"""`warmjail serve` and the port it listens on: $PORT is the default that
platforms and the image set, --port and WARMJAIL_PORT override it, and a PORT
that is not a port number is a usage error (exit 2), never ignored."""

import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def serve(args, env_extra, seconds=60.0, cwd=None, prefix=()):
    """Starts `warmjail serve ARGS` with the environment plus env_extra (in
    directory cwd), under the command `prefix` if any; returns the process at
    once."""
    env = {k: v for k, v in os.environ.items() if k != "PORT" and not k.startswith("WARMJAIL_PORT")}
    env.update(env_extra)
    return subprocess.Popen(list(prefix) + [harness.BIN, "serve", "--host", harness.HOST] + args + harness.test_args(),
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True, cwd=cwd)


def wait_healthy(proc, port, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if harness.request(port, "GET", "/healthz", timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def time_wait_local_ports():
    """The local ports of /proc/net/tcp's sockets in state TIME_WAIT (06)."""
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f][1:]
    return {int(row[1].rsplit(":", 1)[1], 16) for row in rows if row[3] == "06"}


def refused(port):
    try:
        harness.request(port, "GET", "/healthz", timeout=2)
        return False
    except OSError:
        return True


class ServePort(unittest.TestCase):
    def start(self, args, env):
        proc = serve(args, env)
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stderr.close()))
        return proc

    def test_port_flag_overrides_port_env(self):
        env_port, flag_port = harness.free_port(), harness.free_port()
        proc = self.start(["--port", str(flag_port)], {"PORT": str(env_port)})
        self.assertTrue(wait_healthy(proc, flag_port), "not serving on --port %d" % flag_port)
        self.assertTrue(refused(env_port), "also serving on $PORT %d" % env_port)

    def test_warmjail_port_overrides_port_env(self):
        env_port, wj_port = harness.free_port(), harness.free_port()
        proc = self.start([], {"PORT": str(env_port), "WARMJAIL_PORT": str(wj_port)})
        self.assertTrue(wait_healthy(proc, wj_port), "not serving on WARMJAIL_PORT %d" % wj_port)

    def test_port_env_is_the_default(self):
        port = harness.free_port()
        proc = self.start([], {"PORT": str(port)})
        self.assertTrue(wait_healthy(proc, port), "not serving on $PORT %d" % port)

    def test_port_in_use_is_refused(self):
        """A second server on a port another one listens on fails to start
        (exit 1, the port named) and the first keeps every request. cpp-httplib
        sets SO_REUSEPORT by default, which let the second bind beside the
        first and take a share of its connections without a word."""
        port = harness.free_port()
        first = self.start(["--port", str(port)], {})
        self.assertTrue(wait_healthy(first, port), "the first server is not serving on %d" % port)
        second = self.start(["--port", str(port)], {})
        _, err = second.communicate(timeout=120)
        self.assertEqual(second.returncode, 1, err)
        self.assertIn(b"cannot listen on %s:%d: Address already in use" % (harness.HOST.encode(), port), err)
        self.assertIsNone(first.poll())
        # Every new connection reaches the first server: it is the only one.
        for _ in range(20):
            status, _, _, raw = harness.request(port, "GET", "/healthz", timeout=5)
            self.assertEqual(status, 200, raw)

    def test_port_reused_at_once_after_a_stop(self):
        """A server stopped while a client's keep-alive connection was open
        closes it first, which leaves the port in TIME_WAIT; its successor
        still binds at once (SO_REUSEADDR)."""
        port = harness.free_port()
        first = self.start(["--port", str(port)], {})
        self.assertTrue(wait_healthy(first, port), "the first server is not serving on %d" % port)
        conn = http.client.HTTPConnection(harness.HOST, port, timeout=30)
        self.addCleanup(conn.close)
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        self.assertEqual(response.status, 200)
        first.terminate()
        self.assertEqual(first.wait(timeout=60), 0)
        conn.close()  # the server's half, closed first, now waits in TIME_WAIT
        deadline = time.monotonic() + 5
        while port not in time_wait_local_ports() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn(port, time_wait_local_ports(), "the stopped server left no TIME_WAIT")
        second = self.start(["--port", str(port)], {})
        self.assertTrue(wait_healthy(second, port), "the successor did not bind port %d" % port)

    def test_sigterm_during_start_up_stops_it(self):
        """SIGTERM while the zygote is still warming up: the server exits 0
        without ever serving. The signal used to be taken before the socket
        existed, Stop() closed nothing, and the server went on serving,
        deaf to every later SIGTERM and SIGINT."""
        for delay in (0.05, 0.2, 0.5):
            with self.subTest(delay=delay):
                port = harness.free_port()
                proc = self.start(["--port", str(port)], {})
                time.sleep(delay)
                proc.send_signal(signal.SIGTERM)
                try:
                    rc = proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    rc = "still running 60 s after SIGTERM"
                self.assertEqual(rc, 0)

    def test_bad_port_env_is_a_usage_error(self):
        for bad in ("http", "80x", "70000", ""):
            with self.subTest(PORT=bad):
                proc = self.start([], {"PORT": bad})
                _, err = proc.communicate(timeout=30)
                self.assertEqual(proc.returncode, 2, err)
                self.assertIn(b"PORT must be a port number", err)


    def usage_error(self, args):
        """Starts the server with ARGS; returns its stderr once it exited 2
        (a usage error), failing when it starts serving instead."""
        proc = self.start(["--port", str(harness.free_port())] + args, {})
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.fail("%s was accepted: the server started" % args)
        self.assertEqual(proc.returncode, 2, err)
        return err.decode()

    def test_seconds_flags_are_bounded(self):
        """--timeout and --cpu-time above a day (86400 s), infinite or NaN
        are usage errors: 3000000 overflowed the sandbox's poll timeout (the
        server busy-polled), 1e10 timed every request out at once, inf
        started a server whose every request failed."""
        for flag in ("--timeout", "--cpu-time"):
            for value in ("86401", "3000000", "1e10", "inf"):
                with self.subTest(flag=flag, value=value):
                    self.assertEqual(self.usage_error([flag, value]),
                                     "warmjail: %s must be at most 86400 seconds\n" % flag)
            with self.subTest(flag=flag, value="nan"):
                self.assertEqual(self.usage_error([flag, "nan"]),
                                 "warmjail: %s must be greater than 0\n" % flag)

    def test_a_day_is_accepted(self):
        port = harness.free_port()
        proc = self.start(["--port", str(port), "--workers", "1", "--timeout", "86400", "--cpu-time", "86400"], {})
        self.assertTrue(wait_healthy(proc, port), "--timeout 86400 was refused")
        status, _, data, raw = harness.request(port, "POST", "/execute", {"script": "def main():\n    return 7\n"})
        self.assertEqual((status, data.get("result")), (200, 7), raw)


class StaleCgroupBase(unittest.TestCase):
    """The server's cgroup base is named by its pid; one left by a dead
    process that had the same pid (killed before it removed it) is emptied
    and made anew, never adopted. An unprivileged server adopted a root-owned
    one left that way, and then could not create a single sandbox in it
    (503 for every request)."""

    def base_of(self, output):
        m = re.search(r"cgroup v1 at (/sys/fs/cgroup/\S+/warmjail-)\d+", output)
        if not m:
            self.skipTest("no cgroup v1 memory hierarchy here: %s" % output[-300:])
        return m.group(1)

    def check_with_stale_base(self, prefix, run_as):
        # `exec` keeps the shell's pid: the stale base is the one warmjail's
        # own pid names.
        script = 'mkdir -p "%s$$/sandbox-1-1" && exec %s %s check --allow-degraded' % (prefix, run_as, harness.BIN)
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120)

    def test_root_server_remakes_a_stale_base(self):
        prefix = self.base_of(subprocess.run([harness.BIN, "check"], capture_output=True, text=True,
                                             timeout=120).stdout)
        p = self.check_with_stale_base(prefix, "")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"memory_accounting +active +cgroup v1 at ")

    def test_unprivileged_server_does_not_adopt_a_stale_base(self):
        prefix = self.base_of(subprocess.run([harness.BIN, "check"], capture_output=True, text=True,
                                             timeout=120).stdout)
        p = self.check_with_stale_base(prefix, "setpriv --reuid 65534 --regid 65534 --clear-groups")
        for stale in set(re.findall(re.escape(prefix) + r"\d+", p.stdout)):  # root removes what it made
            for d in (stale + "/sandbox-1-1", stale):
                if os.path.isdir(d):
                    os.rmdir(d)
        self.assertIn("RLIMIT_AS", p.stdout, p.stdout + p.stderr)
        self.assertIn("left by a process that had this pid", p.stdout)


class ModulesInTheWorkingDirectory(unittest.TestCase):
    """The directory the server is started in is not on the interpreter's
    sys.path: a numpy.py, pandas.py or json.py there is never imported into
    the zygote (which runs as the server's user, outside every sandbox) or
    a sandbox. pybind11 put "" first on sys.path by default; the zygote then
    imported ./pandas.py and did not start."""

    def test_server_starts_and_imports_nothing_from_its_directory(self):
        with tempfile.TemporaryDirectory() as cwd:
            marker = os.path.join(cwd, "imported")
            for name in ("numpy", "pandas", "json", "runpy"):
                with open(os.path.join(cwd, name + ".py"), "w") as f:
                    f.write("open(%r, 'a').write(%r)\nraise SystemExit('hijacked by ./%s.py')\n"
                            % (marker, name + "\n", name))
            port = harness.free_port()
            proc = serve(["--port", str(port)], {}, cwd=cwd)
            self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stderr.close()))
            self.assertTrue(wait_healthy(proc, port), "did not start in a directory holding numpy.py: %s"
                            % (proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "still starting"))
            status, _, data, raw = harness.request(port, "POST", "/execute", {
                "script": "import sys, os, json, pandas\n"
                          "def main():\n"
                          "    return {'path': sys.path, 'pandas': hasattr(pandas, 'DataFrame')}\n"})
            self.assertEqual(status, 200, raw)
            self.assertNotIn("", data["result"]["path"])
            self.assertNotIn(cwd, data["result"]["path"])
            self.assertNotIn("/tmp", data["result"]["path"])  # the sandbox's working directory
            self.assertTrue(data["result"]["pandas"])
            self.assertFalse(os.path.exists(marker), "a module of the server's directory was imported")


class ApiTokenFromTheEnvironment(unittest.TestCase):
    """WARMJAIL_API_TOKEN (a Kubernetes Secret, `$(cat file)`, `echo`) follows
    the rule of --api-token-file: trailing whitespace and line ends are not
    part of the token; a token that is nothing else, or that holds a control
    character, is a usage error rather than a token no client can send."""

    def start(self, token):
        port = harness.free_port()
        proc = serve(["--port", str(port)], {"WARMJAIL_API_TOKEN": token})
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stderr.close()))
        return proc, port

    def test_trailing_newline_is_not_part_of_the_token(self):
        proc, port = self.start("s3cret\r\n")
        self.assertTrue(wait_healthy(proc, port), "did not start: %s"
                        % (proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "still starting"))
        body = {"script": "def main():\n    return 7\n"}
        status, _, data, raw = harness.request(port, "POST", "/execute", body,
                                               {"Authorization": "Bearer s3cret"})
        self.assertEqual(status, 200, raw)
        self.assertEqual(data["result"], 7)
        status, _, _, raw = harness.request(port, "POST", "/execute", body, {"Authorization": "Bearer s3cre"})
        self.assertEqual(status, 401, raw)

    def test_unusable_tokens_are_usage_errors(self):
        for token, message in (("\n", b"warmjail: --api-token (WARMJAIL_API_TOKEN) holds no token\n"),
                               ("ab\x01cd", b"warmjail: --api-token (WARMJAIL_API_TOKEN) holds a control "
                                             b"character inside the token\n")):
            with self.subTest(token=token):
                proc, _ = self.start(token)
                _, err = proc.communicate(timeout=30)
                self.assertEqual(proc.returncode, 2, err)
                self.assertEqual(err, message)


class WorkersDefault(unittest.TestCase):
    """--workers defaults to the CPUs the process may use: its affinity mask
    (and its cgroup's CPU quota; tests/unit/test_cpus.cc), not every CPU
    online."""

    @unittest.skipIf(harness.CONTAINER, "taskset would bind the docker client, not the container")
    def test_one_allowed_cpu_gives_one_worker(self):
        port = harness.free_port()
        proc = serve(["--port", str(port)], {},
                     prefix=["taskset", "-c", "0"])
        self.addCleanup(lambda: (proc.kill(), proc.wait(), proc.stderr.close()))
        self.assertTrue(wait_healthy(proc, port), "did not start under taskset -c 0: %s"
                        % (proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "still starting"))
        status, _, data, raw = harness.request(port, "GET", "/health")
        self.assertEqual(status, 200, raw)
        self.assertEqual(data["limits"]["workers"], 1)
        self.assertEqual(data["spares"], 1)


if __name__ == "__main__":
    unittest.main()
