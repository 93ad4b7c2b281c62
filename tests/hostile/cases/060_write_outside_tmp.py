# expect: {"status": 200, "result": {"/pwned": 30, "/usr/pwned": 30, "/usr/lib/python3.11/os.py": 13, "/usr/lib/python3.11/pwned.py": 30, "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc": 13, "/usr/lib/python3/dist-packages/pwned.pth": 30, "/usr/lib/python3/dist-packages/numpy/__init__.py": 13, "/usr/lib/x86_64-linux-gnu/libc.so.6": 13, "/etc/passwd": 30, "/etc/pwned": 30, "/etc/ld.so.preload": 30, "/etc/ld.so.cache": 13, "/etc/hosts": 30, "/dev/pwned": 30, "/dev/shm/pwned": 2, "/run/pwned": 2, "/home/pwned": 2, "/root/.bashrc": 2, "/var/tmp/pwned": 2, "/proc/pwned": 2, "/proc/self/pwned": 2, "mkdir_/x": 30, "mkdir_/dev/shm": 30, "rename_etc_passwd": 30, "unlink_etc_hosts": 30, "symlink_/etc/x": 30, "utime_os_py": 30, "truncate_os_py": 13}}
# Writes anywhere but /tmp: the root and every bind are read-only (EROFS);
# an existing host file owned by root refuses the sandbox uid first (EACCES),
# directories that do not exist cannot be created (ENOENT on a read-only
# parent comes first for a missing path component).
import os

TARGETS = [
    "/pwned", "/usr/pwned", "/usr/lib/python3.11/os.py", "/usr/lib/python3.11/pwned.py",
    "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc", "/usr/lib/python3/dist-packages/pwned.pth",
    "/usr/lib/python3/dist-packages/numpy/__init__.py", "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/etc/passwd", "/etc/pwned", "/etc/ld.so.preload", "/etc/ld.so.cache", "/etc/hosts",
    "/dev/pwned", "/dev/shm/pwned", "/run/pwned", "/home/pwned", "/root/.bashrc", "/var/tmp/pwned",
    "/proc/pwned", "/proc/self/pwned",
]


def attempt(path):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as e:
        return e.errno
    os.close(fd)
    return "opened"


def main():
    out = {path: attempt(path) for path in TARGETS}
    for name, fn in (("mkdir_/x", lambda: os.mkdir("/x")),
                     ("mkdir_/dev/shm", lambda: os.mkdir("/dev/shm")),
                     ("rename_etc_passwd", lambda: os.rename("/etc/passwd", "/etc/passwd.old")),
                     ("unlink_etc_hosts", lambda: os.unlink("/etc/hosts")),
                     ("symlink_/etc/x", lambda: os.symlink("/tmp", "/etc/x")),
                     ("utime_os_py", lambda: os.utime("/usr/lib/python3.11/os.py")),
                     ("truncate_os_py", lambda: os.truncate("/usr/lib/python3.11/os.py", 0))):
        try:
            fn()
            out[name] = "done"
        except OSError as e:
            out[name] = e.errno
    return out
