# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (2 seconds)", "stdout_truncated": true, "stderr_truncated": true}
# limits: {"timeout_s": 2}
# Print forever: output past --max-output-bytes is dropped (the server keeps
# draining the pipe, so the script is never blocked into a deadlock), and
# the deadline ends the request.
import os


def main():
    line = b"A" * 1023 + b"\n"
    while True:
        os.write(1, line)
        os.write(2, line)
