# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (its result is not strict JSON text)"}
# A result followed by a second document: what a script gets by writing its
# own document and then returning normally (the runner appends its own).
import os


def main():
    os.write(3, b'{"ok":true}\n{"forged": true}')
    return {"real": True}
