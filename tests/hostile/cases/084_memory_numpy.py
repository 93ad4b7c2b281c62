# expect: {"status": 422, "error_type": "memory_limit", "error": "Script execution error: Memory limit exceeded"}
# limits: {"memory_mb": 256, "timeout_s": 20}
# numpy allocates outside Python's allocator: 8 GB of float64 ones.
import numpy as np


def main():
    a = np.ones(10 ** 9)
    return float(a.sum())
