"""Shared helpers for warmjail's black-box HTTP tests (Python stdlib only).

The binary comes from $WARMJAIL_BIN (default: <repo>/build/warmjail).
Extra arguments for every server (and `warmjail run`) come from
$WARMJAIL_TEST_ARGS, shlex-split and appended.

With $WARMJAIL_CONTAINER=1, $WARMJAIL_BIN is tests/docker/warmjail-in-docker:
the server runs in a container named warmjail-test-<port>, so its PID on the
host (Server.pid) is the container's first process, not the docker client's,
and the container's own mounts on the host are not the server's.
"""

import http.client
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("WARMJAIL_BIN") or os.path.join(REPO, "build", "warmjail")
HOST = "127.0.0.1"
CONTAINER = os.environ.get("WARMJAIL_CONTAINER") == "1"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
STDERR_TAIL = 16000


def test_args():
    """Extra command-line arguments from $WARMJAIL_TEST_ARGS."""
    return shlex.split(os.environ.get("WARMJAIL_TEST_ARGS", ""))


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class _Unparsed(dict):
    """Stand-in for a body that was not valid JSON: a dict holding the raw
    text, so key lookups in assertions fail and show what arrived."""


def _reject_constant(name):
    raise ValueError("non-standard JSON constant %s in response" % name)


def parse_json(raw):
    """Strict JSON parse of a response body (NaN/Infinity are not JSON).
    Returns an _Unparsed dict holding the raw text when parsing fails."""
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        return _Unparsed(__unparsed_body__=raw[:2000].decode("utf-8", "replace"),
                         __parse_error__=str(exc))


def request(port, method, path, body=None, headers=None, timeout=90.0):
    """One HTTP request on a fresh connection.

    body: dict/list/other JSON value (serialized), str (sent as UTF-8), bytes
    (sent verbatim) or None (no body). Returns (status, headers, parsed_json,
    raw_bytes); headers is an http.client.HTTPMessage (case-insensitive get).
    """
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = json.dumps(body).encode("utf-8")
        hdrs.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, resp.headers, parse_json(raw), raw
    finally:
        conn.close()


