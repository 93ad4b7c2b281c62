# expect: {"status": 200, "result": {"errno": 28, "bounded": true, "created_many": true}}
# limits: {"timeout_s": 20}
# Empty files until the tmpfs has no inodes left (nr_inodes is capped with
# the size, so kernel memory cannot be pinned with millions of inodes):
# ENOSPC after a bounded number of files.
import os


def main():
    err = None
    n = 0
    try:
        while n < 10 ** 6:
            os.close(os.open("/tmp/i%d" % n, os.O_WRONLY | os.O_CREAT, 0o600))
            n += 1
    except OSError as e:
        err = e.errno
    return {"errno": err, "bounded": n < 100000, "created_many": n > 1000}
