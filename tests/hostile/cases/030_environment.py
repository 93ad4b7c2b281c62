# expect: {"status": 200, "result": {"os.environ": {"HOME": "/tmp", "LANG": "C.UTF-8", "LOGNAME": "sandbox", "MKL_NUM_THREADS": "1", "NUMEXPR_MAX_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "TMPDIR": "/tmp", "TZ": "UTC", "USER": "sandbox"}, "proc_environ": 13}}
# The environment is the fixed minimal one, nothing of the server's (no API
# token, no paths of the host, no LD_* or PYTHON* variables). The process is
# not dumpable, so even its own /proc/self/environ is closed to it (EACCES);
# 031 scans the memory that holds the initial environment block instead.
import os


def main():
    try:
        with open("/proc/self/environ", "rb") as f:
            block = sorted(e.decode() for e in f.read().split(b"\0") if e)
        proc_environ = block == sorted("%s=%s" % kv for kv in os.environ.items())
    except OSError as e:
        proc_environ = e.errno
    return {"os.environ": dict(sorted(os.environ.items())), "proc_environ": proc_environ}
