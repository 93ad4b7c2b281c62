# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (2 seconds)"}
# limits: {"timeout_s": 2}
# Spinning children in their own sessions and process groups, the parent
# blocked waiting for them: the deadline kills the whole PID namespace, not
# just the script's main process (no process survives the request).
import os


def main():
    for _ in range(8):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                while True:
                    pass
            while True:
                pass
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    return "children ended"
