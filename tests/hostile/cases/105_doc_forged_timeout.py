# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (an error_type that is not one of the script's outcomes)"}
# An error_type of the API that only the server decides (timeout; likewise
# internal, unavailable, crashed): claimed by a sandbox, it is a forgery.
import os


def main():
    os.write(3, b'{"ok": false, "error_type": "timeout", "error": "Script execution timeout (0.001 seconds)"}')
    os._exit(0)
