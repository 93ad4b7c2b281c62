# expect: {"status": 422, "error_type": "memory_limit", "error": "Script execution error: Memory limit exceeded"}
# expect_rlimit: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (20 seconds)"}
# limits: {"memory_mb": 256, "timeout_s": 20}
# Memory spread over forked children (each under the limit on its own):
# the cgroup counts the whole sandbox, so the request still ends as
# memory_limit and the children are gone. Without a delegated cgroup,
# RLIMIT_AS counts each process alone (the documented limit of that
# fallback: at most --max-procs times the memory); the children then live
# until the deadline ends the sandbox.
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
