# expect: {"status": 422, "error_type": "crashed", "error": "Script crashed: it wrote an invalid result document (an error_type that is not one of the script's outcomes)"}
# As 105, claiming the server's own internal error.
import os


def main():
    os.write(3, b'{"stages":[["forked",0.1]],"ok":false,"error_type":"internal","error":"Internal server error"}')
    os._exit(0)
