"""docs/API.md: every row of the error table, plus the API surface
(404/405, X-Request-Id, auth, health, metrics)."""

import ast
import io
import os
import re
import socket
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BAD_BODY = "Request body must be a JSON object"
NO_SCRIPT = "Request must contain 'script' field"
NO_MAIN = "ERROR: No main() function found"
NOT_JSON = "ERROR: main() function must return JSON serializable data"
MEMORY = "Script execution error: Memory limit exceeded"
OK_SCRIPT = "def main():\n    return 1\n"


def src(text):
    return textwrap.dedent(text).lstrip("\n")


def syntax_message(source):
    """docs/API.md's syntax_error text, computed with this same CPython 3.11."""
    try:
        ast.parse(source)
    except SyntaxError as e:
        return "Syntax error in script: %s (line %d)" % (e.msg, e.lineno)
    raise AssertionError("source parses: %r" % source)


class RequestValidation(harness.ServerTestCase):
    """400 invalid_request rows."""

    def bad(self, body, error=None, contains=(), headers=None):
        resp = self.execute(body, headers=headers)
        return self.assertFailure(resp, 400, "invalid_request", error=error,
                                  contains=contains, stdout="")

    def test_invalid_json_body(self):
        for raw in (b'{"script": "def main(): return 1"', b"{bad json}", b"",
                    b"def main(): return 1", b'{"script": 1,}'):
            with self.subTest(body=raw):
                self.bad(raw, BAD_BODY)

    def test_non_object_json_body(self):
        for raw in (b"[]", b'["def main(): return 1"]', b'"def main(): return 1"',
                    b"42", b"null", b"true"):
            with self.subTest(body=raw):
                self.bad(raw, BAD_BODY)

    def test_non_utf8_body(self):
        for raw in (b'{"script": "def main():\\n    return \'\xff\'\\n"}',
                    b'{"script": "def main(): return 1", "input": "\xc3\x28"}',
                    b'\xfe\xff{"script": "def main(): return 1"}'):
            with self.subTest(body=raw):
                self.bad(raw, BAD_BODY)

    def test_missing_script(self):
        for body in ({}, {"input": 1}, {"Script": OK_SCRIPT}):
            with self.subTest(body=body):
                if "Script" in body:
                    # unknown field and missing script: either message is fine
                    # as long as it is a 400 invalid_request
                    self.bad(body)
                else:
                    self.bad(body, NO_SCRIPT)

    def test_script_not_a_string(self):
        for value in (None, 5, 1.5, True, ["def main(): return 1"],
                      {"code": "def main(): return 1"}):
            with self.subTest(script=value):
                self.bad({"script": value}, NO_SCRIPT)

    def test_unknown_top_level_field(self):
        for field in ("timeout", "scripts", "extra_field_xyz"):
            with self.subTest(field=field):
                data = self.bad({"script": OK_SCRIPT, field: 1})
                self.assertIn(field, data["error"])

    def test_bad_limits_timeout(self):
        for value in (0, -1, -0.5, 30.5, 31, 1000, "5", True, None, [1], {"s": 1}):
            with self.subTest(timeout_s=value):
                data = self.bad({"script": OK_SCRIPT, "limits": {"timeout_s": value}})
                self.assertIn("timeout_s", data["error"])

    def test_bad_limits_memory(self):
        for value in (0, -5, 1.5, 513, 100000, "128", True, None, [128]):
            with self.subTest(memory_mb=value):
                data = self.bad({"script": OK_SCRIPT, "limits": {"memory_mb": value}})
                self.assertIn("memory_mb", data["error"])

    def test_bad_limits_unknown_key(self):
        for key in ("cpu_s", "timeout", "memory"):
            with self.subTest(key=key):
                data = self.bad({"script": OK_SCRIPT, "limits": {key: 1}})
                self.assertIn(key, data["error"])

    def test_bad_limits_not_an_object(self):
        for value in ([], [1, 2], 5, "timeout_s=1", True):
            with self.subTest(limits=value):
                data = self.bad({"script": OK_SCRIPT, "limits": value})
                self.assertIn("limits", data["error"])

    def test_limits_at_the_maximum_are_accepted(self):
        resp = self.script(OK_SCRIPT, limits={"timeout_s": 30, "memory_mb": 512})
        self.assertOk(resp, 1)
        resp = self.script(OK_SCRIPT, limits={"timeout_s": 0.75, "memory_mb": 200})
        self.assertOk(resp, 1)
        resp = self.script(OK_SCRIPT, limits={})
        self.assertOk(resp, 1)


