# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: killed by signal SIGSYS"}
# The x32 ABI (syscall number | 0x40000000 through the 64-bit entry) would
# let a filter written for x86_64 numbers be sidestepped: the process is
# killed outright with SIGSYS instead.
import ctypes


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    rc = libc.syscall(ctypes.c_long(39 | 0x40000000))  # x32 getpid
    return {"survived": True, "rc": rc, "errno": ctypes.get_errno()}
