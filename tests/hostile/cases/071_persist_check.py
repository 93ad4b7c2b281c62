# expect: {"status": 200, "result": {"tmp": [], "abstract_connect": 111, "sysvipc_shm": [], "json_is_stdlib": true}}
# Second half of the pair: nothing 070 planted is visible. /tmp is a fresh
# empty tmpfs, the abstract socket name is free (connect: ECONNREFUSED,
# and it can be bound again), no SysV segment exists, and importing json
# gives the real module.
import json
import os
import socket


def main():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect("\0wj-persist-070")
        conn = "connected"
    except OSError as e:
        conn = e.errno
    s.close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind("\0wj-persist-070")
    s.close()
    with open("/proc/sysvipc/shm") as f:
        shm_rows = f.read().splitlines()[1:]
    return {
        "tmp": sorted(os.listdir("/tmp")),
        "abstract_connect": conn,
        "sysvipc_shm": shm_rows,
        "json_is_stdlib": json.__file__.startswith("/usr/lib/python3.11/"),
    }
