# expect: {"status": 200, "result": {"os.environ": {"HOME": "/tmp", "LANG": "C.UTF-8", "LOGNAME": "sandbox", "MKL_NUM_THREADS": "1", "NUMEXPR_MAX_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "TMPDIR": "/tmp", "TZ": "UTC", "USER": "sandbox"}, "proc_environ_matches": true}}
# The environment is the fixed minimal one, nothing of the server's (no API
# token, no paths of the host, no LD_* or PYTHON* variables), and the
# initial environment block of the process (/proc/self/environ) agrees.
import os


def main():
    with open("/proc/self/environ", "rb") as f:
        block = sorted(e.decode() for e in f.read().split(b"\0") if e)
    return {
        "os.environ": dict(sorted(os.environ.items())),
        "proc_environ_matches": block == sorted("%s=%s" % kv for kv in os.environ.items()),
    }
