"""The warmjail runner: what runs inside a sandboxed child.

The zygote imports this module once (warm_up() then loads numpy and pandas);
each child, already specialized by the jail, calls prepare_child() and then
run(), whose return value is the response document the server maps to HTTP.

Documents (bytes):
  {"ok":true}\n<the JSON text main() returned, exactly as json.dumps wrote it>
  {"ok": false, "error_type": "...", "error": "...", "traceback": "..."}
The result travels as text so that the server can pass it through unparsed:
integers beyond 64 bits and float formatting stay exactly as Python wrote them.
The server reads the document with one strict reader (src/document.cc), which
holds the same vocabulary as the constants below; a unit test
(tests/unit/test_document.cc) checks that the two agree.
"""

import os

# CPython's fork hooks (os.register_at_fork) are held back while the zygote
# imports: the modules below register theirs here instead of with the
# interpreter, and warm_up() puts the real function back once every import is
# done. So the zygote's own forks run no Python hook at all, in the zygote or
# in the child; each child then runs the hooks that matter to it and
# registers all of them for the script's own forks (prepare_child).
_REGISTER_AT_FORK = os.register_at_fork
_HELD_FORK_HOOKS = []


def _hold_fork_hook(*, before=None, after_in_child=None, after_in_parent=None):
    if before is None and after_in_child is None and after_in_parent is None:
        raise TypeError("At least one argument is required.")
    for hook in (before, after_in_child, after_in_parent):
        if hook is not None and not callable(hook):
            raise TypeError("fork hooks must be callable")
    _HELD_FORK_HOOKS.append((before, after_in_child, after_in_parent))


os.register_at_fork = _hold_fork_hook

import ast  # noqa: E402  (the imports below register fork hooks)
import errno  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import linecache  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402

SCRIPT_FILENAME = "<script>"
SCRIPT_MODULE = "__script__"

# The document's keys and the error_types it may carry, with their texts
# (a fixed text, or how the text starts).
SUCCESS_HEADER = b'{"ok":true}\n'
KEY_OK = "ok"
KEY_ERROR_TYPE = "error_type"
KEY_ERROR = "error"
KEY_TRACEBACK = "traceback"
SYNTAX_ERROR = "syntax_error"
SYNTAX_ERROR_TEXT = "Syntax error in script: "
NO_MAIN = "no_main"
NO_MAIN_TEXT = "ERROR: No main() function found"
RUNTIME_ERROR = "runtime_error"
RUNTIME_ERROR_TEXT = "Script execution error: "
NOT_JSON_SERIALIZABLE = "not_json_serializable"
NOT_JSON_SERIALIZABLE_TEXT = "ERROR: main() function must return JSON serializable data"
MEMORY_LIMIT = "memory_limit"
MEMORY_LIMIT_TEXT = "Script execution error: Memory limit exceeded"
RESULT_TOO_LARGE = "result_too_large"
RESULT_TOO_LARGE_TEXT = "Result is larger than the cap of {} bytes of JSON"
# What the server keeps of `error` and `traceback`, in bytes of UTF-8.
MAX_ERROR_BYTES = 4096
MAX_TRACEBACK_BYTES = 32768


def warm_up():
    """Imports and exercises what scripts use, so children start warm."""
    import numpy
    import pandas

    frame = pandas.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0], "c": list("xyz")})
    frame.groupby("c")["a"].sum()
    frame.describe()
    frame.to_dict()
    frame.to_json()
    frame.merge(frame, on="c")
    pandas.to_datetime(["2024-01-01"])
    numpy.linalg.inv(numpy.eye(3))
    numpy.fft.fft(numpy.arange(8))
    numpy.random.default_rng(0).normal(size=4)
    json.dumps({"warm": [1.5, None, True]})
    ast.parse("def main():\n    return 1\n")
    asyncio.new_event_loop().close()
    import dataclasses  # noqa: F401
    import pickle  # noqa: F401
    import typing  # noqa: F401
    import uuid  # noqa: F401
    import ctypes  # noqa: F401
    import decimal  # noqa: F401
    import fractions  # noqa: F401
    import statistics  # noqa: F401
    import collections  # noqa: F401
    import itertools  # noqa: F401
    import re  # noqa: F401
    import math  # noqa: F401
    import datetime  # noqa: F401
    import csv  # noqa: F401
    import io  # noqa: F401
    _settle_fork_hooks()
    gc.collect()
    # Objects that exist now are never collected again: the collector would
    # otherwise touch (and so copy) their pages in every forked child.
    gc.freeze()


