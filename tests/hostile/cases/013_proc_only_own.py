# expect: {"status": 200, "result": {"before": [1, 2], "during": true, "after": [1, 2], "self_root_is_sandbox_root": true, "self_root_listing": ["bin", "dev", "etc", "lib", "lib64", "proc", "tmp", "usr"], "init_root": 13}}
# Own PID namespace: /proc lists only the jail's init (PID 1), this process
# (PID 2) and whatever it forks itself; /proc/self/root is the sandbox root,
# and the init's /proc entries that need ptrace access (root, fd, environ)
# are closed to the script (the init is not dumpable).
import os


def pids():
    return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())


def main():
    before = pids()
    child = os.fork()
    if child == 0:
        import time
        time.sleep(30)
        os._exit(0)
    during = pids()
    os.kill(child, 9)
    os.waitpid(child, 0)
    root = os.stat("/")
    self_root = os.stat("/proc/self/root/")
    try:
        os.stat("/proc/1/root/")
        p1root = "stat ok"
    except OSError as e:
        p1root = e.errno
    return {
        "before": before,
        "during": during == sorted(before + [child]),
        "after": pids(),
        "self_root_is_sandbox_root": (self_root.st_dev, self_root.st_ino) == (root.st_dev, root.st_ino),
        "self_root_listing": sorted(os.listdir("/proc/self/root")),
        "init_root": p1root,
    }
