# expect: {"status": 200, "result": {"pid": 2, "ppid": 1, "resuid": [65534, 65534, 65534], "resgid": [65534, 65534, 65534], "groups": []}}
# The script must run as PID 2 of its own PID namespace (PID 1 is the
# jail's init, its parent), as the unprivileged
# sandbox uid/gid (real, effective and saved), with no supplementary groups.
import os


def main():
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "resuid": list(os.getresuid()),
        "resgid": list(os.getresgid()),
        "groups": sorted(os.getgroups()),
    }
