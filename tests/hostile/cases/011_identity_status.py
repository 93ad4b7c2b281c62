# expect: {"status": 200, "result": {"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000", "CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2", "prctl_dumpable": 0, "prctl_seccomp": 2, "prctl_no_new_privs": 1}}
# Capabilities (all five sets), no_new_privs, seccomp mode and dumpability as
# the kernel reports them in /proc/self/status and through prctl().
import ctypes


def main():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
                fields[key] = value.strip()
    libc = ctypes.CDLL(None, use_errno=True)
    PR_GET_DUMPABLE, PR_GET_SECCOMP, PR_GET_NO_NEW_PRIVS = 3, 21, 39
    fields["prctl_dumpable"] = libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)
    fields["prctl_seccomp"] = libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0)
    fields["prctl_no_new_privs"] = libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
    return fields
