# expect: {"status": 200, "result": {"prlimit_init_get": 1, "prlimit_init_set": 1, "prlimit_self_pid": 1, "prlimit_self": "ok", "init_nofile_unchanged": true, "kill_init": 0, "init_state": "S"}}
# The jail's init (PID 1) runs as the script's uid, so prlimit64 on it would
# pass the kernel's checks: lowering its limits (CPU, NOFILE) could make it
# die or fail. prlimit64 is allowed on the caller itself only (pid 0):
# pid 1, and even the script's own pid, get EPERM. SIGKILL to the init from
# inside its namespace is dropped by the kernel.
import os
import resource
import signal
import time


def errno_of(call):
    try:
        call()
    except OSError as e:
        return e.errno
    return "ok"


def init_nofile():
    with open("/proc/1/limits") as f:
        return [line for line in f if line.startswith("Max open files")]


def main():
    before = init_nofile()
    out = {
        "prlimit_init_get": errno_of(lambda: resource.prlimit(1, resource.RLIMIT_NOFILE)),
        "prlimit_init_set": errno_of(lambda: resource.prlimit(1, resource.RLIMIT_NOFILE, (4, 4))),
        "prlimit_self_pid": errno_of(lambda: resource.prlimit(os.getpid(), resource.RLIMIT_NOFILE)),
        "prlimit_self": errno_of(lambda: resource.prlimit(0, resource.RLIMIT_NOFILE)),
    }
    out["init_nofile_unchanged"] = init_nofile() == before
    os.kill(1, signal.SIGKILL)
    out["kill_init"] = 0
    time.sleep(0.2)
    with open("/proc/1/status") as f:
        out["init_state"] = [line.split()[1] for line in f if line.startswith("State:")][0]
    return out
