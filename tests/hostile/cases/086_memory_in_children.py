# expect: {"status": 422, "error_type": "memory_limit", "error": "Script execution error: Memory limit exceeded"}
# limits: {"memory_mb": 256, "timeout_s": 20}
# Memory spread over forked children (each under the limit on its own):
# the cgroup counts the whole sandbox, so the request still ends as
# memory_limit and the children are gone.
import mmap
import os
import time


def main():
    kids = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            m = mmap.mmap(-1, 100 << 20)
            for off in range(0, 100 << 20, mmap.PAGESIZE):
                m[off] = 1
            time.sleep(60)
            os._exit(0)
        kids.append(pid)
    m = mmap.mmap(-1, 100 << 20)
    for off in range(0, 100 << 20, mmap.PAGESIZE):
        m[off] = 1
    for pid in kids:
        os.waitpid(pid, 0)
    return "all children finished"
