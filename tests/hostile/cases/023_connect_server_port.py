# expect: {"status": 200, "result": {"127.0.0.1": {"socket": 1}, "::1": {"socket": 1}, "0.0.0.0": {"socket": 1}, "1.1.1.1:53": {"socket": 1}, "udp_8.8.8.8": {"socket": 1}, "getaddrinfo": "gaierror"}}
# input: {"port": "$PORT"}
# Reach the server's own port on the loopback (v4 and v6), the wildcard
# address and a public address: the sandbox's network namespace has no
# route anywhere, and AF_INET/AF_INET6 sockets are refused by seccomp
# before that even matters.
import socket


def attempt(family, addr):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
    except OSError as e:
        return {"socket": e.errno}
    try:
        s.settimeout(2)
        s.connect(addr)
        return {"connected": True}
    except OSError as e:
        return {"connect": e.errno}
    finally:
        s.close()


def main(inp):
    port = int(inp["port"])
    return {
        "127.0.0.1": attempt(socket.AF_INET, ("127.0.0.1", port)),
        "::1": attempt(socket.AF_INET6, ("::1", port)),
        "0.0.0.0": attempt(socket.AF_INET, ("0.0.0.0", port)),
        "1.1.1.1:53": attempt(socket.AF_INET, ("1.1.1.1", 53)),
        "udp_8.8.8.8": _udp(),
        "getaddrinfo": _resolve(),
    }


def _udp():
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError as e:
        return {"socket": e.errno}
    s.close()
    return {"socket": 0}


def _resolve():
    # No resolver reachable: the lookup of an external name must fail.
    try:
        socket.getaddrinfo("example.com", 80)
        return "resolved"
    except socket.gaierror as e:
        return "gaierror"
    except OSError as e:
        return "oserror %d" % e.errno
