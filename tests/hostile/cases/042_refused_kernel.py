# expect: {"status": 200, "result": {"init_module": 1, "finit_module": 1, "delete_module": 1, "kexec_load": 1, "kexec_file_load": 1, "reboot": 1, "swapon": 1, "swapoff": 1, "bpf": 1, "perf_event_open": 1, "userfaultfd": 1, "io_uring_setup": 1, "io_uring_enter": 1, "io_uring_register": 1, "keyctl": 1, "add_key": 1, "request_key": 1, "syslog": 1, "settimeofday": 1, "clock_settime": 1, "adjtimex": 1, "sethostname": 1, "setdomainname": 1, "personality": 1, "seccomp": 1, "iopl": 1, "ioperm": 1, "modify_ldt": 1, "vhangup": 1, "lookup_dcookie": 1, "kcmp": 1, "pidfd_open": 1, "pidfd_getfd": 1, "memfd_secret": 1, "migrate_pages": 1, "move_pages": 1, "set_mempolicy": 1, "mbind": 1, "fanotify_init": 1, "inotify_init1": 1}}
# Kernel attack surface and host-wide state: modules, kexec, reboot, swap,
# BPF, perf, userfaultfd, io_uring, the key rings, syslog, clocks, host
# name, personality, seccomp itself. All EPERM from the filter. Arguments
# are harmless (NULL/invalid pointers, bad magic) in case it were missing.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
BAD = 1

CALLS = {
    "init_module": (175, BAD, 0, BAD),
    "finit_module": (313, -1, BAD, 0),
    "delete_module": (176, BAD, 0),
    "kexec_load": (246, 0, 0, 0, 0),
    "kexec_file_load": (320, -1, -1, 0, BAD, 0),
    "reboot": (169, 0, 0, 0, 0),
    "swapon": (167, BAD, 0),
    "swapoff": (168, BAD),
    "bpf": (321, 0, BAD, 0),
    "perf_event_open": (298, BAD, 0, -1, -1, 0),
    "userfaultfd": (323, 0),
    "io_uring_setup": (425, 1, BAD),
    "io_uring_enter": (426, -1, 0, 0, 0, 0, 0),
    "io_uring_register": (427, -1, 0, 0, 0),
    "keyctl": (250, 0, 0, 0, 0, 0),
    "add_key": (248, BAD, BAD, 0, 0, 0),
    "request_key": (249, BAD, BAD, 0, 0),
    "syslog": (103, 3, BAD, 16),
    "settimeofday": (164, BAD, BAD),
    "clock_settime": (227, 0, BAD),
    "adjtimex": (159, BAD),
    "sethostname": (170, BAD, -1),
    "setdomainname": (171, BAD, -1),
    "personality": (135, 0xFFFFFFFF),
    "seccomp": (317, 0, 0, 0),
    "iopl": (172, 3),
    "ioperm": (173, 0, 1024, 1),
    "modify_ldt": (154, 0, BAD, 0),
    "vhangup": (153,),
    "lookup_dcookie": (212, 0, BAD, 0),
    "kcmp": (312, 1, 1, 0, 0, 0),
    "pidfd_open": (434, 1, 0),
    "pidfd_getfd": (438, -1, 0, 0),
    "memfd_secret": (447, 0),
    "migrate_pages": (256, 0, 0, BAD, BAD),
    "move_pages": (279, 0, 0, BAD, BAD, BAD, 0),
    "set_mempolicy": (238, 0, 0, 0),
    "mbind": (237, 0, 0, 0, 0, 0, 0),
    "fanotify_init": (300, 0, 0),
    "inotify_init1": (294, 0),
}


def main():
    out = {}
    for name, (nr, *args) in CALLS.items():
        ctypes.set_errno(0)
        rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
        out[name] = ctypes.get_errno() if rc == -1 else "returned %d" % rc
    return out
