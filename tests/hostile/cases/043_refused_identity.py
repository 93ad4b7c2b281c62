# expect: {"status": 200, "result": {"setuid_0": 1, "setuid_self": 1, "setgid_0": 1, "setreuid": 1, "setregid": 1, "setresuid": 1, "setresgid": 1, "setfsuid": "unchanged", "setfsgid": "unchanged", "setgroups": 1, "capset": 1, "raise_rlimits": {"RLIMIT_NPROC": "ValueError", "RLIMIT_NOFILE": "ValueError", "RLIMIT_CPU": "ValueError", "RLIMIT_FSIZE": "ValueError", "RLIMIT_CORE": "ValueError"}}}
# Changing identity: the setuid/setgid family, setgroups and capset are
# refused by seccomp (EPERM), and the rlimits cannot be raised (that needs
# CAP_SYS_RESOURCE, which the sandbox does not have).
import ctypes
import resource

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

CALLS = {
    "setuid_0": (105, 0),
    "setuid_self": (105, 65534),
    "setgid_0": (106, 0),
    "setreuid": (113, 0, 0),
    "setregid": (114, 0, 0),
    "setresuid": (117, 0, 0, 0),
    "setresgid": (119, 0, 0, 0),
    "setfsuid": (122, 0),
    "setfsgid": (123, 0),
    "setgroups": (116, 0, 0),
    "capset": (126, 1, 1),
}


def main():
    out = {}
    for name, (nr, *args) in CALLS.items():
        ctypes.set_errno(0)
        rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
        # setfsuid/setfsgid never fail: they return the previous id; check it did not change.
        if nr in (122, 123):
            out[name] = "unchanged" if rc in (-1, 65534) else "returned %d" % rc
        else:
            out[name] = ctypes.get_errno() if rc == -1 else "returned %d" % rc
    raised = {}
    for rname in ("RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE"):
        res = getattr(resource, rname)
        soft, hard = resource.getrlimit(res)
        try:
            resource.setrlimit(res, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            raised[rname] = "raised"
        except ValueError:
            raised[rname] = "ValueError"
        except OSError as e:
            raised[rname] = e.errno
    out["raise_rlimits"] = raised
    return out
