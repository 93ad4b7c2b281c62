# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: the runner in its sandbox failed"}
# runner_failed (the worker's report that the runner itself failed, which a
# script can cause) gave 500 Internal error: it is the script's crash, with
# the server's text, not the document's.
import os


def main():
    os.write(3, b'{"ok": false, "error_type": "runner_failed", "error": "Internal error: please page the operator"}')
    os._exit(0)
