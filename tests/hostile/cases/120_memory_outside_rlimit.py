# expect: {"status": 200, "result": {"memfd_create": 1, "F_SETPIPE_SZ": 1, "SO_SNDBUF": 1, "tmp_mib": 64, "fds_end": 24, "buffers_within_bound": true}}
# limits: {"memory_mb": 256, "timeout_s": 20}
# Memory that RLIMIT_AS does not count (the unprivileged mode's only memory
# limit): a memfd's pages, /tmp, pipe and socket buffers. memfd_create,
# F_SETPIPE_SZ and SO_SNDBUF are refused (EPERM), /tmp stops at its size
# (64 MiB), and descriptors stop at RLIMIT_NOFILE (EMFILE, 24), which bounds
# what one process can park in socket buffers: 64 descriptors at most one
# default buffer (208 KiB, plus the kernel's bookkeeping) each, 16 MiB.
# (A memory cgroup counts /tmp too: under a memory_mb below the /tmp size the
# cgroup mode answers memory_limit; 256 keeps one outcome for both modes.)
import fcntl
import os
import socket

F_SETPIPE_SZ = 1031
BOUND = 64 * 256 * 1024


def errno_of(call):
    try:
        call()
    except OSError as e:
        return e.errno
    return 0


def fill_tmp():
    written = 0
    chunk = b"x" * (1 << 20)
    with open("/tmp/fill", "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(chunk)
        except OSError:
            pass
    return written >> 20


def main():
    out = {"memfd_create": errno_of(lambda: os.memfd_create("held"))}
    r, w = os.pipe()
    out["F_SETPIPE_SZ"] = errno_of(lambda: fcntl.fcntl(w, F_SETPIPE_SZ, 1 << 20))
    os.close(r)
    os.close(w)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    out["SO_SNDBUF"] = errno_of(lambda: probe.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22))
    probe.close()
    out["tmp_mib"] = fill_tmp()
    # Park bytes in socket buffers: fill one end until it would block, keep
    # only the receiving end, repeat until the descriptors run out.
    held, kept, chunk = 0, [], b"y" * 65536
    while True:
        try:
            a, b = socket.socketpair()
        except OSError as e:
            out["fds_end"] = e.errno
            break
        a.setblocking(False)
        try:
            while True:
                held += a.send(chunk)
        except BlockingIOError:
            pass
        a.close()
        kept.append(b)
    out["buffers_within_bound"] = 0 < held <= BOUND
    return out