def sys_path_dirs():
    """The directories the interpreter imports from (the jail binds them)."""
    return [p for p in sys.path if p and os.path.isabs(p)]


def prepare_zygote(environment):
    """State every child starts with, set once in the zygote before it forks
    any (each page a child writes is a copy-on-write fault of its own)."""
    os.environ.clear()
    os.environ.update(environment)
    tempfile._name_sequence = None
    tempfile.tempdir = None
    # Line-buffered so print() and os.write(1, ...) keep their order.
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)


def _resets_thread_state(hook):
    """Whether an after-fork hook only rebuilds what other threads, or locks
    they held, leave behind: threading's registry, logging's and
    concurrent.futures' locks."""
    if getattr(hook, "__name__", "") == "_at_fork_reinit":  # a lock's own
        return True
    for module, name in (("threading", "_after_fork"), ("logging", "_after_at_fork_child_reinit_locks")):
        owner = sys.modules.get(module)
        if owner is not None and hook == getattr(owner, name, None):
            return True
    return False


# What a child does with the held hooks, worked out once (in the zygote, at
# the end of warm_up): the after-fork hooks it runs, and every hook's
# registration, in the order the modules made them.
_CHILD_RUNS = None
_CHILD_REGISTERS = None


def _settle_fork_hooks():
    """Every import is done: from here on a hook registers for real."""
    global _CHILD_RUNS, _CHILD_REGISTERS
    os.register_at_fork = _REGISTER_AT_FORK
    if _CHILD_RUNS is None:
        _CHILD_RUNS = [child for _, child, _ in _HELD_FORK_HOOKS if child is not None and not _resets_thread_state(child)]
        _CHILD_REGISTERS = [
            {key: hook for key, hook in zip(("before", "after_in_child", "after_in_parent"), hooks) if hook is not None}
            for hooks in _HELD_FORK_HOOKS
        ]


def prepare_child(numpy_seeded=False):
    """Per-child state that must not be inherited from the zygote.

    The fork hooks held back in the zygote: the zygote forks with exactly one
    thread (it checks, and never starts another) and from C++, between two
    Python calls, so no Python lock is held and no other thread exists for
    threading's, logging's and concurrent.futures' hooks to rebuild; those are
    skipped. Every other after-fork hook runs (random's re-seeds from
    os.urandom). Then all of them are registered with the interpreter, so the
    script's own os.fork() runs each as CPython would.

    numpy's global generator is seeded by the caller when it wrote 624 words
    of os.urandom into its state itself (numpy_legacy_state_address);
    otherwise here, from 256 bits of os.urandom."""
    _settle_fork_hooks()
    for hook in _CHILD_RUNS:
        hook()
    for hooks in _CHILD_REGISTERS:
        _REGISTER_AT_FORK(**hooks)
    if not numpy_seeded and "numpy" in sys.modules:
        np = sys.modules["numpy"]
        np.random.seed(np.frombuffer(os.urandom(32), dtype=np.uint32))


# numpy's legacy global generator (np.random.random() and friends): an
# MT19937 whose state is `uint32_t key[624]; int pos;` at an address its
# ctypes interface gives.
_MT_WORDS = 624


def numpy_legacy_state_address():
    """The address of the MT19937 state behind numpy's global RandomState,
    once it is shown to be laid out as expected (written through the address,
    read back through numpy's own view of it); 0 when it is not, and the
    child then seeds through numpy. Leaves the generator freshly seeded with
    no cached Gaussian, so a child that overwrites key and pos holds nothing
    of the zygote's."""
    np = sys.modules.get("numpy")
    if np is None:
        return 0
    import ctypes

    try:
        generator = np.random.mtrand._rand
        address = generator._bit_generator.ctypes.state_address
        key = (ctypes.c_uint32 * _MT_WORDS).from_address(address)
        pos = ctypes.c_int.from_address(address + ctypes.sizeof(key))
        pattern = [(i * 2654435761 + 1) & 0xFFFFFFFF for i in range(_MT_WORDS)]
        np.random.seed(1)
        key[:] = pattern
        pos.value = 17
        state = generator.get_state(legacy=False)["state"]
        ok = [int(v) for v in state["key"]] == pattern and int(state["pos"]) == 17
    except Exception:  # an other numpy: seed through its API
        ok = False
    np.random.seed(0)
    return address if ok else 0


