"""embed/runner.py in-process, without a sandbox (ctest unit_runner).

What is checked here are the runner's shortcuts that must change nothing a
script can see: the compile path that settles "is there a module-level def
main" from the code object when it can (the contract's answer is the AST's),
the fork hooks it holds back from the zygote, and the in-place seeding of
numpy's global generator.
"""

import os
import random
import sys
import unittest
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "embed"))
import runner  # noqa: E402

# Scripts whose answer the shortcut must give exactly as the AST does.
CORPUS = [
    "",
    "x = 1\n",
    "def main():\n    return 1\n",
    "async def main():\n    return 1\n",
    "async  def  main ():\n    return 1\n",
    "def\tmain\t():\n    return 1\n",
    "def main(x=None):\n    return x\n",
    "def other():\n    return 1\n",
    "if True:\n    def main():\n        return 1\n",
    "if True:\n    def main():\n        return 1\ndef main():\n    return 2\n",
    "class K:\n    def main(self):\n        return 1\n",
    "def outer():\n    def main():\n        return 1\n    return main\n",
    "main = lambda: 1\n",
    "def other():\n    return 1\nmain = other\n",
    "from os import getcwd as main\n",
    "try:\n    def main():\n        return 1\nexcept Exception:\n    pass\n",
    "class main:\n    pass\n",
    "def dec(f):\n    return f\n@dec\nclass main:\n    pass\n",
    "def dec(f):\n    return f\n@dec\ndef main():\n    return 1\n",
    "s = '''\ndef main():\n'''\n",
    "s = '''\ndef main():\n'''\nif s:\n    def main():\n        return 1\n",
    "\tdef main():\n\t\treturn 1\n",
    "\x0cdef main():\n    return 1\n",
    "def main():\r\n    return 1\r\n",
    "x = 1\rdef main():\r    return 1\r",
    "x = 1\r\nif x:\r\n    def main():\r\n        return 1\r\n",
    "x = '\x0b'\ndef main():\n    return 1\n",
    "s = '\u2028'\nif s:\n    def main():\n        return 1\n",
    # str.splitlines() would end a line at the \x0b and read the string's
    # "def main(" as the nested def's line
    "if 'a\x0bdef main(':\n    def main():\n        return 1\n",
    "if 'a\u2028def main(':\n    def main():\n        return 1\n",
    "def main():\n    return 1\nreturn 2\n",
    "return 2\n",
    "x = 1\nbreak\n",
    "def main(:\n",
    "def main():\n    nonlocal x\n",
    "def main():\n    return 1\x00\n",
    "with open('/dev/null') as f:\n    def main():\n        return 1\n",
    "for i in range(1):\n    def main():\n        return 1\n",
    "while False:\n    def main():\n        return 1\n",
    "def \\\nmain():\n    return 1\n",
    "(\ndef main)\n",
    "x = [\n1]\ndef main():\n    return x\n",
    "main: int = 1\n",
    "import asyncio\nasync def main():\n    await asyncio.sleep(0)\n    return 1\n",
    "def main():\n    def main():\n        return 2\n    return main()\n",
    "def mainly():\n    return 1\n",
    "def main_():\n    return 1\n",
    "'''\n''' ; x = 1\ndef main():\n    return 1\n",
    "#def main():\n",
    "if 1: pass\ndef main(): return 1\n",
    "x = (1 +\n2)\ndef main(): return x\n",
    "def main():\n  return 1\n" * 3,
    "(" * 300 + ")" * 300 + "\ndef main():\n    return 1\n",
    # code after a statement that always stops is unreachable: the compiler
    # drops main's code object, the AST still has the def
    "raise SystemExit\ndef main():\n    return 1\n",
    "assert False\ndef main():\n    return 1\n",
    "while True:\n    pass\ndef main():\n    return 1\n",
    "if x:\n    raise KeyError\nelse:\n    raise ValueError\ndef main():\n    return 1\n",
    "try:\n    pass\nfinally:\n    raise SystemExit\nasync def main():\n    return 1\n",
    "x = " + "[" * 120 + "]" * 120 + "\ndef main():\n    return 1\n",
]


def outcome(result):
    """What a compile path answered, comparably: the refusal document, or the
    code's bytecode, names and constants (recursively, as their reprs)."""
    code, refusal = result
    if refusal is not None:
        return ("refused", refusal)

    def shape(c):
        consts = tuple(shape(k) if hasattr(k, "co_code") else repr(k) for k in c.co_consts)
        return (c.co_name, c.co_firstlineno, c.co_code, c.co_names, c.co_varnames, consts)

    return ("code", shape(code))


