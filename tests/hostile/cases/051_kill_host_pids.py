# expect: {"status": 200, "result": {"reached": [], "errnos": [3], "killpg": {"server": 3, "2": 3, "100": 3}, "ppid": 0}}
# input: {"server_pid": "$SERVER_PID"}
# Signal 0 (existence check) and SIGKILL to every PID up to 4194304 would be
# slow; instead PIDs 3..5000 and the server's real PID (passed in): none of
# them exists in the sandbox's PID namespace (PID 1 is the jail's init, 2 the
# script itself; 052 covers the init) (ESRCH), so none is reached.
# Also process groups and sessions by number, and the parent (PPID 0).
import os
import signal


def main(inp):
    reached = []
    errnos = set()
    targets = list(range(3, 5001)) + [int(inp["server_pid"])]
    for pid in targets:
        try:
            os.kill(pid, 0)
            reached.append(pid)
        except OSError as e:
            errnos.add(e.errno)
    groups = {}
    for pgid in (int(inp["server_pid"]), 2, 100):
        try:
            os.killpg(pgid, signal.SIGKILL)
            groups[str(pgid == int(inp["server_pid"]) and "server" or pgid)] = "sent"
        except OSError as e:
            groups[str(pgid == int(inp["server_pid"]) and "server" or pgid)] = e.errno
    return {"reached": reached, "errnos": sorted(errnos), "killpg": groups, "ppid": os.getppid()}
