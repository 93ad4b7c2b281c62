# expect: {"status": 200, "result": {"execv_python": 1, "execv_bin_sh": 1, "execv_ld_so": 1, "execv_tmp_script": 1, "execve_raw": 1, "execveat_raw": 1, "subprocess_sh": 1, "subprocess_ld_so": 1, "posix_spawn": 1}}
# Running another program is refused whatever the route: os.execv of the
# system Python, of a shell that is not even there, subprocess, posix_spawn,
# execveat, and a script made executable in /tmp (which is noexec as well).
import ctypes
import os
import subprocess

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def try_exec(fn):
    pid = os.fork()
    if pid == 0:
        try:
            fn()
            code = 100
        except OSError as e:
            code = e.errno
        except BaseException:
            code = 101
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main():
    with open("/tmp/x.sh", "w") as f:
        f.write("#!/usr/lib/python3.11\nprint(1)\n")
    os.chmod("/tmp/x.sh", 0o755)
    out = {
        "execv_python": try_exec(lambda: os.execv("/usr/bin/python3.11", ["python3.11", "-c", "1"])),
        "execv_bin_sh": try_exec(lambda: os.execv("/bin/sh", ["sh", "-c", "true"])),
        "execv_ld_so": try_exec(lambda: os.execv("/lib64/ld-linux-x86-64.so.2", ["ld.so", "--help"])),
        "execv_tmp_script": try_exec(lambda: os.execv("/tmp/x.sh", ["x.sh"])),
        "execve_raw": try_exec(lambda: _raw(59, 1, 0, 0)),
        "execveat_raw": try_exec(lambda: _raw(322, -100, 1, 0, 0, 0)),
    }
    for name, argv in (("subprocess_sh", ["/bin/sh", "-c", "true"]),
                       ("subprocess_ld_so", ["/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "--version"])):
        try:
            subprocess.run(argv, timeout=5)
            out[name] = "ran"
        except OSError as e:
            out[name] = e.errno
    try:
        os.posix_spawn("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", ["ld.so", "--version"], {})
        out["posix_spawn"] = "spawned"
    except OSError as e:
        out["posix_spawn"] = e.errno
    return out


def _raw(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if rc == -1:
        raise OSError(ctypes.get_errno(), "raw syscall")
