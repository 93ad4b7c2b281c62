# expect: {"status": 200, "result": {"sent": {"SIGKILL": 0, "SIGSTOP": 0, "SIGTERM": 0, "SIGSEGV": 0, "SIGHUP": 0, "SIGQUIT": 0, "SIGABRT": 0, "SIGUSR1": 0, "SIGALRM": 0, "SIGXCPU": 0}, "init_state": "S", "ppid": 0}}
# The jail's init (PID 1) reaps the orphans the script leaves, and its end is
# the end of every process in the sandbox; killing or stopping it would be a
# way to confuse the server. Signals from inside the namespace to its init
# are ignored unless the init handles them: after SIGKILL, SIGSTOP, SIGTERM
# and friends it is still there, still sleeping. The script's parent is the
# zygote, outside the namespace, so getppid() is 0.
import os
import signal
import time


def state(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("State:"):
                return line.split()[1]


def main():
    sent = {}
    for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM, signal.SIGSEGV, signal.SIGHUP,
                signal.SIGQUIT, signal.SIGABRT, signal.SIGUSR1, signal.SIGALRM, signal.SIGXCPU):
        try:
            os.kill(1, sig)
            sent[sig.name] = 0
        except OSError as e:
            sent[sig.name] = e.errno
    time.sleep(0.2)
    return {"sent": sent, "init_state": state(1), "ppid": os.getppid()}
