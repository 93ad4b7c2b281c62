# expect: {"status": 200, "result": {"shmget": 1, "shmget_key": 1, "shmat": 1, "shmctl": 1, "semget": 1, "semop": 1, "msgget": 1, "msgsnd": 1, "mq_open": 1, "mq_unlink": 1}}
# SysV IPC (shared memory, semaphores, message queues) and POSIX message
# queues are refused: no state can be left in an IPC namespace, and none can
# be reached.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
IPC_PRIVATE, IPC_CREAT = 0, 0o1000

CALLS = {
    "shmget": (29, IPC_PRIVATE, 4096, IPC_CREAT | 0o600),
    "shmget_key": (29, 0x5741524D, 4096, IPC_CREAT | 0o666),
    "shmat": (30, 0, 0, 0),
    "shmctl": (31, 0, 2, 0),
    "semget": (64, IPC_PRIVATE, 1, IPC_CREAT | 0o600),
    "semop": (65, 0, 1, 1),
    "msgget": (68, IPC_PRIVATE, IPC_CREAT | 0o600),
    "msgsnd": (69, 0, 1, 8, 0),
    "mq_open": (240, 1, 0o100, 0o600, 0),
    "mq_unlink": (241, 1),
}


def main():
    out = {}
    for name, (nr, *args) in CALLS.items():
        ctypes.set_errno(0)
        rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
        out[name] = ctypes.get_errno() if rc == -1 else "returned %d" % rc
    return out
