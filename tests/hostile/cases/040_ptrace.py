# expect: {"status": 200, "result": {"ptrace_traceme": 1, "ptrace_attach": 1, "ptrace_seize": 1, "process_vm_readv": 1, "process_vm_writev": 1, "proc_child_mem": 13}}
# Tracing and cross-process memory access, even of the script's own child:
# ptrace (TRACEME, ATTACH, SEIZE) and process_vm_readv/writev are refused by
# seccomp (EPERM); /proc/<child>/mem cannot be opened (the child is not
# dumpable, so only a ptrace-capable process may).
import ctypes
import os
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def sc(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return ctypes.get_errno() if rc == -1 else "returned %d" % rc


class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def main():
    secret = ctypes.create_string_buffer(b"x" * 64)
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    try:
        buf = ctypes.create_string_buffer(64)
        local = IOVec(ctypes.cast(buf, ctypes.c_void_p), 64)
        remote = IOVec(ctypes.cast(secret, ctypes.c_void_p), 64)
        out = {
            "ptrace_traceme": sc(101, 0, 0, 0, 0),
            "ptrace_attach": sc(101, 16, child, 0, 0),
            "ptrace_seize": sc(101, 0x4206, child, 0, 0),
            "process_vm_readv": sc(310, child, ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0),
            "process_vm_writev": sc(311, child, ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0),
        }
        try:
            with open("/proc/%d/mem" % child, "rb") as f:
                f.seek(ctypes.addressof(secret))
                out["proc_child_mem"] = "read %r" % f.read(8)
        except OSError as e:
            out["proc_child_mem"] = e.errno
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
    return out
