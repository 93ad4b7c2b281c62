# expect: {"status": 200, "result": {"preadv_plain": "ok", "preadv_nowait": 1, "pwritev_nowait": 1, "fadvise_sequential": "ok", "fadvise_dontneed": 1}}
# preadv2(RWF_NOWAIT) fails with EAGAIN for a page not in the page cache,
# which tells one tenant which modules another has imported; fadvise
# DONTNEED evicts a shared file's pages to probe them again. Both refused
# (EPERM); plain preadv2 and other advice still work. (mincore only reports
# pages of files the caller could write since Linux 5.0.)
import os


def errno_of(call):
    try:
        call()
    except OSError as e:
        return e.errno
    return "ok"


def main():
    fd = os.open("/usr/lib/python3.11/os.py", os.O_RDONLY)
    buf = bytearray(1)
    null = os.open("/dev/null", os.O_WRONLY)
    return {
        "preadv_plain": errno_of(lambda: os.preadv(fd, [buf], 0, 0)),
        "preadv_nowait": errno_of(lambda: os.preadv(fd, [buf], 0, os.RWF_NOWAIT)),
        "pwritev_nowait": errno_of(lambda: os.pwritev(null, [b"x"], 0, os.RWF_NOWAIT)),
        "fadvise_sequential": errno_of(lambda: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)),
        "fadvise_dontneed": errno_of(lambda: os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)),
    }
