# expect: {"status": 200, "result": {"init": ["warmjail", "__zygote"], "self": ["warmjail", "__zygote"]}}
# The zygote's command line is every sandbox's: the init's (PID 1) and the
# script's own. It carries nothing of the host (no cgroup paths, no PIDs, no
# limits): the zygote gets its configuration over its control socket.


def cmdline(pid):
    with open("/proc/%s/cmdline" % pid, "rb") as f:
        return [arg.decode("utf-8", "replace") for arg in f.read().split(b"\0") if arg]


def main():
    return {"init": cmdline(1), "self": cmdline("self")}
