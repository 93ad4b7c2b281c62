# expect: {"status": 200, "result": {"fds": [0, 1, 2, 3], "kinds": {"0": "chr", "1": "fifo", "2": "fifo", "3": "fifo"}, "fd0": "/dev/null"}}
# Only 0 (/dev/null), 1 and 2 (output pipes) and 3 (the result pipe) are
# open: nothing of the server or the zygote (listening socket, control
# socket, log files, other requests' pipes) is inherited.
import os
import stat


def kind(fd):
    mode = os.fstat(fd).st_mode
    for name, test in (("fifo", stat.S_ISFIFO), ("chr", stat.S_ISCHR), ("sock", stat.S_ISSOCK),
                       ("reg", stat.S_ISREG), ("dir", stat.S_ISDIR)):
        if test(mode):
            return name
    return "other"


def main():
    # The listing itself uses a descriptor, closed again by the time it
    # returns: keep only the numbers still open afterwards.
    listed = []
    for n in sorted(int(n) for n in os.listdir("/proc/self/fd")):
        try:
            os.fstat(n)
            listed.append(n)
        except OSError:
            pass
    return {
        "fds": listed,
        "kinds": {str(n): kind(n) for n in listed},
        "fd0": os.readlink("/proc/self/fd/0"),
    }
