# expect: {"status": 200, "result": {"inet_raw": 1, "inet6_raw": 1, "inet_stream": 1, "inet_dgram": 1, "inet6_stream": 1, "packet_raw": 1, "netlink_route": 1, "netlink_audit": 1, "netlink_uevent": 1, "vsock": 1, "alg": 1, "bluetooth": 1, "unix_stream": 0, "unix_dgram": 0}}
# Only Unix sockets may be created: raw, packet, netlink (the interface to
# routing, audit, uevents...), inet, inet6, vsock, bluetooth, alg... are
# refused by seccomp with EPERM.
import socket


def make(family, kind, proto=0):
    try:
        s = socket.socket(family, kind, proto)
    except OSError as e:
        return e.errno
    s.close()
    return 0


def main():
    return {
        "inet_raw": make(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        "inet6_raw": make(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
        "inet_stream": make(socket.AF_INET, socket.SOCK_STREAM),
        "inet_dgram": make(socket.AF_INET, socket.SOCK_DGRAM),
        "inet6_stream": make(socket.AF_INET6, socket.SOCK_STREAM),
        "packet_raw": make(17, socket.SOCK_RAW, 0x0300),
        "netlink_route": make(16, socket.SOCK_RAW, 0),
        "netlink_audit": make(16, socket.SOCK_RAW, 9),
        "netlink_uevent": make(16, socket.SOCK_DGRAM, 15),
        "vsock": make(40, socket.SOCK_STREAM),
        "alg": make(38, socket.SOCK_SEQPACKET),
        "bluetooth": make(31, socket.SOCK_RAW, 0),
        "unix_stream": make(socket.AF_UNIX, socket.SOCK_STREAM),
        "unix_dgram": make(socket.AF_UNIX, socket.SOCK_DGRAM),
    }
