# expect: {"status": 200, "result": {"cgroup_paths": ["/"], "sys_fs_cgroup": false}}
# Own cgroup namespace: /proc/self/cgroup names only "/" (the host's cgroup
# tree and the server's paths are not revealed), /sys/fs/cgroup is absent,
# so the sandbox cannot raise its own memory or pids limit.
import os


def main():
    with open("/proc/self/cgroup") as f:
        paths = sorted({line.rstrip("\n").split(":", 2)[2] for line in f})
    return {"cgroup_paths": paths, "sys_fs_cgroup": os.path.exists("/sys/fs/cgroup")}