class ScriptErrors(harness.ServerTestCase):
    """422 rows that need only the default server."""

    # -- syntax_error -------------------------------------------------------
    def test_syntax_error_with_line(self):
        for source in ("def main():\n    return {invalid syntax here}",
                       "def main():\nreturn 1\n",
                       "import os\n\n\ndef main(:\n    pass\n",
                       "def main():\n    x = (1,\n    return x\n"):
            with self.subTest(source=source):
                expected = syntax_message(source)
                data = self.assertFailure(self.script(source), 422, "syntax_error",
                                          error=expected, stdout="")
                self.assertRegex(data["error"], r"\(line \d+\)$")

    def test_syntax_error_line_number_is_the_scripts(self):
        source = "import math\n\n\n\ndef main():\n    return 1 +\n"
        data = self.assertFailure(self.script(source), 422, "syntax_error",
                                  stdout="")
        self.assertTrue(data["error"].endswith("(line 6)"), data["error"])

    # -- no_main --------------------------------------------------------------
    def test_no_main_variants(self):
        cases = {
            "no_def": "x = 1\n",
            "empty": "",
            "other_function": "def other():\n    return 1\n",
            "inside_if": "if True:\n    def main():\n        return 1\n",
            "inside_class": "class K:\n    def main(self):\n        return 1\n",
            "nested": "def outer():\n    def main():\n        return 1\n    return main\n",
            "lambda": "main = lambda: 1\n",
            "lambda_with_arg": "main = lambda x=None: 1\n",
            "assigned_function": "def other():\n    return 1\nmain = other\n",
            "imported": "from os import getcwd as main\n",
            "inside_try": "try:\n    def main():\n        return 1\nexcept Exception:\n    pass\n",
            "print_only": "print('hello')\n",
            "main_class": "class main:\n    pass\n",
        }
        for name, source in cases.items():
            with self.subTest(case=name):
                self.assertFailure(self.script(source), 422, "no_main",
                                   error=NO_MAIN, stdout="")

    def test_async_def_main_is_a_main(self):
        source = "async def main():\n    return 'async ok'\n"
        self.assertOk(self.script(source), "async ok", stdout="")

    # -- runtime_error ------------------------------------------------------
    def test_runtime_error_traceback_has_script_lines(self):
        source = src("""
            def helper(x):
                return 1 / x


            def main():
                print("before")
                return helper(0)
            """)
        data = self.assertFailure(
            self.script(source), 422, "runtime_error",
            error="Script execution error: ZeroDivisionError: division by zero",
            stdout="before\n")
        self.assertIn("stderr", data)
        tb = data.get("traceback")
        self.assertIsInstance(tb, str, "runtime_error without traceback: %r" % data)
        self.assertRegex(tb, r"\bline 2\b")
        self.assertRegex(tb, r"\bline 7\b")
        self.assertIn("ZeroDivisionError", tb)
        self.assertNotIn("runner.py", tb)
        self.assertNotIn("runner", tb.lower())

    def test_runtime_error_only_user_frames(self):
        source = "import json\n\ndef main():\n    return json.loads('{')\n"
        data = self.assertFailure(self.script(source), 422, "runtime_error",
                                  stdout="")
        self.assertRegex(data["error"], r"^Script execution error: "
                         r"(json\.decoder\.)?JSONDecodeError: Expecting property name")
        tb = data["traceback"]
        self.assertRegex(tb, r"\bline 4\b")
        self.assertNotIn("runner.py", tb)

    def test_runtime_error_custom_exception(self):
        source = src("""
            class BadThing(Exception):
                pass

            def main():
                raise BadThing("it broke: 42")
            """)
        data = self.assertFailure(self.script(source), 422, "runtime_error",
                                  error="Script execution error: BadThing: it broke: 42",
                                  stdout="")
        self.assertRegex(data["traceback"], r"\bline 5\b")

    def test_runtime_error_unicode_message(self):
        source = "def main():\n    raise ValueError('caf\\u00e9 \\u2713')\n"
        self.assertFailure(self.script(source), 422, "runtime_error",
                           error="Script execution error: ValueError: caf\u00e9 \u2713")

    def test_runtime_error_at_module_level(self):
        source = "import no_such_module_xyz\n\ndef main():\n    return 1\n"
        data = self.assertFailure(
            self.script(source), 422, "runtime_error",
            error="Script execution error: ModuleNotFoundError: "
                  "No module named 'no_such_module_xyz'",
            stdout="")
        self.assertRegex(data["traceback"], r"\bline 1\b")

    def test_runtime_error_main_wrong_arity(self):
        source = "def main():\n    return 1\n"
        self.assertFailure(
            self.script(source, input={"a": 1}), 422, "runtime_error",
            error="Script execution error: TypeError: main() takes 0 positional "
                  "arguments but 1 was given")

    def test_system_exit_is_runtime_error(self):
        cases = [("import sys\ndef main():\n    sys.exit(3)\n",
                  "Script execution error: SystemExit: 3"),
                 ("def main():\n    raise SystemExit('bye')\n",
                  "Script execution error: SystemExit: bye"),
                 ("import sys\nsys.exit(0)\ndef main():\n    return 1\n",
                  "Script execution error: SystemExit: 0")]
        for source, error in cases:
            with self.subTest(source=source):
                data = self.assertFailure(self.script(source), 422, "runtime_error",
                                          error=error)
                self.assertIsInstance(data.get("traceback"), str)

    def test_keyboard_interrupt_is_runtime_error(self):
        source = "def main():\n    raise KeyboardInterrupt('stop')\n"
        self.assertFailure(self.script(source), 422, "runtime_error",
                           error="Script execution error: KeyboardInterrupt: stop")

    # -- not_json_serializable ----------------------------------------------
    def test_not_json_serializable(self):
        cases = {
            "set": ("return {1, 2}", "TypeError: Object of type set is not JSON serializable"),
            "nan": ("return float('nan')",
                    "ValueError: Out of range float values are not JSON compliant"),
            "inf_nested": ("return {'a': [1, float('inf')]}",
                           "ValueError: Out of range float values are not JSON compliant"),
            "numpy_int": ("import numpy as np\n    return np.int64(3)",
                          "TypeError: Object of type int64 is not JSON serializable"),
            "bytes": ("return b'abc'", "TypeError: Object of type bytes is not JSON serializable"),
            "tuple_key": ("return {(1, 2): 3}",
                          "TypeError: keys must be str, int, float, bool or None, not tuple"),
            "circular": ("a = []\n    a.append(a)\n    return a",
                         "ValueError: Circular reference detected"),
            # json.dumps writes these, but they are not portable JSON text
            # (the server refuses them as such): they were 422 crashed.
            "huge_int": ("return {'n': [10 ** 400]}",
                         "ValueError: an integer beyond the range of a double (about 1.8e308)"),
            "lone_surrogate": ("return ['ok \\ud83d\\ude00', 'x\\ud800']",
                               "ValueError: a string holds a lone surrogate, which is not Unicode"),
        }
        for name, (body, detail) in cases.items():
            with self.subTest(case=name):
                source = "def main():\n    print('x')\n    %s\n" % body
                self.assertFailure(self.script(source), 422, "not_json_serializable",
                                   error="%s (%s)" % (NOT_JSON, detail), stdout="x\n")

    # -- memory_limit ---------------------------------------------------------
    def test_memory_bomb_is_caught_quickly(self):
        source = ("def main():\n    large_list = list(range(100000000))\n"
                  "    return {'data': large_list}\n")
        t0 = time.monotonic()
        resp = self.script(source)
        elapsed = time.monotonic() - t0
        self.assertFailure(resp, 422, "memory_limit", error=MEMORY, stdout="")
        self.assertLess(elapsed, 10.0, "memory bomb took %.1f s" % elapsed)

    def test_memory_error_is_memory_limit(self):
        for body in ("b = bytearray(8 * 2**30)", "b = ' ' * (8 * 2**30)"):
            with self.subTest(body=body):
                source = ("def main():\n    print('a', flush=True)\n    %s\n"
                          "    return len(b)\n" % body)
                self.assertFailure(self.script(source), 422, "memory_limit",
                                   error=MEMORY, stdout="a\n")

    def test_numpy_300mb_fits_default_limit(self):
        source = ("import numpy as np\n\ndef main():\n"
                  "    a = np.ones(300 * 2**20 // 8)\n"
                  "    return {'nbytes': int(a.nbytes), 'sum': float(a.sum())}\n")
        self.assertOk(self.script(source),
                      {"nbytes": 300 * 2**20, "sum": float(300 * 2**20 // 8)})

    def test_request_memory_limit_applies(self):
        source = ("import numpy as np\n\ndef main():\n"
                  "    a = np.ones(300 * 2**20 // 8)\n"
                  "    return int(a.nbytes)\n")
        self.assertFailure(self.script(source, limits={"memory_mb": 128}), 422,
                           "memory_limit", error=MEMORY, stdout="")
        # ...and the same request with the default limit works
        self.assertOk(self.script(source), 300 * 2**20)

    # -- timeout ----------------------------------------------------------------
    def test_timeout_busy_loop(self):
        source = "def main():\n    while True:\n        pass\n"
        t0 = time.monotonic()
        resp = self.script(source, limits={"timeout_s": 1})
        elapsed = time.monotonic() - t0
        self.assertFailure(resp, 422, "timeout",
                           error="Script execution timeout (1 seconds)", stdout="")
        self.assertIn("stderr", resp[2])
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 6.0)

    def test_timeout_sleep_fractional_keeps_flushed_stdout(self):
        source = src("""
            import time

            def main():
                print("started", flush=True)
                time.sleep(60)
                return 1
            """)
        t0 = time.monotonic()
        resp = self.script(source, limits={"timeout_s": 1.5})
        elapsed = time.monotonic() - t0
        self.assertFailure(resp, 422, "timeout",
                           error="Script execution timeout (1.5 seconds)",
                           stdout="started\n")
        self.assertGreaterEqual(elapsed, 1.4)
        self.assertLess(elapsed, 6.5)

    def test_timeout_keeps_plain_print(self):
        # print() without flush=True: "what was printed before the failure"
        source = src("""
            import sys, time

            def main():
                print("one")
                sys.stdout.write("two\\n")
                print("err", file=sys.stderr)
                time.sleep(60)
            """)
        data = self.assertFailure(self.script(source, limits={"timeout_s": 1}), 422,
                                  "timeout", error="Script execution timeout (1 seconds)",
                                  stdout="one\ntwo\n")
        self.assertEqual(data.get("stderr"), "err\n")

    def test_timeout_kills_child_processes(self):
        # A forked child that keeps the output pipe open must not hold the
        # response past the deadline.
        source = src("""
            import os, time

            def main():
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                time.sleep(60)
            """)
        t0 = time.monotonic()
        resp = self.script(source, limits={"timeout_s": 1})
        elapsed = time.monotonic() - t0
        self.assertFailure(resp, 422, "timeout",
                           error="Script execution timeout (1 seconds)")
        self.assertLess(elapsed, 6.0)

    # -- crashed ------------------------------------------------------------------
    def test_crashed_sigsegv(self):
        source = src("""
            import ctypes

            def main():
                print("about to crash", flush=True)
                ctypes.string_at(0)
                return 1
            """)
        data = self.assertFailure(self.script(source), 422, "crashed",
                                  contains="SIGSEGV", stdout="about to crash\n")
        self.assertTrue(data["error"].startswith("Script crashed"), data["error"])

    def test_crashed_abort(self):
        source = "import os\n\ndef main():\n    os.abort()\n"
        data = self.assertFailure(self.script(source), 422, "crashed", contains="SIGABRT")
        self.assertTrue(data["error"].startswith("Script crashed"), data["error"])

    def test_crashed_os_exit_status(self):
        source = "import os\n\ndef main():\n    print('bye', flush=True)\n    os._exit(3)\n"
        data = self.assertFailure(self.script(source), 422, "crashed", stdout="bye\n")
        self.assertIn("exit", data["error"].lower())
        self.assertRegex(data["error"], r"\b3\b")

    def test_crashed_os_exit_zero_without_result(self):
        source = "import os\n\ndef main():\n    os._exit(0)\n"
        data = self.assertFailure(self.script(source), 422, "crashed")
        self.assertTrue(data["error"].startswith("Script crashed"), data["error"])

    def test_crashed_at_module_level(self):
        source = "import os\nos._exit(7)\n\ndef main():\n    return 1\n"
        data = self.assertFailure(self.script(source), 422, "crashed")
        self.assertRegex(data["error"], r"\b7\b")

    def test_server_survives_crashes(self):
        source = "import ctypes\n\ndef main():\n    ctypes.string_at(0)\n"
        for _ in range(3):
            self.assertFailure(self.script(source), 422, "crashed")
        self.assertOk(self.script(OK_SCRIPT), 1)

    # -- result size under the default cap -----------------------------------------
    def test_large_result_under_default_cap(self):
        source = "def main():\n    return 'x' * (4 * 2**20)\n"
        data = self.assertOk(self.script(source))
        self.assertEqual(len(data["result"]), 4 * 2**20)


class SmallCaps(harness.ServerTestCase):
    """413 request_too_large, 422 result_too_large, CPU-time timeout."""

    BODY_CAP = 4096
    RESULT_CAP = 1000
    server_args = ("--max-body-bytes", str(BODY_CAP),
                   "--max-result-bytes", str(RESULT_CAP),
                   "--cpu-time", "1", "--timeout", "10")

    def test_body_over_cap_is_413(self):
        script = "def main():\n    return 1\n" + "# padding\n" * 1000
        resp = self.execute({"script": script})
        self.assertFailure(resp, 413, "request_too_large", contains=str(self.BODY_CAP),
                           stdout="")

    def test_body_just_over_cap_is_413(self):
        body = b'{"script": "def main(): return 1", "input": "'
        body += b"a" * (self.BODY_CAP + 1 - len(body) - 2) + b'"}'
        self.assertEqual(len(body), self.BODY_CAP + 1)
        self.assertFailure(self.execute(body), 413, "request_too_large",
                           contains=str(self.BODY_CAP))

    def test_body_at_cap_is_accepted(self):
        body = b'{"script": "def main(x): return len(x)", "input": "'
        n = self.BODY_CAP - len(body) - 2
        body += b"a" * n + b'"}'
        self.assertEqual(len(body), self.BODY_CAP)
        self.assertOk(self.execute(body), n)

    def test_result_over_cap(self):
        source = "def main():\n    print('hi')\n    return 'x' * 5000\n"
        data = self.assertFailure(self.script(source), 422, "result_too_large",
                                  contains=str(self.RESULT_CAP), stdout="hi\n")
        self.assertIn("stderr", data)

    def test_result_under_cap(self):
        source = "def main():\n    return 'x' * 500\n"
        self.assertOk(self.script(source), "x" * 500)

    def test_cpu_time_limit(self):
        source = "def main():\n    while True:\n        pass\n"
        t0 = time.monotonic()
        resp = self.script(source)
        elapsed = time.monotonic() - t0
        self.assertFailure(resp, 422, "timeout",
                           error="Script execution timeout (1 seconds)")
        self.assertLess(elapsed, 6.0)

    def test_sleep_does_not_use_cpu_time(self):
        source = "import time\n\ndef main():\n    time.sleep(1.5)\n    return 'slept'\n"
        self.assertOk(self.script(source), "slept")

    def test_request_timeout_above_server_max_is_400(self):
        resp = self.script("def main():\n    return 1\n", limits={"timeout_s": 11})
        data = self.assertFailure(resp, 400, "invalid_request")
        self.assertIn("timeout_s", data["error"])


class Overload(harness.ServerTestCase):
    """429 overloaded with Retry-After (--workers 1 --queue 1)."""

    server_args = ("--workers", "1", "--queue", "1")

    def test_overloaded_429(self):
        source = "import time\n\ndef main(i):\n    time.sleep(2)\n    return i\n"

        def one(i):
            return self.server.post_execute({"script": source, "input": i})

        results = harness.run_parallel(one, list(range(4)), stagger=0.15)
        for r in results:
            self.assertNotIsInstance(r, BaseException, repr(r))
        ok = [r for r in results if r[0] == 200]
        busy = [r for r in results if r[0] == 429]
        self.assertEqual((len(ok), len(busy)), (2, 2),
                         "statuses: %s" % [(r[0], r[2]) for r in results])
        for i, (status, _, data) in enumerate(results):
            if status == 200:
                self.assertEqual(data["result"], i)
        for status, hdrs, data in busy:
            self.check_shape(status, hdrs, data)
            self.assertEqual(data["error_type"], "overloaded")
            self.assertEqual(data["stdout"], "")
            retry = hdrs.get("Retry-After")
            self.assertIsNotNone(retry, "429 without Retry-After")
            self.assertRegex(retry.strip(), r"^\d+$")
        # once drained, the server accepts work again
        self.assertOk(self.script("def main():\n    return 'again'\n"), "again")


class ApiSurface(harness.ServerTestCase):
    """404/405, X-Request-Id, health and metrics."""

    def assertJsonError(self, status, hdrs, data, expected):
        self.assertEqual(status, expected, data)
        ctype = hdrs.get("Content-Type", "")
        self.assertEqual(ctype.split(";")[0].strip().lower(), "application/json")
        self.assertNotIsInstance(data, harness._Unparsed, data)
        self.assertIsInstance(data.get("error"), str, data)
        self.assertTrue(hdrs.get("X-Request-Id"))

    def test_unknown_path_404(self):
        for method, path in (("GET", "/"), ("GET", "/nope"), ("POST", "/exec"),
                             ("POST", "/execute/extra"), ("GET", "/health/x")):
            with self.subTest(method=method, path=path):
                status, hdrs, data, _ = self.server.request(method, path,
                                                            b"{}" if method == "POST" else None)
                self.assertJsonError(status, hdrs, data, 404)

    def test_wrong_method_405(self):
        for method, path in (("GET", "/execute"), ("PUT", "/execute"),
                             ("DELETE", "/execute"), ("POST", "/health"),
                             ("POST", "/healthz"), ("POST", "/metrics")):
            with self.subTest(method=method, path=path):
                body = b'{"script": "def main(): return 1"}' if method != "GET" else None
                status, hdrs, data, _ = self.server.request(method, path, body)
                self.assertJsonError(status, hdrs, data, 405)

    def raw(self, data):
        """Sends DATA on a fresh connection; (status, headers, parsed body)."""
        import http.client
        with socket.create_connection((harness.HOST, self.server.port), timeout=30) as s:
            s.sendall(data)
            resp = http.client.HTTPResponse(s)
            resp.begin()
            return resp.status, resp.headers, harness.parse_json(resp.read())

    def test_allow_names_head_on_get_routes(self):
        for method, path, allow in (("POST", "/health", "GET, HEAD"), ("DELETE", "/metrics", "GET, HEAD"),
                                    ("GET", "/execute", "POST")):
            with self.subTest(method=method, path=path):
                status, hdrs, data, _ = self.server.request(method, path)
                self.assertEqual((status, hdrs.get("Allow"), data.get("error_type"), data.get("error")),
                                 (405, allow, "method_not_allowed",
                                  "Method %s is not allowed on %s; use %s" % (method, path, allow)))
        self.assertEqual(self.server.request("HEAD", "/health")[0], 200)

    def test_methods_httplib_does_not_route_get_405(self):
        """TRACE and CONNECT on a known path were 400 "Malformed HTTP request"."""
        for method, path, allow in (("TRACE", "/health", "GET, HEAD"), ("CONNECT", "/execute", "POST"),
                                    ("TRACE", "/execute", "POST")):
            with self.subTest(method=method, path=path):
                status, hdrs, data = self.raw(b"%s %s HTTP/1.1\r\nHost: t\r\n\r\n" % (method.encode(), path.encode()))
                self.check_shape(status, hdrs, data)
                self.assertEqual((status, hdrs.get("Allow"), data["error_type"], data["error"]),
                                 (405, allow, "method_not_allowed",
                                  "Method %s is not allowed on %s; use %s" % (method, path, allow)))
        status, hdrs, data = self.raw(b"TRACE /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual((status, data.get("error_type"), data.get("error")), (404, "not_found", "No such path: /nope"))
        status, hdrs, data = self.raw(b"FROB /execute HTTP/1.1\r\nHost: t\r\n\r\n")
        self.check_shape(status, hdrs, data)
        self.assertEqual((status, data["error_type"], data["error"]), (400, "invalid_request", "Unsupported HTTP method"))

    def test_long_uri_is_414(self):
        status, hdrs, data, _ = self.server.request("GET", "/health?" + "x" * 9000)
        self.check_shape(status, hdrs, data)
        self.assertEqual((status, data["error_type"], data["error"]),
                         (414, "request_too_large", "Request URI is longer than 8192 bytes"))

    def test_compressed_body_is_415(self):
        status, hdrs, data = self.server.post_execute(b"\x1f\x8b\x08\x00", {"Content-Encoding": "gzip"})
        self.check_shape(status, hdrs, data)
        self.assertEqual((status, data["error_type"], data["error"]),
                         (415, "invalid_request", "Content-Encoding is not supported: send the body uncompressed"))

    def test_keep_alive_connection(self):
        import http.client
        conn = http.client.HTTPConnection(harness.HOST, self.server.port, timeout=60)
        try:
            for i in range(3):
                conn.request("POST", "/execute",
                             body=('{"script": "def main(x):\\n    return x", "input": %d}' % i).encode(),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = harness.parse_json(resp.read())
                self.assertEqual((resp.status, data.get("result")), (200, i), data)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            resp.read()
        finally:
            conn.close()

    def test_chunked_request_body(self):
        import http.client
        conn = http.client.HTTPConnection(harness.HOST, self.server.port, timeout=60)
        try:
            parts = [b'{"script": "def main(x):\\n', b'    return x * 2\\n", ', b'"input": 21}']
            conn.request("POST", "/execute", body=iter(parts), encode_chunked=True,
                         headers={"Content-Type": "application/json",
                                  "Transfer-Encoding": "chunked"})
            resp = conn.getresponse()
            data = harness.parse_json(resp.read())
            self.assertEqual((resp.status, data.get("result")), (200, 42), data)
        finally:
            conn.close()

    def test_request_id_echoed(self):
        for rid, body in (("abc-123", {"script": OK_SCRIPT}),
                          ("req-400-test", {"nope": 1}),
                          ("e3b0c442-98fc-1c14-9afb-f4c8996fb924", b"not json")):
            with self.subTest(rid=rid):
                _, hdrs, _ = self.server.post_execute(body, {"X-Request-Id": rid})
                self.assertEqual(hdrs.get("X-Request-Id"), rid)
        _, hdrs, _ = self.server.get("/health", {"X-Request-Id": "health-1"})
        self.assertEqual(hdrs.get("X-Request-Id"), "health-1")
        _, hdrs, _, _ = self.server.request("GET", "/missing", None,
                                            {"X-Request-Id": "nf-1"})
        self.assertEqual(hdrs.get("X-Request-Id"), "nf-1")

    def test_request_id_generated_and_unique(self):
        ids = set()
        for _ in range(3):
            _, hdrs, _ = self.execute({"script": OK_SCRIPT})
            rid = hdrs.get("X-Request-Id")
            self.assertTrue(rid and rid.strip())
            ids.add(rid)
        _, hdrs, _ = self.execute({"bad": 1})
        ids.add(hdrs.get("X-Request-Id"))
        _, hdrs, _ = self.server.get("/healthz")
        self.assertTrue(hdrs.get("X-Request-Id"))
        ids.add(hdrs.get("X-Request-Id"))
        self.assertEqual(len(ids), 5, ids)

    def test_health(self):
        status, hdrs, data = self.server.get("/health")
        self.assertEqual(status, 200, data)
        self.assertEqual(hdrs.get("Content-Type", "").split(";")[0], "application/json")
        self.assertEqual(data.get("status"), "healthy")
        self.assertGreater(len(data), 1, "health reports nothing but status: %r" % data)

    def test_healthz(self):
        status, hdrs, data = self.server.get("/healthz")
        self.assertEqual(status, 200, data)
        self.assertEqual(hdrs.get("Content-Type", "").split(";")[0], "application/json")
        self.assertEqual(data.get("status"), "ok")

    def test_metrics_prometheus_text(self):
        self.execute({"script": OK_SCRIPT})
        status, hdrs, _, raw = self.server.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(hdrs.get("Content-Type", "").startswith("text/plain"),
                        hdrs.get("Content-Type"))
        text = raw.decode("utf-8")
        self.assertIn("# TYPE ", text)
        samples = [l for l in text.splitlines() if l and not l.startswith("#")]
        self.assertTrue(samples, "no samples in /metrics")
        for line in samples:
            self.assertRegex(line, r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? "
                                   r"([-+0-9.eE]+|NaN|[+-]Inf)( -?\d+)?$")
        self.assertTrue(any("_bucket" in l for l in samples), "no latency histogram")


class Auth(harness.ServerTestCase):
    """--api-token: /execute needs the bearer token; health stays open."""

    TOKEN = "s3cret-token-for-tests"
    server_args = ("--api-token", TOKEN)

    def test_missing_or_wrong_token_is_401(self):
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "Bearer " + self.TOKEN + "x"},
                        {"Authorization": "Bearer " + self.TOKEN[:-1]},
                        {"Authorization": self.TOKEN},
                        {"Authorization": "Basic " + self.TOKEN}):
            with self.subTest(headers=headers):
                status, hdrs, data = self.server.post_execute({"script": OK_SCRIPT},
                                                              headers)
                self.assertEqual(status, 401, data)
                self.assertIsInstance(data.get("error"), str, data)
                self.assertTrue(hdrs.get("X-Request-Id"))

    def test_right_token_runs(self):
        resp = self.execute({"script": OK_SCRIPT},
                            {"Authorization": "Bearer " + self.TOKEN})
        self.assertOk(resp, 1)

    def test_scheme_is_case_insensitive(self):
        """RFC 9110 (11.1): the scheme is case-insensitive, the token not."""
        for scheme in ("bearer", "BEARER", "bEaReR"):
            with self.subTest(scheme=scheme):
                self.assertOk(self.execute({"script": OK_SCRIPT},
                                           {"Authorization": scheme + " " + self.TOKEN}), 1)
        for value in ("bearer " + self.TOKEN.upper(), "Bearers " + self.TOKEN, "Bearer" + self.TOKEN):
            with self.subTest(value=value):
                self.assertFailure(self.execute({"script": OK_SCRIPT}, {"Authorization": value}), 401,
                                   "unauthorized",
                                   "Missing or invalid API token (Authorization: Bearer <token>)")

    def test_health_paths_stay_open(self):
        self.assertEqual(self.server.get("/health")[0], 200)
        self.assertEqual(self.server.get("/healthz")[0], 200)


class MetricsCountRefusals(harness.ServerTestCase):
    """warmjail_requests_total is "Requests to /execute by outcome and HTTP
    status": the answers Service::Execute never gave count too (401 for the
    token, 405, and what the HTTP layer refuses itself: 413, 400)."""

    TOKEN = "metrics-token"
    server_args = ("--api-token", TOKEN, "--max-body-bytes", "1000")

    def raw_request(self, head, body=b""):
        with socket.create_connection((harness.HOST, self.server.port), timeout=30) as s:
            s.sendall(head + body)
            return s.recv(65536)

    def test_refusals_are_counted(self):
        auth = {"Authorization": "Bearer " + self.TOKEN}
        self.assertOk(self.execute({"script": OK_SCRIPT}, auth), 1)
        self.assertFailure(self.execute({"script": OK_SCRIPT}), 401, "unauthorized")
        self.assertFailure(self.execute({"script": OK_SCRIPT}, {"Authorization": "Bearer no"}), 401, "unauthorized")
        self.assertFailure(self.execute({"script": "#" * 2000}, auth), 413, "request_too_large")
        self.assertEqual(self.server.request("GET", "/execute")[0], 405)
        answer = self.raw_request(b"POST /execute HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n"
                                  b"Connection: close\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer)
        self.assertEqual(self.server.request("GET", "/nope")[0], 404)  # not /execute: not counted
        status, _, _, raw = self.server.request("GET", "/metrics")
        self.assertEqual(status, 200)
        counted = sorted(line for line in raw.decode().splitlines() if line.startswith("warmjail_requests_total{"))
        self.assertEqual(counted, [
            'warmjail_requests_total{outcome="invalid_request",status="400"} 1',
            'warmjail_requests_total{outcome="method_not_allowed",status="405"} 1',
            'warmjail_requests_total{outcome="ok",status="200"} 1',
            'warmjail_requests_total{outcome="request_too_large",status="413"} 1',
            'warmjail_requests_total{outcome="unauthorized",status="401"} 2',
        ])


def read_all(s):
    """What the server sends until it closes the connection."""
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


class BodyCapFromTheHead(harness.ServerTestCase):
    """A Content-Length over --max-body-bytes is refused from the head, at
    once: no "100 Continue" invites the body, and none of it is awaited
    (the server used to answer 100 Continue, and without Expect read
    --max-body-bytes + 1 bytes before its 413)."""

    server_args = ("--max-body-bytes", "1000")
    TEXT = "Request body is larger than the cap of 1000 bytes"

    def head_only(self, extra):
        """Sends a head declaring 200 MB and no body; the server's first
        answer (a 100 Continue is not skipped)."""
        import http.client
        with socket.create_connection((harness.HOST, self.server.port), timeout=5) as s:
            s.sendall(b"POST /execute HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 200000000\r\n" + extra + b"\r\n")
            first = s.recv(12)
            self.assertEqual(first, b"HTTP/1.1 413")
            resp = http.client.HTTPResponse(s)
            resp.fp = io.BufferedReader(io.BytesIO(first + read_all(s)))
            resp.begin()
            return resp.status, resp.headers, harness.parse_json(resp.read())

    def test_declared_length_over_cap_with_expect_100_continue(self):
        status, hdrs, data = self.head_only(b"Expect: 100-continue\r\n")
        self.check_shape(status, hdrs, data)
        self.assertEqual((status, data["error_type"], data["error"]), (413, "request_too_large", self.TEXT))

    def test_declared_length_over_cap_without_expect(self):
        status, hdrs, data = self.head_only(b"")
        self.check_shape(status, hdrs, data)
        self.assertEqual((status, data["error_type"], data["error"]), (413, "request_too_large", self.TEXT))

    def test_declared_length_at_cap_gets_100_continue(self):
        body = b'{"script": "def main():\\n    return 1\\n"}'
        body += b" " * (1000 - len(body))
        with socket.create_connection((harness.HOST, self.server.port), timeout=30) as s:
            s.sendall(b"POST /execute HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n"
                      b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
            interim = b""
            while not interim.endswith(b"\r\n\r\n"):
                interim += s.recv(1)
            self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(body)
            answer = read_all(s)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)


class SlowClients(harness.ServerTestCase):
    """--header-timeout and --request-read-timeout are the deadlines a slow
    client meets, answered 408 (httplib's own read timeout, hard-coded to
    10 s, cut any pause over 10 s whatever the flags said, and answered 400
    "Malformed HTTP request")."""

    server_args = ("--header-timeout", "1", "--request-read-timeout", "2")
    BODY = b'{"script": "def main():\\n    return 5\\n"}'

    def paused(self, first, rest, pause, port=None):
        """Sends FIRST, waits PAUSE seconds, sends REST (unless the server
        answered meanwhile); (status, headers, parsed body, seconds until
        the answer)."""
        import http.client
        with socket.create_connection((harness.HOST, port or self.server.port), timeout=30) as s:
            started = time.monotonic()
            s.sendall(first)
            s.settimeout(pause)
            try:
                answer = s.recv(65536)
            except socket.timeout:
                answer = b""
                s.settimeout(30)
                s.sendall(rest)
            answer += read_all(s)
            took = time.monotonic() - started
        resp = http.client.HTTPResponse(socket.socket())
        resp.fp = io.BufferedReader(io.BytesIO(answer))
        resp.begin()
        return resp.status, resp.headers, harness.parse_json(resp.read()), took

    def head(self, length):
        return (b"POST /execute HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n" % length)

    def test_body_paused_past_the_request_deadline_is_408(self):
        status, hdrs, data, took = self.paused(self.head(len(self.BODY)) + self.BODY[:10], self.BODY[10:], 6)
        self.check_shape(status, hdrs, data)
        self.assertEqual((status, data["error_type"], data["error"]),
                         (408, "invalid_request", "Request not received whole within 2 seconds"))
        self.assertLess(took, 4, "answered after %.1f s with --request-read-timeout 2" % took)

    def test_head_paused_past_the_header_deadline_is_408(self):
        status, hdrs, data, took = self.paused(b"POST /execute HTTP/1.1\r\nHost: t\r\n", b"\r\n", 6)
        self.check_shape(status, hdrs, data)
        self.assertEqual((status, data["error_type"], data["error"]),
                         (408, "invalid_request", "Request head not received within 1 seconds"))
        self.assertLess(took, 3, "answered after %.1f s with --header-timeout 1" % took)

    def test_a_pause_over_10_s_within_the_deadlines_is_served(self):
        with harness.Server(["--workers", "1", "--request-read-timeout", "13"]) as srv:
            status, _, data, took = self.paused(self.head(len(self.BODY)) + self.BODY[:10], self.BODY[10:], 10.5,
                                                port=srv.port)
        self.assertEqual((status, data.get("result")), (200, 5), data)


if __name__ == "__main__":
    unittest.main()
