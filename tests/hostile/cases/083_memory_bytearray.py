# expect: {"status": 422, "error_type": "memory_limit", "error": "Script execution error: Memory limit exceeded"}
# limits: {"memory_mb": 256, "timeout_s": 20}
# 2 GiB of zeroed bytes: the memory cgroup (or RLIMIT_AS) stops it, and the
# answer is the memory_limit error, not a dead server.


def main():
    data = bytearray(2 ** 31)
    return len(data)
