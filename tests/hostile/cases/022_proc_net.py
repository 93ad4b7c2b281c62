# expect: {"status": 200, "result": {"tcp": [], "tcp6": [], "udp": [], "udp6": [], "raw": [], "unix": [], "packet": [], "interfaces": ["lo"]}}
# Own network namespace: no sockets of the host in /proc/net (the server's
# listening port is not there to find), and the only interface is a
# loopback that is down.


def rows(name):
    with open("/proc/net/" + name) as f:
        return f.read().splitlines()[1:]


def main():
    with open("/proc/net/dev") as f:
        ifaces = sorted(line.split(":")[0].strip() for line in f.read().splitlines()[2:])
    return {
        "tcp": rows("tcp"), "tcp6": rows("tcp6"), "udp": rows("udp"), "udp6": rows("udp6"),
        "raw": rows("raw"), "unix": rows("unix"), "packet": rows("packet"),
        "interfaces": ifaces,
    }
