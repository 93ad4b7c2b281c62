# expect: {"status": 200, "result": {"tmp_flags": ["nodev", "noexec", "nosuid", "nosymfollow", "rw"], "tmp_mode": "0o700", "tmp_owner": [65534, 65534], "tmp_bytes": 67108864, "other_writable_mounts": [], "dev_is_ro": true, "proc_is_ro": true, "root_is_ro": true, "mmap_exec_from_tmp": 1, "st_nosuid": true}}
# /tmp is the only writable place; it is a private tmpfs owned by the
# sandbox user, mode 0700, nosuid, nodev, noexec, nosymfollow, sized by
# --tmp-mb. Everything else mounted is read-only. A file in /tmp cannot be
# mapped executable (noexec), and setuid bits set there mean nothing.
import mmap
import os
import stat


def main():
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            mounts[parts[4]] = set(parts[5].split(","))
    tmp = mounts["/tmp"]
    writable = sorted(m for m, opts in mounts.items() if "rw" in opts and m != "/tmp" and not m.startswith("/dev/"))
    st = os.stat("/tmp")
    sv = os.statvfs("/tmp")
    with open("/tmp/lib.so", "wb") as f:
        f.write(b"\0" * 4096)
    with open("/tmp/lib.so", "rb") as f:
        try:
            mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC, flags=mmap.MAP_PRIVATE)
            mmap_exec = "mapped"
        except OSError as e:
            mmap_exec = e.errno
    os.chmod("/tmp/lib.so", 0o4755)
    return {
        "tmp_flags": sorted(tmp & {"rw", "ro", "nosuid", "nodev", "noexec", "nosymfollow"}),
        "tmp_mode": oct(stat.S_IMODE(st.st_mode)),
        "tmp_owner": [st.st_uid, st.st_gid],
        "tmp_bytes": sv.f_blocks * sv.f_frsize,
        "other_writable_mounts": writable,
        "dev_is_ro": "ro" in mounts["/dev"],
        "proc_is_ro": "ro" in mounts["/proc"],
        "root_is_ro": "ro" in mounts["/"],
        "mmap_exec_from_tmp": mmap_exec,
        "st_nosuid": bool(sv.f_flag & os.ST_NOSUID),
    }
