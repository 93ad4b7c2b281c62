"""Syntax and content check of deploy/ (Debian's python3.11 + python3-yaml).

Parses every manifest under deploy/kubernetes/ and checks the fields the
deployment relies on: apiVersion/kind/metadata.name everywhere; the
Deployment's probes on /healthz, resources, the jail's securityContext and
the token from the Secret; the Service and the HPA pointing at it. Also
parses deploy/docker/seccomp-warmjail.json. And what each way of starting the
image runs: the Dockerfile's ENTRYPOINT and CMD alone (`docker run IMAGE`),
with the Deployment's command/args, and with the arguments of every
`docker run` in README.md, resolved as Docker and Kubernetes resolve them,
must start the warmjail binary with one of its subcommands. Exit 0 when all
hold."""
import glob
import json
import os
import re
import shlex
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KDIR = os.path.join(REPO, "deploy", "kubernetes")
errors = []


def need(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


def dig(doc, *path):
    for key in path:
        if isinstance(doc, dict):
            doc = doc.get(key)
        elif isinstance(doc, list) and isinstance(key, int) and key < len(doc):
            doc = doc[key]
        else:
            return None
    return doc


# --- what the image runs -------------------------------------------------------
# The binary's path in the image, its subcommands (src/main.cc), and the inits
# that may stand before it (each followed by "--").
WARMJAIL = "/usr/local/bin/warmjail"
SUBCOMMANDS = ("serve", "run", "check")
INITS = ("/usr/bin/tini", "/usr/bin/tini-static")


def dockerfile_runtime(path):
    """ENTRYPOINT and CMD of the Dockerfile's last stage, as argv lists (None
    when unset); shell forms are refused (they run under /bin/sh -c, which
    ignores CMD and the container's arguments)."""
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    entrypoint = cmd = None
    for line in text.splitlines():
        m = re.match(r"\s*(FROM|ENTRYPOINT|CMD)\s+(.*)$", line, re.I)
        if not m:
            continue
        word, rest = m.group(1).upper(), m.group(2).strip()
        if word == "FROM":
            entrypoint = cmd = None
            continue
        try:
            argv = json.loads(rest)
        except ValueError:
            argv = None
        if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
            errors.append("Dockerfile: %s %s is not in exec form (a JSON list)" % (word, rest))
            continue
        if word == "ENTRYPOINT":
            entrypoint, cmd = argv, None  # Docker: a new ENTRYPOINT resets CMD
        else:
            cmd = argv
    return entrypoint, cmd


def check_argv(argv, what):
    """`argv` (what the container runs) must start warmjail, under an init or
    not, with a subcommand or an option (--version)."""
    rest = list(argv)
    if rest and rest[0] in INITS:
        need("--" in rest, "%s: %s without '--' before the command: %r" % (what, rest[0], argv))
        rest = rest[rest.index("--") + 1:] if "--" in rest else []
    # A bare name is looked up in the image's PATH, which has /usr/local/bin.
    if not need(rest and rest[0] in (WARMJAIL, os.path.basename(WARMJAIL)),
                "%s runs %r, not %s" % (what, argv, WARMJAIL)):
        return
    need(len(rest) == 1 or rest[1] in SUBCOMMANDS or rest[1].startswith("-"),
         "%s: %r is not a warmjail subcommand (%s): %r" % (what, rest[1:2], ", ".join(SUBCOMMANDS), argv))


def readme_docker_runs(path):
    """The arguments after the image name of every `docker run ... warmjail`
    in README.md (continuation lines joined; `<settings above>` skipped)."""
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    valued = {"-p", "-e", "--name", "--security-opt", "--runtime", "--cap-drop", "--cap-add", "--user",
              "-u", "--cgroupns", "--network", "-v", "--memory", "--cpus"}
    runs = []
    for m in re.finditer(r"docker run ([^`\n]*)", text):
        words = shlex.split(m.group(1).replace("<settings above>", ""), comments=True)
        i = 0
        while i < len(words) and words[i].startswith("-"):
            i += 2 if words[i] in valued else 1
        if i < len(words) and words[i] == "warmjail":
            runs.append((" ".join(m.group(0).split())[:60] + " ...", words[i + 1:]))
    return runs


entrypoint, image_cmd = dockerfile_runtime(os.path.join(REPO, "Dockerfile"))
check_argv((entrypoint or []) + (image_cmd or []), "Dockerfile: `docker run IMAGE` (ENTRYPOINT + CMD)")
# PID 1 must reap what is orphaned to it (a killed or recycled zygote's
# workers, jailer and sandbox inits); warmjail waits only for its zygotes.
need(entrypoint and entrypoint[0] in INITS,
     "Dockerfile: ENTRYPOINT %r does not start with an init (%s) as PID 1" % (entrypoint, ", ".join(INITS)))
deps = open(os.path.join(REPO, "scripts", "install-runtime-deps"), encoding="utf-8").read()
need(re.search(r'^packages="[^"]*\btini\b', deps, re.M),
     "scripts/install-runtime-deps does not install tini, the image's PID 1")
check_argv((entrypoint or []) + ["serve", "--allow-degraded"], "Dockerfile: `docker run IMAGE serve --allow-degraded`")
readme_runs = readme_docker_runs(os.path.join(REPO, "README.md"))
need(readme_runs, "README.md: no `docker run ... warmjail` found")
for line, args in readme_runs:
    check_argv((entrypoint or []) + (args or image_cmd or []), "README.md: `%s`" % line)

def readme_default(flag):
    """A flag's default from README.md's configuration table."""
    text = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    m = re.search(r"^\| `%s` \| ([0-9.]+) \|" % re.escape(flag), text, re.M)
    need(m, "README.md: no default for %s in the configuration table" % flag)
    return m.group(1) if m else "0"


def setting(var, flag, env):
    """The Deployment's value of an environment variable, else the default."""
    value = (env.get(var) or {}).get("value")
    if var == "WARMJAIL_WORKERS":
        return value
    return value if value is not None else readme_default(flag)


docs = {}
files = sorted(glob.glob(os.path.join(KDIR, "*.yaml")))
need(files, "no manifests in deploy/kubernetes")
for path in files:
    name = os.path.relpath(path, REPO)
    try:
        parsed = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d is not None]
    except yaml.YAMLError as exc:
        errors.append("%s: YAML error: %s" % (name, exc))
        continue
    for d in parsed:
        for field in ("apiVersion", "kind"):
            need(isinstance(d.get(field), str) and d[field], "%s: missing %s" % (name, field))
        need(isinstance(dig(d, "metadata", "name"), str), "%s: missing metadata.name" % name)
        docs.setdefault(d.get("kind"), []).append((name, d))

