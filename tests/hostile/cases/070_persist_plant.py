# expect: {"status": 200, "result": {"tmp": ["evil.pth", "json.py", "wj_persist_marker"], "abstract_socket": "listening", "shm": 1, "mq": 1}}
# First half of an ordered pair (071 checks): leave state behind for the
# next request. A file, a module and a .pth in /tmp, a listening abstract
# Unix socket, a SysV shared memory segment (refused: EPERM), a POSIX
# message queue (refused: EPERM).
import ctypes
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def main():
    with open("/tmp/wj_persist_marker", "w") as f:
        f.write("left by 070")
    with open("/tmp/json.py", "w") as f:
        f.write("raise SystemExit('poisoned')\n")
    with open("/tmp/evil.pth", "w") as f:
        f.write("import os; os._exit(3)\n")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0wj-persist-070")
    s.listen(1)
    s.detach()  # keep it open until the process ends
    ctypes.set_errno(0)
    shm = libc.syscall(ctypes.c_long(29), ctypes.c_long(0x57415252), ctypes.c_long(4096), ctypes.c_long(0o1000 | 0o666))
    shm_errno = ctypes.get_errno() if shm == -1 else "created"
    ctypes.set_errno(0)
    mq = libc.syscall(ctypes.c_long(240), ctypes.c_char_p(b"wj-persist"), ctypes.c_long(0o100 | 2),
                      ctypes.c_long(0o666), ctypes.c_long(0))
    mq_errno = ctypes.get_errno() if mq == -1 else "created"
    return {"tmp": sorted(os.listdir("/tmp")), "abstract_socket": "listening", "shm": shm_errno, "mq": mq_errno}
