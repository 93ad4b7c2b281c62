# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (2 seconds)"}
# limits: {"timeout_s": 2}
# A busy loop: ended by the wall-clock deadline (or RLIMIT_CPU's SIGXCPU).


def main():
    n = 0
    while True:
        n += 1
