# expect: {"status": 200, "result": {"init": {"Uid": "65534", "CapEff": "0000000000000000", "CapBnd": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"}, "init_mem": "EACCES", "init_ns": "EACCES", "init_fds": "EACCES", "pids": [1, 2], "me": 2, "parent": 0}}
# The sandbox's init is made ahead of the request by the jailer (a nest) and
# the script's process is forked from the zygote into it. The init shares
# the script's namespaces and uid, so it must hold nothing the script could
# use: no capability, no_new_privs and the seccomp filter like the script,
# and not dumpable, so its memory, namespaces and descriptors cannot be
# opened through /proc. The script's parent (the zygote) is outside the
# namespace: getppid() is 0, and no other process is visible.
import errno
import os


def status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()[0] if value.split() else ""
    return {k: fields.get(k) for k in ("Uid", "CapEff", "CapBnd", "NoNewPrivs", "Seccomp")}


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def main():
    return {
        "init": status(1),
        "init_mem": attempt(lambda: open("/proc/1/mem", "rb").read(1)),
        "init_ns": attempt(lambda: os.open("/proc/1/ns/mnt", os.O_RDONLY)),
        "init_fds": attempt(lambda: os.listdir("/proc/1/fd")),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "me": os.getpid(),
        "parent": os.getppid(),
    }
