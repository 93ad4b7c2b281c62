# expect: {"status": 422, "error_type": "memory_limit", "error": "Script execution error: Memory limit exceeded"}
# limits: {"memory_mb": 256, "timeout_s": 20}
# An anonymous 2 GiB mapping, touched page by page: no MemoryError is ever
# raised (the mapping itself succeeds), so only the kernel's OOM kill
# within the sandbox's cgroup can stop it.
import mmap


def main():
    size = 2 << 30
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    for off in range(0, size, mmap.PAGESIZE):
        m[off] = 1
    return "touched all"
