# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (3 seconds)"}
# limits: {"timeout_s": 3}
# As 140, but the children are never waited for: with SIGCHLD ignored the
# kernel reaps each one itself, and its CPU time is added to no parent's.
# The cgroup's counter still has it; without a cgroup, the watchdog
# remembers what each process had used when it last saw it.
import os
import signal
import time


def main():
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    children = []
    for _ in range(8):
        pid = os.fork()
        if pid == 0:
            start = time.process_time()
            while time.process_time() - start < 0.5:
                pass
            os._exit(0)
        children.append(pid)
    while children:
        time.sleep(0.05)
        alive = []
        for pid in children:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        children = alive
    return "all children finished"
