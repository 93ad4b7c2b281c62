# expect: {"status": 200, "result": {"fd0": "/dev/null", "access": "O_RDONLY", "append": false, "nonblock": false, "read": ""}}
# After 121: this sandbox's fd 0 is a /dev/null of its own, opened read-only
# in its own root, with none of the flags another request set.
import fcntl
import os


def main():
    flags = fcntl.fcntl(0, fcntl.F_GETFL)
    access = {os.O_RDONLY: "O_RDONLY", os.O_WRONLY: "O_WRONLY", os.O_RDWR: "O_RDWR"}[flags & os.O_ACCMODE]
    return {"fd0": os.readlink("/proc/self/fd/0"), "access": access, "append": bool(flags & os.O_APPEND),
            "nonblock": bool(flags & os.O_NONBLOCK), "read": os.read(0, 16).decode()}
