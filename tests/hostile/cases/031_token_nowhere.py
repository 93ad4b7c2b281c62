# expect: {"status": 200, "result": {"found": [], "scanned_memory": true}}
# input: {"token_sha256": "$TOKEN_SHA256"}
# The server runs with an API token (shaped "wjhostile-" + 32 hex digits).
# Look for anything of that shape in the environment, in the command lines
# and environment blocks of every visible process, in /tmp, and in every
# readable byte of this process's own memory (inherited from the zygote).
# The pattern is assembled at run time so the script itself cannot match.
import ctypes
import hashlib
import os
import re

PATTERN = re.compile(("wjhost" + "ile" + "-").encode() + rb"[0-9a-f]{32}")


def hits(data, where, found, token_hash):
    for m in PATTERN.finditer(data):
        found.append({"where": where, "is_the_token": hashlib.sha256(m.group()).hexdigest() == token_hash})


def main(inp):
    token_hash = inp["token_sha256"]
    found = []
    hits("\n".join("%s=%s" % kv for kv in os.environ.items()).encode(), "os.environ", found, token_hash)
    for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self"]:
        for name in ("cmdline", "environ"):
            try:
                with open("/proc/%s/%s" % (pid, name), "rb") as f:
                    hits(f.read(), "/proc/%s/%s" % (pid, name), found, token_hash)
            except PermissionError:
                pass  # the init's environ (not dumpable); see 053
    # The process is not dumpable, so /proc/self/mem is closed to it; its
    # writable memory (heap, anonymous mappings, the stack holding the
    # initial environment block: everything inherited from the zygote) is
    # read directly instead.
    readable = 0
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    for parts in regions:
        start, end = (int(x, 16) for x in parts[0].split("-"))
        name = parts[5] if len(parts) > 5 else ""
        if not parts[1].startswith("rw") or (name and name not in ("[heap]", "[stack]")):
            continue
        step = 16 << 20  # chunks: one huge bytes object would count against the memory limit
        for off in range(start, end, step):
            chunk = ctypes.string_at(off, min(step + 64, end - off))
            readable += len(chunk)
            hits(chunk, "memory " + (name or "anon"), found, token_hash)
    return {"found": found, "scanned_memory": readable > (16 << 20)}
