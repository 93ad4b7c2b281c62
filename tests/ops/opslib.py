"""Host-side helpers shared by the operations suites (tests/ops): the server's
process tree, descriptors, memory, cgroups and mounts, its request log, and
finding a running sandbox by the name its script gave itself.

Python standard library only (Debian's /usr/bin/python3.11).
"""

import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "http"))

import harness  # noqa: E402  (tests/http/harness.py, shared; not edited here)


# -- processes -----------------------------------------------------------------

def process_table():
    """pid -> {ppid, state, name, comm, cmdline} for every process we can read."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            with open("/proc/%s/comm" % entry) as f:
                comm = f.read().strip()
        except (OSError, KeyError, ValueError):
            continue
        table[int(entry)] = {"ppid": int(status["PPid"].strip()), "state": status["State"].strip(),
                             "name": status["Name"].strip(), "comm": comm, "cmdline": cmdline}
    return table


def descendants(root_pid, table=None):
    table = table if table is not None else process_table()
    children = {}
    for pid, info in table.items():
        children.setdefault(info["ppid"], []).append(pid)
    out, todo = {}, list(children.get(root_pid, []))
    while todo:
        pid = todo.pop()
        out[pid] = table[pid]
        todo.extend(children.get(pid, []))
    return out


def zygote_pid(server_pid):
    """The live zygote directly under the server, or None."""
    for pid, info in descendants(server_pid).items():
        if (info["ppid"] == server_pid and "__zygote" in info["cmdline"]
                and not info["state"].startswith("Z")):
            return pid
    return None


def process_identity(pid):
    """((st_dev, st_ino) of the process's executable, its session id), or None."""
    try:
        st = os.stat("/proc/%d/exe" % pid)
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (st.st_dev, st.st_ino), int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


def tagged_processes(server_pid, identity=None):
    """Every process on the host that is this server's zygote or one of its
    sandboxes, wherever it was reparented to: none of them execs, so each
    runs the server's own binary, and each stays in the session the test
    started the server in (the harness gives every server its own).
    `identity` is process_identity(server_pid), taken while the server ran
    (needed once it has exited)."""
    identity = identity or process_identity(server_pid)
    if identity is None:
        raise AssertionError("server %d is gone and no identity was recorded" % server_pid)
    found = {}
    for pid, info in process_table().items():
        if pid != server_pid and process_identity(pid) == identity:
            found[pid] = info
    return found


def stray_processes(server_pid, spares):
    """None when the server's tree is exactly a zygote, its jailer, at most
    `spares` idle sandboxes (a worker under the zygote, an init under the
    jailer, neither with children) and no zombie; else a description of
    what is wrong."""
    procs = descendants(server_pid)
    zygotes = [pid for pid, info in procs.items()
               if info["ppid"] == server_pid and "__zygote" in info["cmdline"]
               and not info["state"].startswith("Z")]
    if len(zygotes) != 1:
        return "expected exactly one zygote under the server, found %s: %s" % (zygotes, json.dumps(procs))
    zygote = zygotes[0]
    jailers = [pid for pid, info in procs.items()
               if info["ppid"] == zygote and info["comm"] == "warmjail-jailer"]
    if len(jailers) > 1:
        return "%d jailers under the zygote" % len(jailers)
    workers = [pid for pid, info in procs.items() if info["ppid"] == zygote and pid not in jailers]
    inits = [pid for pid, info in procs.items() if info["ppid"] in jailers]
    allowed = {zygote, *jailers, *workers, *inits}
    for pid in workers + inits:
        children = [p for p, info in procs.items() if info["ppid"] == pid]
        if children:
            return "sandbox process %d has %d children" % (pid, len(children))
    if len(workers) > spares or len(inits) > spares:
        return "%d workers and %d inits, more than the %d spares" % (len(workers), len(inits), spares)
    bad = {pid: info for pid, info in procs.items()
           if pid not in allowed or info["state"].startswith("Z")}
    if bad:
        return "processes left under the server (pid %d): %s" % (server_pid, json.dumps(bad))
    outside = {pid: info for pid, info in tagged_processes(server_pid).items()
               if pid not in procs and pid != server_pid}
    if outside:
        return "processes of this server outside its tree: %s" % json.dumps(outside)
    return None


def sandbox_init(worker):
    """The host pid of the init of the sandbox `worker` runs in: the process
    that is PID 1 of the worker's PID namespace (the jailer's child; the
    worker itself is the zygote's), or None."""
    try:
        ns = os.readlink("/proc/%d/ns/pid" % worker)
    except OSError:
        return None
    for pid in process_table():
        try:
            if pid == worker or os.readlink("/proc/%d/ns/pid" % pid) != ns:
                continue
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("NSpid:") and line.split()[-1] == "1":
                        return pid
        except OSError:
            continue
    return None


def find_by_comm(server_pid, comm):
    """Processes under the server whose comm (the name a script set with
    prctl(PR_SET_NAME)) is `comm`."""
    return [pid for pid, info in descendants(server_pid).items() if info["comm"] == comm]


def wait_for(check, seconds=10.0, interval=0.05):
    """Polls check() until it returns a truthy value or time runs out;
    returns the last value."""
    deadline = time.monotonic() + seconds
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value


def wait_until(problem_fn, seconds=10.0, interval=0.2):
    """Polls problem_fn() (a description of a problem, or None) until it
    returns None or time runs out; returns the last problem."""
    deadline = time.monotonic() + seconds
    problem = problem_fn()
    while problem and time.monotonic() < deadline:
        time.sleep(interval)
        problem = problem_fn()
    return problem


def pid_exists(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


# -- descriptors, memory -------------------------------------------------------

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_summary(pid):
    kinds = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        kind = target.split(":")[0] if ":" in target and target.endswith("]") else target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def thread_count(pid):
    return len(os.listdir("/proc/%d/task" % pid))


# -- cgroups, mounts -----------------------------------------------------------

def cgroup_bases(health):
    detail = (((health or {}).get("isolation") or {}).get("memory_accounting") or {}).get("detail") or ""
    return [p.rstrip(":,;") for p in re.findall(r"/sys/fs/cgroup/\S+", detail)]


def uses_cgroups(health):
    return (((health or {}).get("isolation") or {}).get("memory_accounting") or {}).get("mechanism") == "cgroup"


def sandbox_cgroups(bases):
    found = []
    for base in bases:
        for dirpath, dirnames, _ in os.walk(base):
            for d in dirnames:
                if d.startswith("sandbox-"):
                    found.append(os.path.join(dirpath, d))
    return sorted(found)


def excess_cgroups(bases, spares):
    """None when each cgroup hierarchy holds at most `spares` sandbox
    cgroups (only idle spares may have one), else a description."""
    for base in bases:
        found = [p for p in sandbox_cgroups([base])]
        if len(found) > spares:
            return "%d sandbox cgroups under %s, more than the %d spares: %s" % (
                len(found), base, spares, [os.path.basename(p) for p in found])
    return None


def read_mountinfo():
    with open("/proc/self/mountinfo") as f:
        return [line.rstrip("\n") for line in f]


def _mount_key(line):
    left, _, right = line.partition(" - ")
    parts = left.split()
    return (parts[3], parts[4], parts[5], right)


def _container_mount(line):
    """A mount a container engine made for the container under test (its
    root, its /etc/hosts, ...): the engine's, not the server's."""
    return harness.CONTAINER and any(p in line for p in ("/docker/", "/containerd/", "/docker-", "overlay"))


def new_mounts(before_lines):
    before = {}
    for line in before_lines:
        before[_mount_key(line)] = before.get(_mount_key(line), 0) + 1
    new = []
    for line in read_mountinfo():
        key = _mount_key(line)
        if before.get(key, 0) > 0:
            before[key] -= 1
        elif not _container_mount(line):
            new.append(line)
    return new


# -- the server's log and metrics ---------------------------------------------

def server_log(server):
    """Everything the server wrote to stderr so far (the harness keeps it in
    a temporary file)."""
    f = getattr(server, "_errfile", None)
    if f is None:
        return ""
    f.flush()
    size = os.fstat(f.fileno()).st_size
    return os.pread(f.fileno(), size, 0).decode("utf-8", "replace")


def request_log_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("event") == "request":
            out.append(doc)
    return out


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)', line)
        if not m:
            continue
        labels = {}
        if m.group(2):
            for lm in re.finditer(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)):
                labels[lm.group(1)] = lm.group(2)
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out[(m.group(1), frozenset(labels.items()))] = value
    return out


def metric(metrics, name, **labels):
    return metrics.get((name, frozenset(labels.items())))


def metric_sum(metrics, name):
    return sum(v for (n, _), v in metrics.items() if n == name)


def get_metrics(server):
    status, _, _, raw = harness.request(server.port, "GET", "/metrics", timeout=30)
    if status != 200:
        raise AssertionError("/metrics answered %d: %r" % (status, raw[:500]))
    return parse_metrics(raw.decode("utf-8", "replace"))


def brief(data, limit=1500):
    if not isinstance(data, dict):
        return repr(data)[:limit]
    shown = dict(data)
    for key in ("stdout", "stderr", "traceback"):
        if isinstance(shown.get(key), str) and len(shown[key]) > 300:
            shown[key] = shown[key][:300] + "...(%d chars)" % len(data[key])
    return json.dumps(shown)[:limit]


def named_script(tag, body):
    """A script whose main() first renames its process to `tag` (15 chars at
    most) so the test can find it on the host, then runs `body` (indented
    main() body lines)."""
    assert len(tag) <= 15
    return ("import ctypes, time\n"
            "def main():\n"
            "    ctypes.CDLL(None).prctl(15, %r, 0, 0, 0)\n" % tag.encode()
            + body)
