# expect: {"status": 200, "result": {"sysrq_trigger_w": "absent", "core_pattern_w": 30, "panic_w": 30, "drop_caches_w": 30, "kcore_r": "absent", "dev_mem_r": 2, "dev_kmsg_r": 2, "sys_kernel": 2, "uid_map_w": 30, "setgroups_w": 30, "oom_score_adj_w": 30, "kallsyms_addresses": ["0000000000000000"], "modules_addresses": "absent"}}
# Host-wide kernel interfaces: /proc/sysrq-trigger and /proc/sys are on a
# read-only proc (EROFS); /proc/kcore needs CAP_SYS_RAWIO (EPERM); kernel
# addresses in /proc/kallsyms and /proc/modules are hidden (all zero);
# /dev/mem and /sys are not there; the uid/gid maps and the OOM score
# adjustment of the process cannot be rewritten.
import os


def open_errno(path, flags):
    try:
        fd = os.open(path, flags)
    except OSError as e:
        return e.errno
    os.close(fd)
    return "opened"


def maybe(path, flags):
    # Kernel-config dependent: without CONFIG_MAGIC_SYSRQ / CONFIG_PROC_KCORE
    # the file is not there at all (expected values are for such a kernel;
    # with it, EROFS (30) and EPERM (1) respectively).
    return open_errno(path, flags) if os.path.lexists(path) else "absent"


def main():
    out = {
        "sysrq_trigger_w": maybe("/proc/sysrq-trigger", os.O_WRONLY),
        "core_pattern_w": open_errno("/proc/sys/kernel/core_pattern", os.O_WRONLY),
        "panic_w": open_errno("/proc/sys/kernel/panic", os.O_WRONLY),
        "drop_caches_w": open_errno("/proc/sys/vm/drop_caches", os.O_WRONLY),
        "kcore_r": maybe("/proc/kcore", os.O_RDONLY),
        "dev_mem_r": open_errno("/dev/mem", os.O_RDONLY),
        "dev_kmsg_r": open_errno("/dev/kmsg", os.O_RDONLY),
        "sys_kernel": open_errno("/sys/kernel/uevent_helper", os.O_WRONLY),
        "uid_map_w": open_errno("/proc/self/uid_map", os.O_WRONLY),
        "setgroups_w": open_errno("/proc/self/setgroups", os.O_WRONLY),
        "oom_score_adj_w": open_errno("/proc/self/oom_score_adj", os.O_WRONLY),
    }
    try:
        with open("/proc/kallsyms") as f:
            addrs = {line.split()[0] for line in f}
        out["kallsyms_addresses"] = sorted(addrs)
    except OSError as e:
        out["kallsyms_addresses"] = e.errno
    if os.path.lexists("/proc/modules"):
        with open("/proc/modules") as f:
            out["modules_addresses"] = sorted({line.split()[-1] for line in f})
    else:
        out["modules_addresses"] = "absent"  # a kernel without module support
    return out