for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "Secret"):
    need(len(docs.get(kind, [])) == 1, "expected exactly one %s, found %d" % (kind, len(docs.get(kind, []))))

secret_name = None
for name, sec in docs.get("Secret", []):
    secret_name = dig(sec, "metadata", "name")
    need("token" in (sec.get("stringData") or sec.get("data") or {}), "%s: Secret has no 'token' key" % name)

deploy_name = None
for name, dep in docs.get("Deployment", []):
    deploy_name = dig(dep, "metadata", "name")
    need(dep.get("apiVersion") == "apps/v1", "%s: apiVersion must be apps/v1" % name)
    labels = dig(dep, "spec", "template", "metadata", "labels") or {}
    selector = dig(dep, "spec", "selector", "matchLabels") or {}
    need(selector and all(labels.get(k) == v for k, v in selector.items()),
         "%s: selector does not match the pod labels" % name)
    pod = dig(dep, "spec", "template", "spec") or {}
    containers = pod.get("containers") or []
    need(len(containers) == 1, "%s: expected one container" % name)
    c = containers[0] if containers else {}
    # Kubernetes: command replaces ENTRYPOINT (and then CMD is not used),
    # args replaces CMD.
    if c.get("command") is not None:
        argv = list(c["command"]) + list(c.get("args") or [])
    else:
        argv = (entrypoint or []) + list(c["args"] if c.get("args") is not None else image_cmd or [])
    check_argv(argv, "%s: the container (command/args over the Dockerfile's ENTRYPOINT/CMD)" % name)
    check_argv(argv + ["--allow-degraded"], "%s: args with --allow-degraded added" % name)
    # Termination: a preStop sleep keeps the server accepting while the
    # endpoint is removed; the grace period must cover it and the longest
    # drain: every queued request, --workers at a time, each up to --timeout,
    # after --request-read-timeout to arrive (defaults: README's table).
    env = {e.get("name"): e for e in c.get("env") or []}
    pre_stop = dig(c, "lifecycle", "preStop", "exec", "command") or []
    need(len(pre_stop) == 2 and pre_stop[0] == "/bin/sleep" and pre_stop[1].isdigit() and int(pre_stop[1]) > 0,
         "%s: lifecycle.preStop must exec [\"/bin/sleep\", \"N\"] (the image has no shell to rely on)" % name)
    if pre_stop[1:2] and pre_stop[1].isdigit():
        cpu = str(dig(c, "resources", "limits", "cpu") or "0")
        workers = int(setting("WARMJAIL_WORKERS", "--workers", env) or 0) or \
            max(1, -(-int(cpu[:-1]) // 1000) if cpu.endswith("m") else int(-(-float(cpu) // 1)))
        queue = int(setting("WARMJAIL_QUEUE", "--queue", env))
        timeout = float(setting("WARMJAIL_TIMEOUT", "--timeout", env))
        read = float(setting("WARMJAIL_REQUEST_READ_TIMEOUT", "--request-read-timeout", env))
        drain = (-(-queue // workers) + 1) * timeout + read
        grace = pod.get("terminationGracePeriodSeconds") or 30
        need(grace >= int(pre_stop[1]) + drain,
             "%s: terminationGracePeriodSeconds %s < preStop %s s + the longest drain %.0f s "
             "((%d queued / %d workers + 1) x %g s + %g s)" % (name, grace, pre_stop[1], drain, queue, workers,
                                                               timeout, read))
    for probe in ("readinessProbe", "livenessProbe"):
        need(dig(c, probe, "httpGet", "path") == "/healthz", "%s: %s must GET /healthz" % (name, probe))
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
    need(ports.get("http") == 8080, "%s: container port 'http' must be 8080" % name)
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory"):
            need(dig(c, "resources", kind, res) is not None, "%s: resources.%s.%s missing" % (name, kind, res))
    env = {e.get("name"): e for e in c.get("env") or []}
    tok = env.get("WARMJAIL_API_TOKEN") or {}
    need(dig(tok, "valueFrom", "secretKeyRef", "name") == secret_name and secret_name,
         "%s: WARMJAIL_API_TOKEN must come from the Secret %r" % (name, secret_name))
    need(dig(tok, "valueFrom", "secretKeyRef", "key") == "token", "%s: secretKeyRef key must be 'token'" % name)
    sc = c.get("securityContext") or {}
    psc = pod.get("securityContext") or {}
    need(sc.get("privileged") in (None, False), "%s: must not be privileged" % name)
    need(sc.get("allowPrivilegeEscalation") is False, "%s: allowPrivilegeEscalation must be false" % name)
    need(dig(sc, "capabilities", "drop") == ["ALL"], "%s: capabilities must drop ALL" % name)
    need(not dig(sc, "capabilities", "add"), "%s: no capability may be added (runs as non-root)" % name)
    seccomp = dig(sc, "seccompProfile", "type") or dig(psc, "seccompProfile", "type")
    need(seccomp in ("Unconfined", "Localhost"), "%s: seccompProfile must be Unconfined or Localhost" % name)
    apparmor = dig(sc, "appArmorProfile", "type") or dig(psc, "appArmorProfile", "type")
    need(apparmor in ("Unconfined", "Localhost"), "%s: appArmorProfile must be Unconfined or Localhost" % name)
    need(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65534,
         "%s: pod must run as non-root uid 65534" % name)
    need(sc.get("procMount") == "Unmasked", "%s: procMount must be Unmasked (the jail mounts /proc)" % name)
    need(pod.get("hostUsers") is False, "%s: procMount Unmasked needs hostUsers: false" % name)

for name, svc in docs.get("Service", []):
    sel = dig(svc, "spec", "selector") or {}
    dep_labels = dig(docs["Deployment"][0][1], "spec", "template", "metadata", "labels") if docs.get("Deployment") else {}
    need(sel and all((dep_labels or {}).get(k) == v for k, v in sel.items()),
         "%s: Service selector does not select the Deployment's pods" % name)
    need(any(p.get("targetPort") in ("http", 8080) for p in dig(svc, "spec", "ports") or []),
         "%s: Service must target port http/8080" % name)

for name, hpa in docs.get("HorizontalPodAutoscaler", []):
    need(hpa.get("apiVersion") == "autoscaling/v2", "%s: apiVersion must be autoscaling/v2" % name)
    need(dig(hpa, "spec", "scaleTargetRef", "kind") == "Deployment"
         and dig(hpa, "spec", "scaleTargetRef", "name") == deploy_name,
         "%s: scaleTargetRef must name the Deployment" % name)
    metrics = dig(hpa, "spec", "metrics") or []
    need(any(dig(m, "resource", "name") == "cpu" for m in metrics), "%s: must scale on CPU" % name)
    need((dig(hpa, "spec", "minReplicas") or 0) <= (dig(hpa, "spec", "maxReplicas") or 0),
         "%s: minReplicas > maxReplicas" % name)

seccomp_path = os.path.join(REPO, "deploy", "docker", "seccomp-warmjail.json")
try:
    prof = json.load(open(seccomp_path, encoding="utf-8"))
    denied = {n for rule in prof.get("syscalls", []) if rule.get("action") != "SCMP_ACT_ALLOW"
              for n in rule.get("names", [])}
    for needed in ("clone", "clone3", "unshare", "mount", "umount2", "pivot_root", "setns"):
        need(needed not in denied, "seccomp-warmjail.json denies %s, which the jail needs" % needed)
    need(prof.get("defaultAction", "").startswith("SCMP_ACT_"), "seccomp-warmjail.json: bad defaultAction")
except (OSError, ValueError) as exc:
    errors.append("deploy/docker/seccomp-warmjail.json: %s" % exc)

if errors:
    print("manifest check FAILED:\n  " + "\n  ".join(errors))
    sys.exit(1)
print("manifest check passed: %d files, kinds %s" % (len(files), ", ".join(sorted(k for k in docs if k))))
