# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (an error_type that is not one of the script's outcomes)"}
# A script claims the service's own failure: the server answered 503
# "Sandbox could not be started" and counted a service failure. Nothing a
# sandbox writes is the server's word; only the script's outcomes may be
# claimed.
import os


def main():
    os.write(3, b'{"ok": false, "error_type": "setup_failed", "error": "pivot_root(., .): Operation not permitted"}')
    os._exit(0)
