"""The layering of the sources, enforced: src -> embed -> jail -> util.

Every library exports the repository root as its include path (so that
includes read "jail/mounts.h", never a bare "mounts.h"), which lets the
compiler accept any include; this test is what refuses the wrong ones. A file
may include headers of its own folder, and of a lower layer only those on
that pair's list below: never a higher layer, and never a lower layer's
internals (the jail's individual steps are the recipe's business, not the
server's). docs/ARCHITECTURE.md ("Layers") says why each list is what it is.

Run as ctest unit_layering; `violations(root)` is also used on synthetic
trees below, so the check itself is tested to fail.
"""
import os
import re
import shutil
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Lowest first. Each folder is one library (util: warmjail_util; jail:
# warmjail_jail; embed: warmjail_protocol + warmjail_embed; src: warmjail_core,
# warmjail_document and the executable).
LAYERS = ["util", "jail", "embed", "src"]

ALL = "*"
# (including folder, included folder) -> the headers it may include; a pair
# not listed is refused. util has no internals.
ALLOWED = {
    ("jail", "util"): ALL,
    ("embed", "util"): ALL,
    ("src", "util"): ALL,
    # The zygote drives the jail: the recipe and what the recipe needs from
    # outside (policy, cgroups, nests, the probe, the pieces of the policy
    # it builds). The steps only Specialize calls are not here.
    ("embed", "jail"): {
        "jail/cgroups.h", "jail/default_policy.h", "jail/defaults.h", "jail/environment.h", "jail/layers.h",
        "jail/mounts.h", "jail/namespaces.h", "jail/nest.h", "jail/policy.h", "jail/probe.h", "jail/seccomp.h", "jail/specialize.h",
    },
    # The server: the zygote's options and wire, and the bench's fork floor
    # (a hidden command that runs in its own process); nothing else of the
    # interpreter.
    ("src", "embed"): {"embed/protocol.h", "embed/zygote.h", "embed/floor.h"},
    # The server's own use of the jail: the cgroup base it creates, the
    # sandbox environment it sends, the probe /health and check report, the
    # default policy check probes with, the defaults and layer names.
    ("src", "jail"): {"jail/cgroups.h", "jail/default_policy.h", "jail/defaults.h", "jail/environment.h",
                      "jail/layers.h", "jail/policy.h", "jail/probe.h"},
}

# Single files allowed one more header, each with its reason. Keep short.
EXCEPTIONS = set()

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
SOURCE_EXT = (".h", ".cc")


def violations(root):
    """Every include in root's layered folders that the rules refuse."""
    found = []
    for folder in LAYERS:
        base = os.path.join(root, folder)
        for dirpath, _, files in os.walk(base):
            for name in sorted(files):
                if not name.endswith(SOURCE_EXT):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for header in INCLUDE.findall(text):
                    problem = judge(rel, folder, header)
                    if problem:
                        found.append(f"{rel}: #include \"{header}\": {problem}")
    return found


def judge(rel, folder, header):
    target = header.split("/", 1)[0] if "/" in header else None
    if target not in LAYERS or target == folder:
        return None  # the system's, a third party's, or its own folder's
    if LAYERS.index(target) > LAYERS.index(folder):
        return f"{folder}/ is below {target}/ and may not include it"
    allowed = ALLOWED.get((folder, target))
    if allowed == ALL or (allowed and header in allowed) or (rel, header) in EXCEPTIONS:
        return None
    if allowed is None:
        return f"{folder}/ may not include {target}/ at all"
    return f"not one of the headers {target}/ offers {folder}/ (tests/layering/test_layering.py)"


class RepositoryTest(unittest.TestCase):
    def test_the_repository_keeps_its_layers(self):
        self.assertEqual(violations(REPO), [])

    def test_every_listed_header_exists(self):
        # A header renamed or removed must leave the lists too, so that they
        # stay a true description of each folder's public headers.
        for allowed in ALLOWED.values():
            if allowed == ALL:
                continue
            for header in allowed:
                self.assertTrue(os.path.isfile(os.path.join(REPO, header)), header)
        for _, header in EXCEPTIONS:
            self.assertTrue(os.path.isfile(os.path.join(REPO, header)), header)


class CheckerTest(unittest.TestCase):
    """The check on small trees: each wrong include is reported."""

    def tree(self, files):
        root = tempfile.mkdtemp(prefix="layering-")
        self.addCleanup(shutil.rmtree, root)
        for rel, text in files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return root

    def check(self, rel, header):
        return violations(self.tree({rel: f'#include "{header}"\n#include <vector>\n'}))

    def test_allowed_includes_pass(self):
        for rel, header in [
            ("src/service.h", "jail/cgroups.h"),
            ("src/zygote_client.h", "embed/zygote.h"),
            ("src/sandbox.cc", "util/stage_times.h"),
            ("embed/zygote.cc", "jail/specialize.h"),
            ("jail/cgroups.h", "util/status.h"),
            ("jail/specialize.cc", "jail/fds.h"),  # its own folder
        ]:
            with self.subTest(rel=rel, header=header):
                self.assertEqual(self.check(rel, header), [])

    def test_a_lower_layers_internals_are_refused(self):
        for rel, header in [
            ("src/sandbox.cc", "jail/fds.h"),
            ("src/main.cc", "jail/seccomp.h"),
            ("src/sandbox.cc", "embed/interpreter.h"),
            ("embed/zygote.cc", "jail/rlimits.h"),
        ]:
            with self.subTest(rel=rel, header=header):
                [problem] = self.check(rel, header)
                self.assertIn("not one of the headers", problem)

    def test_a_higher_layer_is_refused(self):
        for rel, header in [
            ("util/status.h", "jail/policy.h"),
            ("jail/probe.cc", "embed/zygote.h"),
            ("jail/cgroups.cc", "src/log.h"),
            ("embed/zygote.cc", "src/config.h"),
        ]:
            with self.subTest(rel=rel, header=header):
                [problem] = self.check(rel, header)
                self.assertIn("may not include", problem)

    def test_angle_brackets_count_too(self):
        root = self.tree({"src/x.cc": "#include <jail/mounts.h>\n"})
        self.assertEqual(len(violations(root)), 1)


if __name__ == "__main__":
    unittest.main()
