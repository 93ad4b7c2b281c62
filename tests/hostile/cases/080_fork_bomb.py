# expect: {"status": 200, "result": {"errno": 11, "stopped_below_cap": true, "forked_some": true}}
# limits: {"timeout_s": 10}
# Fork until fork fails. The pids cgroup (pids.max = --max-procs, 32) and
# RLIMIT_NPROC stop it with EAGAIN before 32 processes exist in the
# sandbox; the children are killed with the request (the test checks no
# process is left behind).
import os
import time


def main():
    children = []
    err = None
    while len(children) < 1000:
        try:
            pid = os.fork()
        except OSError as e:
            err = e.errno
            break
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    return {"errno": err, "stopped_below_cap": len(children) + 1 <= 32, "forked_some": len(children) > 8}
