# expect: {"status": 200, "result": {"clone_CLONE_NEWUSER": 1, "clone_CLONE_NEWNS": 1, "clone_CLONE_NEWPID": 1, "clone_CLONE_NEWNET": 1, "clone_CLONE_NEWIPC": 1, "clone_CLONE_NEWUTS": 1, "clone_CLONE_NEWCGROUP": 1, "clone_CLONE_NEWTIME": 1, "clone_CLONE_PARENT": 1, "unshare_CLONE_NEWUSER": 1, "unshare_all": 1, "unshare_files": 1, "setns": 1, "clone3_newuser": 38, "plain_clone_child_exit": 7}}
# New namespaces (the usual first step of a container escape, e.g. a user
# namespace to regain capabilities): clone() with any CLONE_NEW* flag is
# EPERM, clone3 (whose flags a filter cannot read) is ENOSYS, unshare and
# setns are EPERM. So is clone(CLONE_PARENT): the new process would be a
# child of the zygote, outside the sandbox's PID namespace, and without a
# cgroup the CPU watchdog (which walks the sandbox's process tree) never saw
# its CPU time. Plain fork-like clone still works.
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SIGCHLD = 17
FLAGS = {
    "CLONE_NEWUSER": 0x10000000, "CLONE_NEWNS": 0x00020000, "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000, "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWTIME": 0x00000080, "CLONE_PARENT": 0x00008000,
}


def sc(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if rc == 0:
        os._exit(0)  # a child was created after all: leave at once
    return ctypes.get_errno() if rc == -1 else "created child"


def main():
    out = {"clone_" + name: sc(56, flag | SIGCHLD, 0, 0, 0, 0) for name, flag in FLAGS.items()}
    out["unshare_" + "CLONE_NEWUSER"] = sc(272, FLAGS["CLONE_NEWUSER"])
    out["unshare_all"] = sc(272, sum(flag for name, flag in FLAGS.items() if name != "CLONE_PARENT"))
    out["unshare_files"] = sc(272, 0x400)
    out["setns"] = sc(308, 0, 0)
    # clone3 with a struct asking for a new user namespace.
    args = (ctypes.c_uint64 * 11)(FLAGS["CLONE_NEWUSER"], 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, 0)
    out["clone3_newuser"] = sc(435, ctypes.addressof(args), ctypes.sizeof(args))
    # For contrast: an ordinary fork through clone() is allowed.
    pid = libc.syscall(ctypes.c_long(56), ctypes.c_long(SIGCHLD), ctypes.c_long(0), ctypes.c_long(0),
                       ctypes.c_long(0), ctypes.c_long(0))
    if pid == 0:
        os._exit(7)
    _, status = os.waitpid(pid, 0)
    out["plain_clone_child_exit"] = os.waitstatus_to_exitcode(status)
    return out
