# expect: {"status": 200, "result": {"ioctl_TIOCSTI_stdin": 1, "ioctl_TIOCSTI_stdout": 1, "ioctl_TIOCSCTTY": 1, "ioctl_FIFREEZE": 1, "ioctl_BLKGETSIZE64": 1, "ioctl_FIONREAD_allowed": "returned 0", "prctl_SET_DUMPABLE": 1, "prctl_SET_SECCOMP": 1, "prctl_CAP_AMBIENT_RAISE": 1, "prctl_CAPBSET_READ": 1, "prctl_SET_PDEATHSIG": 1, "prctl_SET_MM": 1, "prctl_SET_CHILD_SUBREAPER": 1, "prctl_SET_PTRACER_ANY": 1, "prctl_SET_NO_NEW_PRIVS": 1, "prctl_SET_NAME_allowed": "returned 0"}}
# ioctl is limited to a few terminal/descriptor queries (no TIOCSTI to push
# keystrokes into a terminal, no device ioctls), prctl to names and queries
# (no turning dumpability back on, no ambient capabilities, no death signal,
# no PR_SET_MM, no child subreaper, no own seccomp mode).
import ctypes
import fcntl
import os
import termios

libc = ctypes.CDLL(None, use_errno=True)


def call(fn, *args):
    ctypes.set_errno(0)
    rc = fn(*args)
    return ctypes.get_errno() if rc == -1 else "returned %d" % rc


def main():
    ch = ctypes.c_char(b"x")
    r, w = os.pipe()
    out = {
        "ioctl_TIOCSTI_stdin": call(libc.ioctl, 0, termios.TIOCSTI, ctypes.byref(ch)),
        "ioctl_TIOCSTI_stdout": call(libc.ioctl, 1, termios.TIOCSTI, ctypes.byref(ch)),
        "ioctl_TIOCSCTTY": call(libc.ioctl, 0, termios.TIOCSCTTY, 1),
        "ioctl_FIFREEZE": call(libc.ioctl, r, 0xC0045877, 0),
        "ioctl_BLKGETSIZE64": call(libc.ioctl, 0, 0x80081272, 0),
        "ioctl_FIONREAD_allowed": call(libc.ioctl, r, termios.FIONREAD, ctypes.byref(ctypes.c_int())),
        "prctl_SET_DUMPABLE": call(libc.prctl, 4, 1, 0, 0, 0),
        "prctl_SET_SECCOMP": call(libc.prctl, 22, 1, 0, 0, 0),
        "prctl_CAP_AMBIENT_RAISE": call(libc.prctl, 47, 2, 21, 0, 0),
        "prctl_CAPBSET_READ": call(libc.prctl, 23, 21, 0, 0, 0),
        "prctl_SET_PDEATHSIG": call(libc.prctl, 1, 9, 0, 0, 0),
        "prctl_SET_MM": call(libc.prctl, 35, 8, 0, 0, 0),
        "prctl_SET_CHILD_SUBREAPER": call(libc.prctl, 36, 1, 0, 0, 0),
        "prctl_SET_PTRACER_ANY": call(libc.prctl, 0x59616D61, -1, 0, 0, 0),
        "prctl_SET_NO_NEW_PRIVS": call(libc.prctl, 38, 1, 0, 0, 0),
        "prctl_SET_NAME_allowed": call(libc.prctl, 15, ctypes.c_char_p(b"hostile"), 0, 0, 0),
    }
    os.close(r)
    os.close(w)
    return out
