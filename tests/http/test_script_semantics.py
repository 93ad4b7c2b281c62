"""docs/API.md's "What a script sees" behaviours that need no kernel sandbox: fresh module state,
fresh randomness, module naming, async main, input, results, output capture."""

import json
import os
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def src(text):
    return textwrap.dedent(text).lstrip("\n")


SECRET_ENV = "WARMJAIL_TEST_SERVER_SECRET"


class ScriptSemantics(harness.ServerTestCase):

    server_env = {SECRET_ENV: "do-not-leak-7f3a"}

    # -- state and randomness --------------------------------------------------
    def test_module_state_not_shared(self):
        patch = src("""
            import sys, json
            import numpy as np
            import pandas as pd

            def main():
                np.mean = lambda *a, **k: 42
                np.warmjail_marker = "leaked"
                pd.DataFrame.warmjail_marker = "leaked"
                json.dumps = lambda *a, **k: '"patched"'
                sys.modules["warmjail_leak_probe"] = object()
                import builtins
                builtins.warmjail_marker = "leaked"
                return "patched"
            """)
        check = src("""
            import sys, json
            import numpy as np
            import pandas as pd
            import builtins

            def main():
                return {
                    "mean": float(np.mean([1, 2, 3])),
                    "np_marker": hasattr(np, "warmjail_marker"),
                    "pd_marker": hasattr(pd.DataFrame, "warmjail_marker"),
                    "builtins_marker": hasattr(builtins, "warmjail_marker"),
                    "sys_modules": "warmjail_leak_probe" in sys.modules,
                    "json": json.dumps([1]),
                }
            """)
        self.assertOk(self.script(patch), "patched")
        for _ in range(3):  # more than one child: every worker must be clean
            self.assertOk(self.script(check), {
                "mean": 2.0, "np_marker": False, "pd_marker": False,
                "builtins_marker": False, "sys_modules": False, "json": "[1]"})

    def test_module_globals_fresh_per_request(self):
        source = src("""
            counter = []

            def main():
                counter.append(1)
                import sys
                mod = sys.modules[__name__]
                mod.__dict__.setdefault("hits", 0)
                mod.hits += 1
                return [len(counter), mod.hits]
            """)
        for _ in range(3):
            self.assertOk(self.script(source), [1, 1])

    def test_randomness_differs_between_requests(self):
        source = src("""
            import os, random, uuid, tempfile, secrets
            import numpy as np

            def main():
                fd, path = tempfile.mkstemp()
                os.close(fd)
                return {
                    "random": random.random(),
                    "getrandbits": str(random.getrandbits(64)),
                    "np_random": float(np.random.random()),
                    "np_randint": int(np.random.randint(0, 2**31)),
                    "np_normal": float(np.random.normal()),
                    "np_state": str(np.random.get_state()[1][:4].tolist()),
                    "urandom": os.urandom(16).hex(),
                    "uuid4": str(uuid.uuid4()),
                    "tempfile_mkstemp": path,
                    "tempfile_mktemp": tempfile.mktemp(),
                    "tempfile_dir": tempfile.TemporaryDirectory().name,
                    "secrets": secrets.token_hex(8),
                }
            """)
        results = [self.assertOk(self.script(source))["result"] for _ in range(4)]
        for key in results[0]:
            values = [r[key] for r in results]
            self.assertEqual(len(set(values)), len(values),
                             "%s repeats between requests: %r" % (key, values))

    def test_fork_hooks_in_the_scripts_own_fork(self):
        # The zygote holds CPython's fork hooks back from its own forks; the
        # child registers them again, so a script's os.fork() runs them:
        # random re-seeds in the grandchild, threading knows its new thread.
        source = src("""
            import os, random, threading

            def main():
                r, w = os.pipe()
                pid = os.fork()
                mine = random.random()  # the same draw on both sides, unless re-seeded
                if pid == 0:
                    child = mine
                    main_thread = threading.current_thread() is threading.main_thread()
                    os.write(w, repr((child, main_thread, threading.active_count())).encode())
                    os._exit(0)
                os.close(w)
                _, status = os.waitpid(pid, 0)
                child, main_thread, active = eval(os.read(r, 200).decode())
                return {"differs": child != mine, "main_thread": main_thread, "active": active,
                        "status": status}
            """)
        self.assertOk(self.script(source), {"differs": True, "main_thread": True, "active": 1, "status": 0})

    # -- module identity -------------------------------------------------------------
    def test_main_block_not_run(self):
        source = src("""
            ran = []
            if __name__ == "__main__":
                print("MAIN BLOCK RAN")
                ran.append(1)

            def main():
                return {"name": __name__, "ran": ran}
            """)
        data = self.assertOk(self.script(source), stdout="")
        self.assertEqual(data["result"]["ran"], [])
        self.assertIsInstance(data["result"]["name"], str)
        self.assertNotEqual(data["result"]["name"], "__main__")

    def test_main_called_exactly_once(self):
        source = src("""
            calls = []

            def main():
                calls.append(1)
                print("call", len(calls))
                return len(calls)

            if __name__ == "__main__":
                main()
            """)
        self.assertOk(self.script(source), 1, stdout="call 1\n")

    def test_module_registered_in_sys_modules(self):
        source = src("""
            import sys

            def main():
                mod = sys.modules.get(__name__)
                return {"registered": mod is not None,
                        "same": mod is not None and getattr(mod, "main", None) is main}
            """)
        self.assertOk(self.script(source), {"registered": True, "same": True})

    def test_dataclass_pickle_type_hints(self):
        source = src("""
            import dataclasses, pickle, typing

            @dataclasses.dataclass
            class Point:
                x: int
                y: "float" = 0.0

            class Tag(typing.NamedTuple):
                name: str

            def main():
                p = pickle.loads(pickle.dumps(Point(1, 2.5)))
                t = pickle.loads(pickle.dumps(Tag("a")))
                hints = typing.get_type_hints(Point)
                return {"p": dataclasses.asdict(p), "eq": p == Point(1, 2.5),
                        "tag": t.name, "hints": sorted(k for k in hints),
                        "y_hint": hints["y"].__name__}
            """)
        self.assertOk(self.script(source), {
            "p": {"x": 1, "y": 2.5}, "eq": True, "tag": "a",
            "hints": ["x", "y"], "y_hint": "float"})

    def test_dataclass_with_future_annotations(self):
        # dataclasses resolves string annotations through sys.modules
        source = src("""
            from __future__ import annotations
            import dataclasses

            @dataclasses.dataclass
            class Row:
                name: str
                score: int = 0

            def main():
                return dataclasses.asdict(Row("a", 3))
            """)
        self.assertOk(self.script(source), {"name": "a", "score": 3})

    # -- async main ------------------------------------------------------------------
    def test_async_main_awaited(self):
        source = src("""
            import asyncio

            async def helper(x):
                await asyncio.sleep(0.01)
                return x * 2

            async def main():
                values = await asyncio.gather(helper(1), helper(2))
                return list(values)
            """)
        self.assertOk(self.script(source), [2, 4])

    def test_async_main_with_input(self):
        source = "async def main(data):\n    return {'got': data}\n"
        self.assertOk(self.script(source, input=[1, "two"]), {"got": [1, "two"]})

    # -- input --------------------------------------------------------------------------
    def test_input_passed_to_main(self):
        source = "def main(data):\n    return {'echo': data, 'type': type(data).__name__}\n"
        cases = [({"a": 1, "b": [1, 2]}, "dict"), ([1, 2, 3], "list"),
                 ("héllo ✓ 日本", "str"), (42, "int"), (2.5, "float"),
                 (True, "bool"), ({"nested": {"deep": [None, {"x": 1}]}}, "dict")]
        for value, tname in cases:
            with self.subTest(input=value):
                self.assertOk(self.script(source, input=value),
                              {"echo": value, "type": tname})

    def test_input_is_read_as_json_loads_reads_it(self):
        """Key order (a DataFrame's column order) and integers past 64 bits
        survive: main() gets json.loads of the client's own text. The input
        went through nlohmann::json, which sorted keys and made 2**64 a
        float."""
        source = ("import pandas as pd\n"
                  "def main(d):\n"
                  "    return [list(d['row']), list(pd.DataFrame([d['row']]).columns), d['big'], type(d['big']).__name__]\n")
        body = ('{"script": %s, "input": {"row": {"zeta": 1, "alpha": 2, "mid": 3}, '
                '"big": 123456789012345678901234567890}}' % json.dumps(source))
        status, _, data, raw = harness.request(self.server.port, "POST", "/execute", body)
        self.assertEqual(status, 200, raw)
        self.assertEqual(data["result"], [["zeta", "alpha", "mid"], ["zeta", "alpha", "mid"],
                                          123456789012345678901234567890, "int"])

    def test_input_null_is_passed(self):
        source = "def main(*args):\n    return [len(args), args[0] if args else 'none']\n"
        self.assertOk(self.script(source), [0, "none"])
        self.assertOk(self.script(source, input=None), [1, None])

    def test_no_input_calls_main_without_args(self):
        source = "def main(data='default'):\n    return data\n"
        self.assertOk(self.script(source), "default")
        self.assertOk(self.script(source, input={}), {})

    def test_large_input(self):
        value = {"blob": "a" * 900000, "items": list(range(2000))}
        source = "def main(d):\n    return [len(d['blob']), sum(d['items'])]\n"
        self.assertOk(self.script(source, input=value), [900000, sum(range(2000))])

    def test_non_ascii_script_source(self):
        source = "# caf\u00e9 \u043a\u043e\u043c\u043c\u0435\u043d\u0442\ndef main():\n    return '\u65e5\u672c \u2713'\n"
        self.assertOk(self.script(source), "\u65e5\u672c \u2713")

    def test_threads_allowed(self):
        source = src("""
            from concurrent.futures import ThreadPoolExecutor

            def main():
                with ThreadPoolExecutor(4) as ex:
                    return sorted(ex.map(lambda x: x * x, range(8)))
            """)
        self.assertOk(self.script(source), [0, 1, 4, 9, 16, 25, 36, 49])

    # -- results ------------------------------------------------------------------------------
    def test_any_json_value_is_a_result(self):
        cases = [("'plain string'", "plain string"), ("42", 42), ("-7", -7),
                 ("3.5", 3.5), ("0.1 + 0.2", 0.30000000000000004),
                 ("[1, 'a', None, True]", [1, "a", None, True]),
                 ("None", None), ("True", True), ("False", False), ("{}", {}),
                 ("[]", []), ("''", ""), ("2**70", 2**70), ("-2**63", -2**63),
                 ("1e300", 1e300), ("'日本語 ✓ \\u00e9 \\n\\t\"q\"'", "日本語 ✓ é \n\t\"q\""),
                 ("(1, 2)", [1, 2]), ("{1: 'a', True: 'b'}", {"1": "b"})]
        for expr, expected in cases:
            with self.subTest(expr=expr):
                self.assertOk(self.script("def main():\n    return %s\n" % expr),
                              expected, stdout="")

    def test_pandas_and_numpy_results(self):
        source = src("""
            import numpy as np
            import pandas as pd

            def main():
                df = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
                return {"records": df.to_dict(orient="records"),
                        "matrix": (np.arange(6).reshape(2, 3) * 2).tolist(),
                        "json": df.to_json(orient="split")}
            """)
        data = self.assertOk(self.script(source))
        self.assertEqual(data["result"]["records"],
                         [{"a": 1, "b": 0.5}, {"a": 2, "b": 1.5}, {"a": 3, "b": 2.5}])
        self.assertEqual(data["result"]["matrix"], [[0, 2, 4], [6, 8, 10]])
        self.assertIsInstance(data["result"]["json"], str)

    # -- output ----------------------------------------------------------------------------------
    def test_stdout_verbatim(self):
        source = src("""
            import os, sys

            def main():
                print("a", flush=True)
                sys.stdout.write("b\\r\\n\\n")
                sys.stdout.flush()
                os.write(1, b"c\\n")
                print("d", end="")
                return None
            """)
        self.assertOk(self.script(source), None, stdout="a\nb\r\n\nc\nd", stderr="")

    def test_stdout_stderr_unicode(self):
        source = src("""
            import sys

            def main():
                print("caf\\u00e9 \\u65e5\\u672c \\u2713 \\U0001f600")
                print("\\u00fcber", file=sys.stderr)
                return "\\u00e9"
            """)
        self.assertOk(self.script(source), "\u00e9",
                      stdout="caf\u00e9 \u65e5\u672c \u2713 \U0001f600\n",
                      stderr="\u00fcber\n")

    def test_stdout_invalid_utf8_bytes(self):
        # raw bytes that are not UTF-8 must still give a valid JSON response
        source = src("""
            import os

            def main():
                os.write(1, b"ok \\xff\\xfe end\\n")
                return 1
            """)
        data = self.assertOk(self.script(source), 1)
        self.assertTrue(data["stdout"].startswith("ok "), data["stdout"])
        self.assertTrue(data["stdout"].endswith(" end\n"), data["stdout"])

    def test_stdout_trailing_newline(self):
        self.assertOk(self.script("def main():\n    print('x')\n"), None, stdout="x\n")
        self.assertOk(self.script("def main():\n    print('x', end='')\n"), None,
                      stdout="x")
        self.assertOk(self.script("def main():\n    print()\n    print()\n"), None,
                      stdout="\n\n")

    def test_stdout_unflushed_print_and_os_write(self):
        source = src("""
            import os

            def main():
                print("buffered")
                os.write(1, b"direct\\n")
                return 1
            """)
        data = self.assertOk(self.script(source), 1)
        self.assertEqual(sorted(data["stdout"].splitlines(True)),
                         ["buffered\n", "direct\n"])

    def test_stdout_from_c_code(self):
        source = src("""
            import ctypes

            def main():
                libc = ctypes.CDLL(None)
                libc.printf(b"from C %d\\n", 42)
                libc.fflush(None)
                return 1
            """)
        self.assertOk(self.script(source), 1, stdout="from C 42\n")

    def test_stdout_at_module_level(self):
        source = "print('import time')\n\ndef main():\n    print('main time')\n    return 1\n"
        self.assertOk(self.script(source), 1, stdout="import time\nmain time\n")

    def test_stderr_captured(self):
        source = src("""
            import os, sys

            def main():
                print("to stderr", file=sys.stderr, flush=True)
                os.write(2, b"raw fd 2\\n")
                print("to stdout")
                return 1
            """)
        self.assertOk(self.script(source), 1, stdout="to stdout\n",
                      stderr="to stderr\nraw fd 2\n")

    def test_warnings_go_to_stderr(self):
        source = src("""
            import warnings

            def main():
                warnings.warn("careful now")
                return 1
            """)
        data = self.assertOk(self.script(source), 1, stdout="")
        self.assertIn("UserWarning: careful now", data["stderr"])

    def test_stdout_over_default_cap_truncated(self):
        source = "import sys\n\ndef main():\n    sys.stdout.write('x' * (2 * 2**20))\n    return 1\n"
        data = self.assertOk(self.script(source), 1)
        self.assertIs(data.get("stdout_truncated"), True)
        self.assertEqual(data["stdout"], "x" * 2**20)
        self.assertNotIn("stderr_truncated", data)

    def test_no_truncation_flags_normally(self):
        data = self.assertOk(self.script("def main():\n    print('hi')\n    return 1\n"),
                             1, stdout="hi\n")
        self.assertNotIn("stdout_truncated", data)
        self.assertNotIn("stderr_truncated", data)

    def test_duration_ms(self):
        source = "import time\n\ndef main():\n    time.sleep(0.2)\n    return 1\n"
        data = self.assertOk(self.script(source), 1)
        self.assertIsInstance(data["duration_ms"], float)
        self.assertGreaterEqual(data["duration_ms"], 200.0)
        self.assertLess(data["duration_ms"], 10000.0)
        data = self.assertOk(self.script("def main():\n    return 1\n"), 1)
        self.assertLess(data["duration_ms"], 5000.0)

    # -- filesystem / environment ------------------------------------------------------------------
    def test_cwd_and_home_are_tmp(self):
        source = src("""
            import os, tempfile

            def main():
                with open("relative.txt", "w") as f:
                    f.write("hello")
                with open("/tmp/relative.txt") as f:
                    back = f.read()
                with open(os.path.expanduser("~/home.txt"), "w") as f:
                    f.write("h")
                return {"cwd": os.getcwd(), "home": os.environ.get("HOME"),
                        "expanduser": os.path.expanduser("~"), "back": back,
                        "gettempdir": tempfile.gettempdir(),
                        "home_file": os.path.exists("/tmp/home.txt")}
            """)
        self.assertOk(self.script(source), {
            "cwd": "/tmp", "home": "/tmp", "expanduser": "/tmp", "back": "hello",
            "gettempdir": "/tmp", "home_file": True})

    def test_tmp_writable_with_pandas(self):
        source = src("""
            import pandas as pd

            def main():
                pd.DataFrame({"a": [1, 2]}).to_csv("/tmp/out.csv", index=False)
                return pd.read_csv("/tmp/out.csv")["a"].tolist()
            """)
        self.assertOk(self.script(source), [1, 2])

    def test_server_environment_not_visible(self):
        source = src("""
            import os

            def main():
                return sorted(k for k in os.environ
                              if k.startswith("WARMJAIL") or "SECRET" in k)
            """)
        self.assertOk(self.script(source), [])


