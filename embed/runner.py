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

import ast
import errno
import asyncio
import gc
import inspect
import json
import linecache
import os
import random
import sys
import tempfile
import traceback
import types

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


def prepare_child():
    """Per-child state that must not be inherited from the zygote: the random
    generators' states. numpy's is seeded from 256 bits of os.urandom, which
    copies a third of the pages seed() with no argument does."""
    random.seed()
    if "numpy" in sys.modules:
        np = sys.modules["numpy"]
        np.random.seed(np.frombuffer(os.urandom(32), dtype=np.uint32))


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


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def run(script, input_json, max_result_bytes):
    """Runs `script` and returns the response document (bytes)."""
    try:
        tree = ast.parse(script, filename=SCRIPT_FILENAME)
    except SyntaxError as exc:
        return _error(SYNTAX_ERROR, f"{SYNTAX_ERROR_TEXT}{exc.msg} (line {exc.lineno})")
    except (ValueError, MemoryError, RecursionError) as exc:  # NUL bytes, absurd nesting
        return _error(SYNTAX_ERROR, f"{SYNTAX_ERROR_TEXT}{exc} (line 1)")
    if not _has_main(tree):
        return _error(NO_MAIN, NO_MAIN_TEXT)

    try:
        code = compile(tree, SCRIPT_FILENAME, "exec")
    except (SyntaxError, ValueError) as exc:
        return _error(SYNTAX_ERROR, f"{SYNTAX_ERROR_TEXT}{getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', 1)})")
    del tree
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
        if inspect.isawaitable(value):
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
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except MemoryError:
        return _error(MEMORY_LIMIT, MEMORY_LIMIT_TEXT)
    except BaseException as exc:
        return _error(NOT_JSON_SERIALIZABLE, f"{NOT_JSON_SERIALIZABLE_TEXT} ({_describe(exc)})")
    if len(text) > max_result_bytes:
        return _error(RESULT_TOO_LARGE, RESULT_TOO_LARGE_TEXT.format(max_result_bytes))
    return SUCCESS_HEADER + text.encode()


async def _await(awaitable):
    return await awaitable
