# expect: {"status": 200, "result": {"errno": 27, "written_mib": 64, "free_blocks": 0}}
# limits: {"timeout_s": 20}
# Fill /tmp with one file. Its size cap (RLIMIT_FSIZE) equals the tmpfs
# size, so the write that would pass it fails with EFBIG (Python ignores
# SIGXFSZ) and the disk is exactly full; no other sandbox's /tmp is
# touched.
import os


def main():
    chunk = b"\0" * (1 << 20)
    written = 0
    err = None
    fd = os.open("/tmp/fill", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while written < (1 << 32):
            written += os.write(fd, chunk)
    except OSError as e:
        err = e.errno
    finally:
        os.close(fd)
    sv = os.statvfs("/tmp")
    return {"errno": err, "written_mib": written >> 20, "free_blocks": sv.f_bfree}
