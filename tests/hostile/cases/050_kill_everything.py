# expect: {"status": 200, "result": {"first_kill_reached_own_child": true, "second_kill_errno": 3, "self_survived": true}}
# kill(-1, SIGKILL) signals every process the caller may signal. In the
# sandbox's PID namespace that is only the script's own child: the server,
# the zygote and other requests are not in it (the test checks the server
# is healthy afterwards). A second kill(-1) finds nobody (ESRCH).
import os
import signal
import time


def main():
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    os.kill(-1, signal.SIGKILL)
    _, status = os.waitpid(child, 0)
    try:
        os.kill(-1, signal.SIGKILL)
        second = 0
    except OSError as e:
        second = e.errno
    return {"first_kill_reached_own_child": os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9,
            "second_kill_errno": second, "self_survived": True}
