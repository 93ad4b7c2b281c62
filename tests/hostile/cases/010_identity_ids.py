# expect: {"status": 200, "result": {"pid": 2, "ppid": 0, "resuid": [65534, 65534, 65534], "resgid": [65534, 65534, 65534], "groups": []}}
# The script must run as PID 2 of its own PID namespace (PID 1 is the
# jail's init, its parent), as the unprivileged
# sandbox uid/gid (real, effective and saved), with no supplementary group
# but its own gid (a server that may not call setgroups -- an unprivileged
# one, as in the image -- passes its own groups on, and the user namespace
# shows an unmapped one as the overflow gid 65534; neither is a privilege).
import os


def main():
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "resuid": list(os.getresuid()),
        "resgid": list(os.getresgid()),
        "groups": sorted(g for g in os.getgroups() if g != os.getgid()),
    }
