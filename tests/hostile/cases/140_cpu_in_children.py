# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (3 seconds)"}
# limits: {"timeout_s": 3}
# The CPU limit is the sandbox's, not each process's: eight children each
# burn half a CPU-second (4 in all, over the limit of 3) while the parent
# waits for them. Each child alone stays far below its own RLIMIT_CPU, and on
# two idle cores the work is done before the wall-clock deadline; the
# watchdog summing the sandbox's processes ends it.
import os
import time


def main():
    for _ in range(8):
        if os.fork() == 0:
            start = time.process_time()
            while time.process_time() - start < 0.5:
                pass
            os._exit(0)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    return "all children finished"
