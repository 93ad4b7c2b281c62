# expect: {"status": 200, "result": {"mount": 1, "umount2": 1, "pivot_root": 1, "chroot": 1, "open_tree": 1, "move_mount": 1, "fsopen": 1, "fsconfig": 1, "fsmount": 1, "fspick": 1, "mount_setattr": 1, "name_to_handle_at": 1, "open_by_handle_at": 1, "mknod": 1, "mknodat": 1, "quotactl": 1, "acct": 1}}
# Filesystem-namespace escapes: mount, umount2, pivot_root, chroot, the new
# mount API (fsopen, fsmount, move_mount, open_tree, mount_setattr),
# open_by_handle_at (the classic container breakout) and mknod are refused
# by seccomp with EPERM. Arguments are invalid pointers, so even without the
# filter nothing would happen but EFAULT.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
BAD = 1  # an address that cannot be read

CALLS = {
    "mount": (165, BAD, BAD, BAD, 0, 0),
    "umount2": (166, BAD, 0),
    "pivot_root": (155, BAD, BAD),
    "chroot": (161, BAD),
    "open_tree": (428, -100, BAD, 0),
    "move_mount": (429, -100, BAD, -100, BAD, 0),
    "fsopen": (430, BAD, 0),
    "fsconfig": (431, -1, 0, 0, 0, 0),
    "fsmount": (432, -1, 0, 0),
    "fspick": (433, -100, BAD, 0),
    "mount_setattr": (442, -100, BAD, 0, 0, 0),
    "name_to_handle_at": (303, -100, BAD, BAD, BAD, 0),
    "open_by_handle_at": (304, -1, BAD, 0),
    "mknod": (133, BAD, 0o20666, 0x103),
    "mknodat": (259, -100, BAD, 0o20666, 0x103),
    "quotactl": (179, 0, BAD, 0, 0),
    "acct": (163, BAD),
}


def main():
    out = {}
    for name, (nr, *args) in CALLS.items():
        ctypes.set_errno(0)
        rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
        out[name] = ctypes.get_errno() if rc == -1 else "returned %d" % rc
    return out
