# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (its result is not strict JSON text)"}
# A NUL inside the result text, where a C-string parser would stop and
# accept what came before, letting the rest ride along into the response.
import os


def main():
    os.write(3, b'{"ok":true}\n7\x00, "injected": 1')
    os._exit(0)
