# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (its result is not strict JSON text)"}
# Result text that is not UTF-8 (a surrogate encoded in UTF-8, which some
# decoders let through).
import os


def main():
    os.write(3, b'{"ok":true}\n"\xed\xa0\x80"')
    os._exit(0)