_PREWARM_SCRIPT = """
import json

def main():
    import numpy as np
    import pandas as pd
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0], "c": ["x", "y", "x"]})
    print("warm")
    return {
        "mean": float(frame["a"].mean()),
        "groups": frame.groupby("c")["b"].sum().to_dict(),
        "records": frame.to_dict("records"),
        "sum": int(np.arange(5).sum()),
    }
"""


def prewarm():
    """Runs a small script through run() in an idle spare, so that the pages a
    request touches have already been copied from the zygote (each
    copy-on-write fault costs tens of microseconds on a VM). Leaves no module
    or cache entry of its own behind."""
    run(_PREWARM_SCRIPT, None, 1 << 20)
    sys.modules.pop(SCRIPT_MODULE, None)
    linecache.cache.pop(SCRIPT_FILENAME, None)
    _flush()


def _clip(text, limit):
    """At most `limit` bytes of UTF-8, whole characters only; lone surrogates,
    which JSON text cannot carry, written as escapes."""
    data = text.encode("utf-8", "backslashreplace")
    return data[:limit].decode("utf-8", "ignore")


def _error(error_type, message, tb=None):
    doc = {KEY_OK: False, KEY_ERROR_TYPE: error_type, KEY_ERROR: _clip(message, MAX_ERROR_BYTES)}
    if tb is not None:
        doc[KEY_TRACEBACK] = _clip(tb, MAX_TRACEBACK_BYTES)
    return json.dumps(doc).encode()


def _describe(exc):
    try:
        text = str(exc)
    except BaseException:  # a hostile __str__
        text = "<unprintable exception>"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _user_traceback(exc):
    """The traceback restricted to the script's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SCRIPT_FILENAME]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _has_main(tree):
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main" for node in tree.body)


# A line that opens a function named main, starting at its first character.
_DEF_MAIN_LINE = re.compile(r"(?:async[ \t]+)?def[ \t]+main[ \t]*\(")


def _compile_checked(script):
    """The script's code object, or the response document of why it has none.

    The contract's order: parse (syntax_error), a module-level def main on
    the AST (no_main), compile (syntax_error). Building the AST as Python
    objects and compiling it again copies about twice the zygote's pages
    that compiling the source does, so the source is compiled first and the
    AST is built only when the code cannot settle the answer:
    - the name main stored nowhere at module level (not in co_names, which
      the compiler never prunes; a def after a raise is dropped from the
      constants as unreachable, but its name stays): no def main there;
    - a constant code object named main whose first line starts at its
      first character with `def main(` or `async def main(`: a statement at column 0 is in the module's body
      (a compound statement's body is indented; a decorated def's first line
      is its decorator, which this does not accept).
    Anything else (a def main in an if, a decorator, a tab, a compile error)
    takes the AST path, which is the contract itself."""
    try:
        code = compile(script, SCRIPT_FILENAME, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return _compile_again_through_ast(script)
    if "main" not in code.co_names:
        return None, _error(NO_MAIN, NO_MAIN_TEXT)
    firsts = [c.co_firstlineno for c in code.co_consts if isinstance(c, types.CodeType) and c.co_name == "main"]
    # Lines as the tokenizer numbers them: \r\n and \r end a line, as \n does.
    lines = script.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if any(0 < n <= len(lines) and _DEF_MAIN_LINE.match(lines[n - 1]) for n in firsts):
        return code, None
    return _compile_again_through_ast(script)


def _compile_again_through_ast(script):
    """The AST path after the source was compiled once already: that compile
    has printed the parser's and the compiler's warnings (the script's
    stderr), up to the same point, so this one prints none of them again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _compile_through_ast(script)


