# expect: {"status": 200, "result": {"append": true, "nonblock": true}}
# fd 0 is /dev/null. Set flags on it that, on a shared open file description,
# the next request would inherit; 122 checks they are gone.
import fcntl
import os


def main():
    flags = fcntl.fcntl(0, fcntl.F_GETFL)
    fcntl.fcntl(0, fcntl.F_SETFL, flags | os.O_APPEND | os.O_NONBLOCK)
    flags = fcntl.fcntl(0, fcntl.F_GETFL)
    return {"append": bool(flags & os.O_APPEND), "nonblock": bool(flags & os.O_NONBLOCK)}
