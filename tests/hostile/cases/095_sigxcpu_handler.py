# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (2 seconds)"}
# limits: {"timeout_s": 2}
# Catch SIGXCPU (the CPU limit's warning) and keep spinning in the handler's
# wake: the hard RLIMIT_CPU or the wall-clock deadline still ends it.
import signal

hits = []


def main():
    signal.signal(signal.SIGXCPU, lambda *a: hits.append(1))
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    n = 0
    while True:
        n += 1
