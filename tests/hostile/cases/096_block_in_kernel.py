# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (2 seconds)"}
# limits: {"timeout_s": 2}
# Block in an uninterruptible-looking way the server cannot reach with a
# signal to the script alone: a child holds the read end of a pipe forever
# and PID 1 blocks in os.read on a pipe nobody writes; still a timeout.
import os


def main():
    r, w = os.pipe()
    if os.fork() == 0:
        os.read(r, 1)
        os._exit(0)
    os.read(r, 1)
    return "unblocked"
