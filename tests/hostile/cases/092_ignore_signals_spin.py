# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (2 seconds)"}
# limits: {"timeout_s": 2}
# Ignore or catch every catchable signal (SIGTERM, SIGINT, SIGHUP, SIGXCPU,
# SIGALRM, ...) and spin: the server kills with SIGKILL, which cannot be
# ignored.
import signal


def main():
    for sig in signal.valid_signals():
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (OSError, ValueError, RuntimeError):
            pass
    n = 0
    while True:
        n += 1
