# expect: {"status": 200, "result": {"open": [], "errnos": [9]}}
# Brute force: fstat() every descriptor number 4..1024 (RLIMIT_NOFILE is 64,
# so anything above would be an inherited leak) and try to use any that is
# open as a socket (accept on the server's listening socket).
import os


def main():
    open_fds = []
    errnos = set()
    for fd in range(4, 1025):
        try:
            os.fstat(fd)
            open_fds.append(fd)
        except OSError as e:
            errnos.add(e.errno)
    return {"open": open_fds, "errnos": sorted(errnos)}
