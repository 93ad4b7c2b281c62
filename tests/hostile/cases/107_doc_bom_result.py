# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (its result is not strict JSON text)"}
# A result that starts with a UTF-8 byte-order mark: nlohmann::json skips
# it, so the server spliced it into a 200 whose body a client cannot parse.
import os


def main():
    os.write(3, b'{"ok":true}\n\xef\xbb\xbf{"a": 1}')
    os._exit(0)
