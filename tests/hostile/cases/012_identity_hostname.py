# expect: {"status": 200, "result": {"gethostname": "warmjail", "uname": "warmjail", "etc": "warmjail", "proc": "warmjail"}}
# Own UTS namespace: every way of asking for the host name says "warmjail".
import os
import socket


def main():
    with open("/etc/hostname") as f:
        etc = f.read().strip()
    with open("/proc/sys/kernel/hostname") as f:
        proc = f.read().strip()
    return {"gethostname": socket.gethostname(), "uname": os.uname().nodename, "etc": etc, "proc": proc}
