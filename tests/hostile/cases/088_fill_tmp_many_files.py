# expect: {"status": 200, "result": {"errno": 28, "within_tmp_size": true}}
# limits: {"timeout_s": 20}
# Fill /tmp with many 8 MiB files: the tmpfs size cap ends it with ENOSPC.
import os


def main():
    chunk = b"\0" * (1 << 20)
    err = None
    files = 0
    try:
        while files < 1000:
            with open("/tmp/f%04d" % files, "wb", buffering=0) as f:
                files += 1
                for _ in range(8):
                    f.write(chunk)
    except OSError as e:
        err = e.errno
    return {"errno": err, "within_tmp_size": files * 8 <= 64 + 8}
