# expect: {"status": 200, "result": {"null": {"chmod": 30, "unlink": 30, "utime": 30, "write": 3}, "zero": {"chmod": 30, "unlink": 30, "utime": 30, "write": 3}, "full": {"chmod": 30, "unlink": 30, "utime": 30, "write": 3}, "random": {"chmod": 30, "unlink": 30, "utime": 30, "write": 3}, "urandom": {"chmod": 30, "unlink": 30, "utime": 30, "write": 3}, "uid_map_outside_is_root": false}}
# /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom are bind
# mounts of the HOST's device nodes (the same inodes): the sandbox may use
# them, but must not be able to change them: each is a read-only mount, so
# chmod to the mode each already has (a no-op on the host if it were
# allowed), unlink and setting the node's times are refused with EROFS. The
# binds were once writable mounts, and utime() changed the host's /dev/null
# (and two sandboxes running at once could signal each other through its
# mtime). Writing to the device still works. The sandbox uid must not be
# the host's root (uid_map).
import os
import stat


def main():
    out = {}
    for name in ("null", "zero", "full", "random", "urandom"):
        path = "/dev/" + name
        mode = stat.S_IMODE(os.stat(path).st_mode)
        res = {}
        try:
            os.chmod(path, mode)  # same mode: harmless even if it succeeds
            res["chmod"] = "allowed"
        except OSError as e:
            res["chmod"] = e.errno
        try:
            os.utime(path)  # to now: what a covert sender would do
            res["utime"] = "allowed"
        except OSError as e:
            res["utime"] = e.errno
        with open(path, "wb", buffering=0) as f:
            try:
                res["write"] = f.write(b"abc")
            except OSError as e:  # /dev/full
                res["write"] = 3 if e.errno == 28 else e.errno
        try:
            os.unlink(path)
            res["unlink"] = "done"
        except OSError as e:
            res["unlink"] = e.errno
        out[name] = res
    with open("/proc/self/uid_map") as f:
        inside, outside, count = f.read().split()
    out["uid_map_outside_is_root"] = outside == "0"
    return out
