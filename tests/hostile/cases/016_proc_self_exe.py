# expect: {"status": 200, "result": {"chmod_same_mode": 1, "open_for_write": 13, "exe_in_tree": false}}
# /proc/self/exe is a magic link to the binary the process runs: the HOST's
# warmjail binary, on the host's writable filesystem, outside the sandbox's
# mount tree. Following it must not give the script any power over that
# file: chmod (here to the mode it already has, so harmless if allowed; a
# real attack would make it setuid and world-writable) must be EPERM, and
# opening it for writing EACCES (not merely ETXTBSY because it is running).
import os
import stat


def main():
    mode = stat.S_IMODE(os.stat("/proc/self/exe").st_mode)
    out = {}
    try:
        os.chmod("/proc/self/exe", mode)
        out["chmod_same_mode"] = "allowed"
    except OSError as e:
        out["chmod_same_mode"] = e.errno
    try:
        os.close(os.open("/proc/self/exe", os.O_WRONLY))
        out["open_for_write"] = "opened"
    except OSError as e:
        out["open_for_write"] = e.errno
    target = os.readlink("/proc/self/exe").replace(" (deleted)", "")
    out["exe_in_tree"] = os.path.exists(target)
    return out
