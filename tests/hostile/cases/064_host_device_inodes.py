# expect: {"status": 200, "result": {"null": {"chmod": 1, "unlink": 30}, "zero": {"chmod": 1, "unlink": 30}, "full": {"chmod": 1, "unlink": 30}, "random": {"chmod": 1, "unlink": 30}, "urandom": {"chmod": 1, "unlink": 30}, "uid_map_outside_is_root": false}}
# /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom are bind
# mounts of the HOST's device nodes (the same inodes): the sandbox may use
# them, but must not be able to change them. chmod to the mode each already
# has (a no-op on the host if it were allowed) must be refused with EPERM,
# as must unlink. The sandbox uid must not be the host's root (uid_map).
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
            os.unlink(path)
            res["unlink"] = "done"
        except OSError as e:
            res["unlink"] = e.errno
        out[name] = res
    with open("/proc/self/uid_map") as f:
        inside, outside, count = f.read().split()
    out["uid_map_outside_is_root"] = outside == "0"
    return out