class MainCheck(unittest.TestCase):
    def assertSameAsAst(self, script):
        fast = outcome(runner._compile_checked(script))
        contract = outcome(runner._compile_through_ast(script))
        self.assertEqual(fast, contract, "the compile shortcut and the AST differ on %r" % script)

    def setUp(self):
        # The corpus' own SyntaxWarnings are not what is compared here.
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")

    def tearDown(self):
        self._warnings.__exit__(None, None, None)

    def test_corpus(self):
        for script in CORPUS:
            with self.subTest(script=script[:60]):
                self.assertSameAsAst(script)

    def test_seed_cases(self):
        import json

        with open(os.path.join(REPO, "tests", "conformance", "seed_cases.json"), encoding="utf-8") as f:
            cases = json.load(f)
        cases = cases.get("cases", cases) if isinstance(cases, dict) else cases
        scripts = [c["request"]["script"] for c in cases if isinstance(c.get("request", {}).get("script"), str)]
        self.assertGreater(len(scripts), 10)
        for script in scripts:
            with self.subTest(script=script[:60]):
                self.assertSameAsAst(script)

    def test_generated(self):
        # Lines that open, nest, continue or hide a def main, in random
        # orders: the two paths agree on every combination.
        pieces = [
            "def main():\n    return 1\n", "async def main():\n    return 1\n", "if True:\n",
            "    def main():\n        return 2\n", "class main:\n    pass\n", "@staticmethod\n",
            "s = '''\n", "'''\n", "x = (\n", ")\n", "try:\n    pass\nexcept Exception:\n    pass\n",
            "\tdef main():\n\t\treturn 3\n", "def main \\\n():\n    return 4\n", "main = 1\n",
            "def other():\n    return 0\n", "\r\n", "\x0c\n", "# def main():\n", "pass\n",
            # what ends execution: the compiler drops what follows as unreachable
            "raise SystemExit\n", "while True:\n    pass\n", "assert False\n", "x = 1 is 1\n",
        ]
        rng = random.Random(20261203)
        for _ in range(1500):
            script = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
            with self.subTest(script=script):
                self.assertSameAsAst(script)

    def test_shortcut_taken(self):
        # The plain case never builds the AST (the point of the shortcut).
        built = []
        real = runner._compile_through_ast
        runner._compile_through_ast = lambda script: built.append(script) or real(script)
        try:
            code, refusal = runner._compile_checked("def main():\n    return 1\n")
            self.assertIsNone(refusal)
            code, refusal = runner._compile_checked("x = 1\n")
            self.assertIsNotNone(refusal)
        finally:
            runner._compile_through_ast = real
        self.assertEqual(built, [])


# Run in a fresh interpreter, the runner imported first (as the zygote does):
# what it held, what a child runs, and whether a fork inside a child re-seeds.
FORK_PROBE = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
import runner
import random
held = [getattr(h, "__qualname__", "") for hooks in runner._HELD_FORK_HOOKS for h in hooks if h]
runner._settle_fork_hooks()
restored = os.register_at_fork is runner._REGISTER_AT_FORK
ran = [getattr(h, "__qualname__", "") for h in runner._CHILD_RUNS]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    runner.prepare_child()
    rr, ww = os.pipe()
    grandchild = os.fork()
    draw = random.random()
    if grandchild == 0:
        os.write(ww, repr(draw).encode())
        os._exit(0)
    os.waitpid(grandchild, 0)
    os.write(w, b"differs" if float(os.read(rr, 100)) != draw else b"same")
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
print(json.dumps({"held": held, "restored": restored, "ran": ran, "grandchild": os.read(r, 100).decode()}))
"""


class CompileWarnings(unittest.TestCase):
    def test_printed_once_when_the_ast_path_is_taken(self):
        # A decorated main takes the AST path after the source was compiled
        # once: the compiler's SyntaxWarning still reaches stderr once.
        import contextlib
        import io
        import warnings

        for script in ("def dec(f):\n    return f\n@dec\ndef main():\n    return 1 is 1\n",
                       "x = '\\d'\nif x:\n    def main():\n        return x\nreturn 1\n"):
            with self.subTest(script=script):
                err = io.StringIO()
                with contextlib.redirect_stderr(err), warnings.catch_warnings():
                    warnings.simplefilter("default")
                    warnings.filterwarnings("default", category=SyntaxWarning)
                    warnings.filterwarnings("default", category=DeprecationWarning)
                    runner._compile_checked(script)
                first = [line for line in err.getvalue().splitlines() if "Warning" in line]
                self.assertEqual(len(first), 1, err.getvalue())


class ForkHooks(unittest.TestCase):
    def test_hooks_held_then_registered_in_the_child(self):
        import json
        import subprocess

        out = subprocess.run([sys.executable, "-c", FORK_PROBE, os.path.join(REPO, "embed")],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        probe = json.loads(out.stdout)
        # Importing the runner held the stdlib's hooks instead of registering them.
        self.assertIn("_after_fork", probe["held"])
        self.assertIn("Random.seed", probe["held"])
        self.assertTrue(probe["restored"])
        # threading's and logging's re-initialisers are skipped; random's runs.
        self.assertEqual(probe["ran"], ["Random.seed"])
        # After prepare_child the script's own fork re-seeds random in the
        # grandchild: the hooks are registered with the interpreter again.
        self.assertEqual(probe["grandchild"], "differs")


class NumpySeeding(unittest.TestCase):
    def test_state_written_in_place_is_numpys_state(self):
        import ctypes

        import numpy as np

        address = runner.numpy_legacy_state_address()
        self.assertNotEqual(address, 0, "numpy's MT19937 state is not laid out as the runner expects")
        key = (ctypes.c_uint32 * 624).from_address(address)
        words = [random.getrandbits(32) for _ in range(624)]
        key[:] = words
        ctypes.c_int.from_address(address + 624 * 4).value = 624
        state = np.random.get_state()
        self.assertEqual([int(v) for v in state[1]], words)
        self.assertEqual(state[2], 624)
        self.assertEqual(state[3], 0, "a cached Gaussian would be shared by every child")


if __name__ == "__main__":
    unittest.main()
