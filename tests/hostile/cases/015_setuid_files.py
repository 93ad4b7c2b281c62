# expect: {"status": 200, "result": {"all_on_nosuid_mounts": true, "exec_errnos": [1], "scanned_something": true}}
# Setuid/setgid programs are useless in the sandbox: whatever such files the
# host's bound library directories contain (Debian ships e.g. a setgid
# utempter helper under /usr/lib/x86_64-linux-gnu) sit on nosuid mounts, and
# exec is refused outright. The common setuid tools (su, sudo, mount,
# passwd, newuidmap) are not there at all (see 014).
import os
import stat


def exec_errno(path):
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(path, [path])
        except OSError as e:
            os._exit(e.errno)
        os._exit(100)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main():
    found = []
    scanned = 0
    for top in ("/usr", "/etc", "/dev", "/tmp"):
        for dirpath, dirnames, filenames in os.walk(top):
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                scanned += 1
                if st.st_mode & (stat.S_ISUID | stat.S_ISGID) and stat.S_ISREG(st.st_mode):
                    found.append(path)
    return {
        "all_on_nosuid_mounts": all(os.statvfs(p).f_flag & os.ST_NOSUID for p in found),
        "exec_errnos": sorted({exec_errno(p) for p in found} | {exec_errno("/usr/lib/python3.11/os.py")}),
        "scanned_something": scanned > 1000,
    }
