# expect: {"status": 200, "result": 1}
# The companion of 110: exactly --max-result-bytes of result text is
# accepted (the cap is exact in both directions).
import os

CAP = 16 << 20


def main():
    doc = b'{"ok":true}\n1' + b" " * (CAP - 1)
    view = memoryview(doc)
    while view:
        view = view[os.write(3, view):]
    os._exit(0)
