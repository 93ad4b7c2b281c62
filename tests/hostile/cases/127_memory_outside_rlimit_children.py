# expect: {"status": 422, "error_type": "memory_limit", "error": "Script execution error: Memory limit exceeded"}
# expect_rlimit: {"status": 200, "result": {"memfd_create": 1, "tmp_mib": 64, "children": 7, "held_within_bound": true}}
# limits: {"memory_mb": 64, "timeout_s": 20}
# Memory parked in descriptors by several processes under memory_mb 64: the
# memory cgroup counts /tmp and socket buffers and ends the sandbox
# (memory_limit). RLIMIT_AS counts neither: there, memfd_create is refused,
# /tmp stops at 64 MiB, and each process parks at most RLIMIT_NOFILE (64)
# socket buffers of 208 KiB (16 MiB with the kernel's bookkeeping): the
# documented bound, --tmp-mb + processes x 16 MiB.
import os
import socket
import time

MiB = 1 << 20
CHILDREN = 7


def park_in_sockets():
    held, kept, chunk = 0, [], b"y" * 65536
    while True:
        try:
            a, b = socket.socketpair()
        except OSError:
            return held, kept
        a.setblocking(False)
        try:
            while True:
                held += a.send(chunk)
        except BlockingIOError:
            pass
        a.close()
        kept.append(b)


def main():
    out = {}
    try:
        fd = os.memfd_create("held")
        for _ in range(64):
            os.write(fd, b"m" * MiB)
        out["memfd_create"] = 0
    except OSError as e:
        out["memfd_create"] = e.errno
    written = 0
    with open("/tmp/fill", "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(b"t" * MiB)
        except OSError:
            pass
    out["tmp_mib"] = written // MiB
    r, w = os.pipe()
    kids = []
    for _ in range(CHILDREN):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            held, _ = park_in_sockets()
            os.write(w, b"%d\n" % held)
            time.sleep(60)
            os._exit(0)
        kids.append(pid)
    os.close(w)
    held, _ = park_in_sockets()
    with os.fdopen(r) as f:
        # One line per child (they keep the pipe open while they hold).
        reports = [int(f.readline()) for _ in kids]
    for pid in kids:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    out["children"] = len(reports)
    out["held_within_bound"] = held + sum(reports) <= (CHILDREN + 1) * 16 * MiB
    return out
