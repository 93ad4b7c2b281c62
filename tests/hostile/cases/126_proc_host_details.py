# expect: {"status": 200, "result": {"cmdline": "hidden", "sys/kernel/random/boot_id": "hidden", "config.gz": "hidden", "keys": "hidden", "key-users": "hidden", "timer_list": "hidden", "sched_debug": "hidden", "kcore": "hidden", "acpi": "hidden", "bus": "hidden", "driver": "hidden", "scsi": "hidden", "after_write": "hidden"}}
# The sandbox's /proc is its PID namespace's own, but some entries are the
# host's whatever the namespace: the kernel command line, the boot id, the
# kernel config, keys, timers, hardware lists. They are masked as container
# runtimes mask them ("hidden": absent from this kernel, an empty file or an
# empty directory): a write to a masked file goes to /dev/null.
import os

ENTRIES = ["cmdline", "sys/kernel/random/boot_id", "config.gz", "keys", "key-users", "timer_list",
           "sched_debug", "kcore", "acpi", "bus", "driver", "scsi"]


def seen(entry):
    path = "/proc/" + entry
    if not os.path.lexists(path):
        return "hidden"
    try:
        if os.path.isdir(path):
            return "hidden" if not os.listdir(path) else "listed"
        with open(path, "rb") as f:
            return "hidden" if not f.read(64) else "readable"
    except OSError as e:
        return e.errno


def main():
    out = {entry: seen(entry) for entry in ENTRIES}
    try:
        fd = os.open("/proc/cmdline", os.O_WRONLY)
        os.write(fd, b"planted")
        os.close(fd)
    except OSError:
        pass
    out["after_write"] = seen("cmdline")
    return out
