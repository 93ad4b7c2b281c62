# expect: {"status": 200, "result": {"daemon_started": true, "daemon_ppid_is_init": true}}
# First half of an ordered pair (073 checks): a classic daemon. Double
# fork, setsid, ignore SIGHUP/SIGTERM, keep stdout/stderr open (so a server
# waiting for EOF would hang), and sleep. The request still finishes at
# once, and the daemon dies with the sandbox's PID namespace.
import os
import signal
import time


def main():
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        pid2 = os.fork()
        if pid2 == 0:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.write(w, str(os.getpid()).encode())
            os.close(w)
            with open("/tmp/daemon.pid", "w") as f:
                f.write(str(os.getpid()))
            while True:
                time.sleep(1)
        os._exit(0)
    os.waitpid(pid, 0)
    os.close(w)
    daemon = int(os.read(r, 32))
    os.kill(daemon, 0)
    return {"daemon_started": True, "daemon_ppid_is_init": _ppid(daemon) == 1}


def _ppid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
