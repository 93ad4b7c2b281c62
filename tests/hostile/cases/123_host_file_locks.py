# expect: {"status": 200, "result": {"flock_stdin": 1, "flock_os_py": 1, "lockf_os_py": 1, "F_GETLK": 1, "F_OFD_SETLK": 1, "F_SETLEASE": 1, "F_SETSIG": 1, "F_NOTIFY": 1, "sqlite_default": "OperationalError", "sqlite_nolock": [[1, "a"]], "sqlite_memory": [[1, "a"]]}}
# Locks are per inode, and the bound host files (the stdlib, /dev/null) are
# the host's inodes: a lock taken here would be seen by other sandboxes (a
# covert channel) and block host software (`flock /dev/null`). flock() and
# fcntl's record locks, leases, dnotify and F_SETSIG are refused (EPERM). What
# that costs: sqlite on a /tmp file needs its no-lock mode (nolock=1); an
# in-memory database needs no lock.
import fcntl
import os
import sqlite3
import struct

F_OFD_SETLK = 37
F_SETLEASE = 1024
F_NOTIFY = 1026
F_SETSIG = 10


def errno_of(call):
    try:
        call()
    except OSError as e:
        return e.errno
    return 0


def query(uri):
    db = sqlite3.connect(uri, uri=True)
    try:
        db.execute("create table t (k integer, v text)")
        db.execute("insert into t values (1, 'a')")
        db.commit()
        return [list(row) for row in db.execute("select * from t")]
    except sqlite3.Error as e:
        return type(e).__name__
    finally:
        db.close()


def main():
    fd = os.open("/usr/lib/python3.11/os.py", os.O_RDONLY)
    lock = struct.pack("hhqqi", fcntl.F_RDLCK, 0, 0, 0, 0)
    out = {
        "flock_stdin": errno_of(lambda: fcntl.flock(0, fcntl.LOCK_EX | fcntl.LOCK_NB)),
        "flock_os_py": errno_of(lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)),
        "lockf_os_py": errno_of(lambda: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)),
        "F_GETLK": errno_of(lambda: fcntl.fcntl(fd, fcntl.F_GETLK, lock)),
        "F_OFD_SETLK": errno_of(lambda: fcntl.fcntl(fd, F_OFD_SETLK, lock + b"\0" * 8)),
        "F_SETLEASE": errno_of(lambda: fcntl.fcntl(fd, F_SETLEASE, fcntl.F_RDLCK)),
        "F_SETSIG": errno_of(lambda: fcntl.fcntl(0, F_SETSIG, 10)),
        "F_NOTIFY": errno_of(lambda: fcntl.fcntl(os.open("/tmp", os.O_RDONLY), F_NOTIFY, 1)),
    }
    out["sqlite_default"] = query("file:/tmp/default.db")
    out["sqlite_nolock"] = query("file:/tmp/nolock.db?nolock=1")
    out["sqlite_memory"] = query(":memory:")
    return out
