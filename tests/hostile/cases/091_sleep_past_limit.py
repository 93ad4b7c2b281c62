# expect: {"status": 422, "error_type": "timeout", "error": "Script execution timeout (2 seconds)"}
# limits: {"timeout_s": 2}
# Sleeping uses no CPU, so only the wall-clock deadline can end it.
import time


def main():
    time.sleep(60)
    return "woke up"
