# expect: {"status": 200, "result": {"writable_on_sys_path": [], "json_pyc": 13, "tmp_on_sys_path": false}}
# Poisoning a later request through the import system: byte-code caches,
# .pth files and sitecustomize cannot be written anywhere on sys.path (the
# paths are read-only, and the existing caches belong to the host's root:
# EACCES), and a module the script plants in /tmp is gone
# for the next request (see 071). /tmp, the working directory, is not on
# sys.path at all (it was, as "", until the embedding stopped pybind11 from
# adding it).
import importlib.util
import os
import sys


def main():
    writable = []
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        for target in (os.path.join(entry, "sitecustomize.py"), os.path.join(entry, "__pycache__", "x.pyc")):
            try:
                with open(target, "w") as f:
                    f.write("raise SystemExit")
                writable.append(target)
            except OSError:
                pass
    cache = importlib.util.cache_from_source("/usr/lib/python3.11/json/__init__.py")
    try:
        with open(cache, "r+b") as f:
            f.write(b"\0")
        cache_errno = "written"
    except OSError as e:
        cache_errno = e.errno
    return {"writable_on_sys_path": writable, "json_pyc": cache_errno,
            "tmp_on_sys_path": any(p in ("/tmp", "") for p in sys.path)}
