# expect: {"status": 200, "result": {"listdir_fd": 13, "open_fd4_w": 13, "readlink_fd4": 13, "mem": 13, "environ": 13, "maps": 13, "root": 13, "cwd": 13, "own_fd4_closed": 9}}
# The init holds the status pipe the script must not write to (it could
# forge its own exit status) and the zygote's memory image. Its /proc
# entries that need ptrace access are closed to the script: fd, mem,
# environ, maps, root, cwd (EACCES, the init is not dumpable).
import os


def attempt(fn):
    try:
        fn()
        return "allowed"
    except OSError as e:
        return e.errno


def main():
    return {
        "listdir_fd": attempt(lambda: os.listdir("/proc/1/fd")),
        "open_fd4_w": attempt(lambda: os.close(os.open("/proc/1/fd/4", os.O_WRONLY))),
        "readlink_fd4": attempt(lambda: os.readlink("/proc/1/fd/4")),
        "mem": attempt(lambda: open("/proc/1/mem", "rb").close()),
        "environ": attempt(lambda: open("/proc/1/environ", "rb").read()),
        "maps": attempt(lambda: open("/proc/1/maps", "rb").read()),
        "root": attempt(lambda: os.listdir("/proc/1/root/")),
        "cwd": attempt(lambda: os.listdir("/proc/1/cwd/")),
        "own_fd4_closed": attempt(lambda: os.fstat(4)),
    }
