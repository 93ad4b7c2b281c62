# expect: {"status": 200, "result": {"listdir_p1root": 40, "listdir_etc": 40, "open_passwd": 40, "stat_up": 40, "stat_server": 40, "readlink_still_works": "/etc", "link_etc_passwd": 18, "link_os_py": 18, "link_dev_null": 18, "link_proc_self_exe": 18, "self_root_passwd": "sandbox:x:65534:65534:sandbox:/tmp:/nonexistent\n", "dotdot_from_tmp": ["bin", "dev", "etc", "lib", "lib64", "proc", "tmp", "usr"], "proc_self_root_same": true}}
# Symlinks planted in /tmp pointing out of the sandbox (to /proc/1/root, to
# /etc, to the old root's paths) are not followed: /tmp is mounted
# nosymfollow, so any path through them fails with ELOOP. Hard links across
# mounts fail with EXDEV. /proc/self/root leads only to the sandbox's own root.
import os


def attempt(fn):
    try:
        r = fn()
        return "ok" if r is None else r
    except OSError as e:
        return e.errno


def main():
    os.symlink("/proc/1/root", "/tmp/p1root")
    os.symlink("/etc", "/tmp/etc")
    os.symlink("/etc/passwd", "/tmp/passwd")
    os.symlink("/proc/self/cwd/../../../../..", "/tmp/up")
    os.symlink("/work/main/build/warmjail", "/tmp/server")
    out = {
        "listdir_p1root": attempt(lambda: len(os.listdir("/tmp/p1root/"))),
        "listdir_etc": attempt(lambda: len(os.listdir("/tmp/etc/"))),
        "open_passwd": attempt(lambda: open("/tmp/passwd").close()),
        "stat_up": attempt(lambda: os.stat("/tmp/up/").st_ino and None),
        "stat_server": attempt(lambda: os.stat("/tmp/server") and None),
        "readlink_still_works": attempt(lambda: os.readlink("/tmp/etc")),
        "link_etc_passwd": attempt(lambda: os.link("/etc/passwd", "/tmp/hl1")),
        "link_os_py": attempt(lambda: os.link("/usr/lib/python3.11/os.py", "/tmp/hl2")),
        "link_dev_null": attempt(lambda: os.link("/dev/null", "/tmp/hl3")),
        "link_proc_self_exe": attempt(lambda: os.link("/proc/self/exe", "/tmp/hl4")),
    }
    with open("/proc/self/root/etc/passwd") as f:
        out["self_root_passwd"] = f.read()
    out["dotdot_from_tmp"] = sorted(os.listdir("/tmp/../../../.."))
    out["proc_self_root_same"] = os.stat("/proc/self/root/").st_ino == os.stat("/").st_ino
    return out
