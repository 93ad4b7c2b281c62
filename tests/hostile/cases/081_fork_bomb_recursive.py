# expect: {"status": 200, "result": {"errno": 11, "forked_some": true}}
# limits: {"timeout_s": 10}
# The recursive bomb: every child forks too, and never stops trying. The
# script's own fork eventually fails with EAGAIN; then it returns, and the
# whole tree dies with the sandbox's PID namespace.
import os
import time


def main():
    me = os.getpid()
    forked = 0
    while True:
        try:
            pid = os.fork()
        except OSError as e:
            if os.getpid() != me:
                while True:  # a child: keep trying forever
                    try:
                        if os.fork() == 0:
                            continue
                    except OSError:
                        time.sleep(0.01)
            return {"errno": e.errno, "forked_some": forked > 0}
        if pid == 0:
            continue
        if os.getpid() == me:
            forked += 1
