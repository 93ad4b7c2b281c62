# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (its header is longer than 262144 bytes)"}
# The audit's document: a result header whose "stages" nests 150,000 lists
# deep, written to the result descriptor directly. The server copied it
# recursively and died of SIGSEGV with every request in flight; its reader
# now bounds the header's size and depth and builds no tree from it. The
# next cases check that the server is still there.
import os


def main():
    depth = 150000
    doc = b'{"stages":' + b"[" * depth + b"]" * depth + b',"ok":true}\n1'
    view = memoryview(doc)
    while view:
        view = view[os.write(3, view):]
    os._exit(0)
