# expect: {"status": 200, "result": {"root": ["bin", "dev", "etc", "lib", "lib64", "proc", "tmp", "usr"], "dev": ["fd", "full", "null", "random", "stderr", "stdin", "stdout", "urandom", "zero"], "etc": ["alternatives", "group", "hostname", "hosts", "ld.so.cache", "localtime", "passwd"], "present": []}}
# The root holds only what Python needs: no /home, /root, /run, /var,
# /dev/shm, /sys, no shells or setuid tools, no repository or server binary.
import os

PROBES = ["/home", "/root", "/run", "/var", "/srv", "/opt", "/mnt", "/sys", "/boot", "/dev/shm",
          "/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg", "/dev/tty", "/dev/ptmx", "/dev/pts",
          "/dev/vda", "/dev/sda", "/dev/fuse", "/dev/net/tun", "/dev/userfaultfd", "/dev/kvm",
          "/bin/sh", "/bin/bash", "/usr/bin/python3", "/usr/bin/python3.11", "/usr/sbin",
          "/usr/bin/su", "/usr/bin/sudo", "/usr/bin/passwd", "/usr/bin/newuidmap", "/bin/mount",
          "/work", "/work/main", "/etc/shadow", "/etc/sudoers", "/var/run/docker.sock",
          "/run/containerd", "/sys/fs/cgroup"]


def main():
    return {
        "root": sorted(os.listdir("/")),
        "dev": sorted(os.listdir("/dev")),
        # ssl/certs is bound only where the host has CA certificates (the
        # image has none): present or not, it is read-only.
        "etc": sorted(set(os.listdir("/etc")) - {"ssl"}),
        "present": sorted(p for p in PROBES if os.path.lexists(p)),
    }