class Server:
    """Context manager running `warmjail serve` on a free port.

    Waits for GET /healthz == 200 (up to 60 s). On exit: SIGTERM, then
    SIGKILL after 10 s. The server's stderr goes to a temp file;
    stderr_tail() returns its end for diagnostics.
    """

    def __init__(self, args=(), env=None):
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.port = None
        self.proc = None
        self._errfile = None

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        if not os.path.exists(BIN):
            raise RuntimeError("warmjail binary not found at %s "
                               "(set WARMJAIL_BIN)" % BIN)
        self.port = free_port()
        cmd = ([BIN, "serve", "--host", HOST, "--port", str(self.port)]
               + self.args + test_args())
        env = dict(os.environ)
        env.update(self.extra_env)
        self._errfile = tempfile.TemporaryFile(prefix="warmjail-test-stderr-")
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self._errfile, stderr=self._errfile,
                                     env=env, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                msg = ("warmjail exited with status %s before becoming ready\n"
                       "command: %s\n--- server stderr ---\n%s"
                       % (rc, shlex.join(cmd), self.stderr_tail()))
                self._close_errfile()
                raise RuntimeError(msg)
            try:
                status, _, _, _ = request(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    return self
                last = "status %d" % status
            except (OSError, http.client.HTTPException) as exc:
                last = repr(exc)
            time.sleep(0.1)
        tail = self.stderr_tail()
        self.stop()
        raise RuntimeError("warmjail not ready within %.0f s (last /healthz: %s)\n"
                           "command: %s\n--- server stderr ---\n%s"
                           % (READY_TIMEOUT_S, last, shlex.join(cmd), tail))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                sys.stderr.write("warmjail did not stop within %.0f s of SIGTERM; "
                                 "sending SIGKILL\n" % STOP_GRACE_S)
                self.proc.kill()
                self.proc.wait()
            except ProcessLookupError:
                pass
        # The server ran in its own session (pgid == its pid): make sure no
        # child of it (zygote, sandboxes) outlives the test.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if CONTAINER:  # the container is not the client's child: remove it by name
            subprocess.run(["docker", "rm", "-f", container_name(self.port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.proc = None
        self._close_errfile()

    def _close_errfile(self):
        if self._errfile is not None:
            self._errfile.close()
            self._errfile = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- diagnostics ---------------------------------------------------------
    def stderr_tail(self, limit=STDERR_TAIL):
        if self._errfile is None:
            return "(no stderr captured)"
        try:
            self._errfile.flush()
            size = os.fstat(self._errfile.fileno()).st_size
            start = max(0, size - limit)
            data = os.pread(self._errfile.fileno(), size - start, start)
            text = data.decode("utf-8", "replace")
            return ("...\n" if start else "") + text
        except OSError as exc:
            return "(could not read stderr: %r)" % exc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        """The server's PID on the host."""
        if not CONTAINER:
            return self.proc.pid
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container_name(self.port)],
                             capture_output=True, text=True, check=True).stdout
        init = int(out.strip())
        # The image runs the server under an init (tini) as the container's
        # PID 1: the server is that process's child.
        if _comm(init) == "warmjail":
            return init
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _ppid(int(entry)) == init and _comm(int(entry)) == "warmjail":
                return int(entry)
        raise RuntimeError("no warmjail process under the container's init (pid %d, %s)" % (init, _comm(init)))

    # -- requests ------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=90.0):
        return request(self.port, method, path, body, headers, timeout)

    def post_execute(self, body, headers=None, timeout=90.0):
        """POST /execute. Returns (status, headers, parsed json)."""
        status, hdrs, data, _ = request(self.port, "POST", "/execute", body,
                                        headers, timeout)
        return status, hdrs, data

    def get(self, path, headers=None, timeout=90.0):
        """GET path. Returns (status, headers, parsed json or _Unparsed)."""
        status, hdrs, data, _ = request(self.port, "GET", path, None, headers,
                                        timeout)
        return status, hdrs, data


def container_name(port):
    """The name tests/docker/warmjail-in-docker gives the container serving `port`."""
    return "warmjail-test-%d" % port


def post_execute(server, body, headers=None, timeout=90.0):
    return server.post_execute(body, headers, timeout)


def get(server, path, headers=None, timeout=90.0):
    return server.get(path, headers, timeout)


def run_parallel(fn, items, stagger=0.0):
    """Call fn(item) for each item on its own thread (optionally starting
    them `stagger` seconds apart); return the results in order. An exception
    in a thread is returned as the exception object."""
    results = [None] * len(items)

    def work(i, item):
        try:
            results[i] = fn(item)
        except BaseException as exc:  # reported to the caller
            results[i] = exc

    threads = []
    for i, item in enumerate(items):
        t = threading.Thread(target=work, args=(i, item), daemon=True)
        t.start()
        threads.append(t)
        if stagger:
            time.sleep(stagger)
    for t in threads:
        t.join(180)
    return results


def json_equal(expected, actual, approx=None, path="$"):
    """Type-aware JSON comparison (int vs float, bool vs number differ).
    With approx, floats compare within that absolute tolerance. Returns None
    when equal, else a description of the first difference."""
    def kind(v):
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int):
            return "int"
        if isinstance(v, float):
            return "float"
        if isinstance(v, str):
            return "string"
        if isinstance(v, list):
            return "array"
        if isinstance(v, dict):
            return "object"
        return type(v).__name__

    ke, ka = kind(expected), kind(actual)
    if ke != ka:
        return "%s: expected %s %r, got %s %r" % (path, ke, expected, ka, actual)
    if ke == "object":
        if set(expected) != set(actual):
            return "%s: keys differ: expected %s, got %s" % (
                path, sorted(expected), sorted(actual))
        for k in expected:
            d = json_equal(expected[k], actual[k], approx, "%s.%s" % (path, k))
            if d:
                return d
        return None
    if ke == "array":
        if len(expected) != len(actual):
            return "%s: expected %d items, got %d" % (path, len(expected), len(actual))
        for i, (e, a) in enumerate(zip(expected, actual)):
            d = json_equal(e, a, approx, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if ke == "float" and approx is not None:
        if abs(expected - actual) <= approx:
            return None
        return "%s: expected %r within %g, got %r" % (path, expected, approx, actual)
    if expected != actual:
        return "%s: expected %r, got %r" % (path, expected, actual)
    return None


class ServerTestCase(unittest.TestCase):
    """Base class: one server per class (server_args / server_env), shape
    checks on every response, and the server's stderr printed when a test
    of the class fails."""

    server_args = ()
    server_env = None
    server = None
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(cls.server_args, cls.server_env).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            cls.server.stop()
            cls.server = None
        super().tearDownClass()

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        after = len(result.failures) + len(result.errors)
        if after > before and self.server is not None:
            sys.stderr.write("\n===== warmjail stderr (for %s; server %s) =====\n%s\n"
                             "===== end of warmjail stderr =====\n"
                             % (self.id(), "alive" if self.server.alive()
                                else "DEAD", self.server.stderr_tail()))
        return out

    # -- requests with shape checks -------------------------------------------
    def execute(self, body, headers=None, timeout=90.0, srv=None):
        """POST /execute and check the invariants every response must hold."""
        srv = srv or self.server
        status, hdrs, data = srv.post_execute(body, headers, timeout)
        self.check_shape(status, hdrs, data)
        return status, hdrs, data

    def script(self, source, **fields):
        """Run a script (extra request fields as keywords); checked shape."""
        body = {"script": source}
        body.update(fields)
        return self.execute(body)

    def check_shape(self, status, hdrs, data, json_body=True):
        ctype = hdrs.get("Content-Type", "")
        self.assertTrue(ctype.split(";")[0].strip().lower() == "application/json",
                        "Content-Type %r is not application/json (status %d, "
                        "body %r)" % (ctype, status, data))
        self.assertTrue(hdrs.get("X-Request-Id"),
                        "response without X-Request-Id (status %d)" % status)
        self.assertNotIsInstance(data, _Unparsed, "body is not JSON: %r" % (data,))
        self.assertIsInstance(data, dict, "body is not a JSON object: %r" % (data,))
        if status == 200:
            for key in ("result", "stdout", "stderr", "duration_ms"):
                self.assertIn(key, data, "success body lacks %r: %r" % (key, data))
            self.assertIsInstance(data["stdout"], str)
            self.assertIsInstance(data["stderr"], str)
            self.assertTrue(isinstance(data["duration_ms"], (int, float))
                            and not isinstance(data["duration_ms"], bool),
                            "duration_ms is not a number: %r" % (data["duration_ms"],))
            self.assertGreaterEqual(data["duration_ms"], 0)
            self.assertNotIn("error", data, data)
            self.assertNotIn("error_type", data, data)
            for key in ("stdout_truncated", "stderr_truncated"):
                if key in data:
                    self.assertIs(data[key], True,
                                  "%s present but not true: %r" % (key, data[key]))
        else:
            for key in ("error", "error_type", "stdout"):
                self.assertIn(key, data, "failure body (status %d) lacks %r: %r"
                              % (status, key, data))
            self.assertIsInstance(data["error"], str)
            self.assertIsInstance(data["error_type"], str)
            self.assertIsInstance(data["stdout"], str)
            self.assertTrue(data["error"], "empty error text")
            if "stderr" in data:
                self.assertIsInstance(data["stderr"], str)
            self.assertNotIn("result", data, data)

    # -- outcome assertions ---------------------------------------------------
    def assertOk(self, resp, result=..., stdout=None, stderr=None):
        status, _, data = resp
        self.assertEqual(status, 200, "expected 200, got %d: %r" % (status, data))
        if result is not ...:
            diff = json_equal(result, data["result"])
            self.assertIsNone(diff, "result differs: %s" % diff)
        if stdout is not None:
            self.assertEqual(data["stdout"], stdout)
        if stderr is not None:
            self.assertEqual(data["stderr"], stderr)
        return data

    def assertFailure(self, resp, status, error_type, error=None, prefix=None,
                      contains=(), stdout=None):
        got_status, _, data = resp
        self.assertEqual((got_status, data.get("error_type")), (status, error_type),
                         "expected %d %s, got %d: %r" % (status, error_type,
                                                         got_status, data))
        if error is not None:
            self.assertEqual(data["error"], error)
        if prefix is not None:
            self.assertTrue(data["error"].startswith(prefix),
                            "error %r does not start with %r" % (data["error"], prefix))
        if isinstance(contains, str):
            contains = (contains,)
        for part in contains:
            self.assertIn(part, data["error"])
        if stdout is not None:
            self.assertEqual(data["stdout"], stdout)
        return data
