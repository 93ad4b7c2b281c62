# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (stages nested deeper than [name, milliseconds] pairs)"}
# As 100, with a header inside the reader's size bound (120,000 levels in
# 240 KB): the depth bound refuses it at the fourth level, without
# recursion. The old reader's recursive copy crashed the server on this too.
import os


def main():
    depth = 120000
    doc = b'{"stages":' + b"[" * depth + b"]" * depth + b',"ok":true}\n1'
    view = memoryview(doc)
    while view:
        view = view[os.write(3, view):]
    os._exit(0)
