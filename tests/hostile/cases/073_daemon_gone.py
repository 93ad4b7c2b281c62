# expect: {"status": 200, "result": {"pids": [1, 2], "tmp": []}}
# Second half: the daemon of 072 is gone. This sandbox sees only its init
# and itself in /proc; nothing sleeps on; /tmp/daemon.pid does not exist.
import os


def main():
    procs = []
    for p in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int):
        with open("/proc/%s/comm" % p) as f:
            procs.append([int(p), f.read().strip()])
    return {"pids": [p for p, _ in procs], "tmp": sorted(os.listdir("/tmp"))}