def _compile_through_ast(script):
    try:
        tree = ast.parse(script, filename=SCRIPT_FILENAME)
    except SyntaxError as exc:
        return None, _error(SYNTAX_ERROR, f"{SYNTAX_ERROR_TEXT}{exc.msg} (line {exc.lineno})")
    except (ValueError, MemoryError, RecursionError) as exc:  # NUL bytes, absurd nesting
        return None, _error(SYNTAX_ERROR, f"{SYNTAX_ERROR_TEXT}{exc} (line 1)")
    if not _has_main(tree):
        return None, _error(NO_MAIN, NO_MAIN_TEXT)
    try:
        return compile(tree, SCRIPT_FILENAME, "exec", dont_inherit=True), None
    except (SyntaxError, ValueError) as exc:
        return None, _error(SYNTAX_ERROR, f"{SYNTAX_ERROR_TEXT}{getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', 1)})")


# What main() returns that is never awaitable (inspect.isawaitable would walk
# the Awaitable ABC's caches, copying pages, to say so).
_PLAIN_RESULTS = frozenset({dict, list, tuple, str, int, float, bool, type(None)})
# One encoder for every result (json.dumps with these arguments builds one per call).
_RESULT_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def run(script, input_json, max_result_bytes):
    """Runs `script` and returns the response document (bytes)."""
    code, refusal = _compile_checked(script)
    if refusal is not None:
        return refusal
    linecache.cache[SCRIPT_FILENAME] = (len(script), None, script.splitlines(True), SCRIPT_FILENAME)

    module = types.ModuleType(SCRIPT_MODULE)
    module.__file__ = SCRIPT_FILENAME
    sys.modules[SCRIPT_MODULE] = module
    has_input = input_json is not None
    argument = json.loads(input_json) if has_input else None

    try:
        exec(code, module.__dict__)
        main = module.__dict__["main"]
        value = main(argument) if has_input else main()
        if type(value) not in _PLAIN_RESULTS and inspect.isawaitable(value):
            value = asyncio.run(_await(value))
    except MemoryError:
        _flush()
        return _error(MEMORY_LIMIT, MEMORY_LIMIT_TEXT)
    except OSError as exc:
        _flush()
        # mmap and friends report an exhausted address space as ENOMEM.
        if exc.errno == errno.ENOMEM:
            return _error(MEMORY_LIMIT, MEMORY_LIMIT_TEXT)
        return _error(RUNTIME_ERROR, f"{RUNTIME_ERROR_TEXT}{_describe(exc)}", _user_traceback(exc))
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are script errors too
        _flush()
        return _error(RUNTIME_ERROR, f"{RUNTIME_ERROR_TEXT}{_describe(exc)}", _user_traceback(exc))
    _flush()

    try:
        text = _RESULT_ENCODER.encode(value)
        _check_portable(text)
    except MemoryError:
        return _error(MEMORY_LIMIT, MEMORY_LIMIT_TEXT)
    except BaseException as exc:
        return _error(NOT_JSON_SERIALIZABLE, f"{NOT_JSON_SERIALIZABLE_TEXT} ({_describe(exc)})")
    if len(text) > max_result_bytes:
        return _error(RESULT_TOO_LARGE, RESULT_TOO_LARGE_TEXT.format(max_result_bytes))
    return SUCCESS_HEADER + text.encode()


# JSON text json.dumps writes but the server refuses as not strict JSON
# (src/document.cc): a lone surrogate ("\ud800", not Unicode) and a number
# beyond a double's range (an int of 309 digits or more, which JSON readers
# such as JavaScript's read as Infinity or refuse). Looked for only where the
# text can hold one (a surrogate escape without its pair, a run of 309
# digits), so an ordinary result costs two substring searches.
_LONG_DIGITS = re.compile(r"[0-9]{309,}")
_LONE_SURROGATE = re.compile(r"\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}")


def _check_portable(text):
    if "\\ud" in text and _LONE_SURROGATE.search(text):
        try:  # json.loads keeps a lone surrogate; strict UTF-8 refuses it
            json.dumps(json.loads(text), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds a lone surrogate, which is not Unicode") from None
    if len(text) >= 309 and _LONG_DIGITS.search(text):

        def check(token):
            if float(token) in (float("inf"), float("-inf")):
                raise ValueError("an integer beyond the range of a double (about 1.8e308)")
            return 0

        json.loads(text, parse_int=check)


async def _await(awaitable):
    return await awaitable
