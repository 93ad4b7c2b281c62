# expect: {"status": 200, "result": {"found": [], "scanned_memory": true}}
# input: {"token_sha256": "$TOKEN_SHA256"}
# The server runs with an API token (shaped "wjhostile-" + 32 hex digits).
# Look for anything of that shape in the environment, in the command lines
# and environment blocks of every visible process, in /tmp, and in every
# readable byte of this process's own memory (inherited from the zygote).
# The pattern is assembled at run time so the script itself cannot match.
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
    readable = 0
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in maps:
            parts = line.split()
            start, end = (int(x, 16) for x in parts[0].split("-"))
            if parts[1][0] != "r" or (len(parts) > 5 and parts[5] in ("[vvar]", "[vvar_vclock]", "[vsyscall]")):
                continue
            # Read in chunks: a single huge bytes object would count against the memory limit.
            step = 16 << 20
            for off in range(start, end, step):
                try:
                    mem.seek(off)
                    chunk = mem.read(min(step + 64, end - off))
                except OSError:
                    continue
                readable += len(chunk)
                hits(chunk, "memory " + (parts[5] if len(parts) > 5 else "anon"), found, token_hash)
    return {"found": found, "scanned_memory": readable > (16 << 20)}