class OutputCap(harness.ServerTestCase):
    """Truncation at a small --max-output-bytes."""

    CAP = 100
    server_args = ("--max-output-bytes", str(CAP))

    def test_stdout_truncated_at_cap(self):
        source = "def main():\n    print('x' * 500)\n    return 'done'\n"
        data = self.assertOk(self.script(source), "done", stderr="")
        self.assertEqual(data["stdout"], "x" * self.CAP)
        self.assertIs(data.get("stdout_truncated"), True)
        self.assertNotIn("stderr_truncated", data)

    def test_stderr_truncated_at_cap(self):
        source = "import sys\n\ndef main():\n    sys.stderr.write('e' * 300)\n    return 1\n"
        data = self.assertOk(self.script(source), 1, stdout="")
        self.assertEqual(data["stderr"], "e" * self.CAP)
        self.assertIs(data.get("stderr_truncated"), True)
        self.assertNotIn("stdout_truncated", data)

    def test_exactly_at_cap_not_truncated(self):
        source = "import sys\n\ndef main():\n    sys.stdout.write('y' * %d)\n    return 1\n" % self.CAP
        data = self.assertOk(self.script(source), 1, stdout="y" * self.CAP)
        self.assertNotIn("stdout_truncated", data)

    def test_huge_output_does_not_block(self):
        source = src("""
            import os, sys

            def main():
                for _ in range(100):
                    sys.stdout.write("z" * 100000)
                    os.write(2, b"w" * 100000)
                return "finished"
            """)
        data = self.assertOk(self.script(source, limits={"timeout_s": 20}), "finished")
        self.assertEqual(data["stdout"], "z" * self.CAP)
        self.assertEqual(data["stderr"], "w" * self.CAP)
        self.assertIs(data.get("stdout_truncated"), True)
        self.assertIs(data.get("stderr_truncated"), True)

    def test_multibyte_cut_stays_valid(self):
        # 'x' + 100 two-byte characters: byte 100 is the first half of one
        source = "def main():\n    print('x' + '\\u00e9' * 100)\n    return 1\n"
        data = self.assertOk(self.script(source), 1)
        self.assertIs(data.get("stdout_truncated"), True)
        out = data["stdout"]
        self.assertTrue(out.startswith("x" + "\u00e9" * 49), out)
        self.assertIn(out[50:], ("", "\ufffd"))

    def test_truncated_output_on_failure(self):
        source = "def main():\n    print('q' * 500)\n    raise ValueError('late')\n"
        data = self.assertFailure(self.script(source), 422, "runtime_error",
                                  error="Script execution error: ValueError: late")
        self.assertEqual(data["stdout"], "q" * self.CAP)
        self.assertIs(data.get("stdout_truncated"), True)


if __name__ == "__main__":
    unittest.main()
