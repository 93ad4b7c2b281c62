"""The benchmark's own figures: `warmjail __fork-floor` (the cost floor the
bench divides every request's CPU time by) reports what it measured, and
scripts/bench turns measurements into issue 10's verdicts as documented (the
floor multiple, warmjail's throughput over cold runs/s, errors)."""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def load_bench():
    path = os.path.join(harness.REPO, "scripts", "bench")
    loader = importlib.machinery.SourceFileLoader("warmjail_bench", path)
    spec = importlib.util.spec_from_loader("warmjail_bench", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class ForkFloor(unittest.TestCase):
    def test_reports_one_json_line(self):
        p = subprocess.run([harness.BIN, "__fork-floor", "--count", "5"], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stdout)
        r = json.loads(lines[0])
        self.assertEqual(r["forks"], 5)
        self.assertGreater(r["wall_p50_ms"], 0)
        self.assertLessEqual(r["wall_p50_ms"], r["wall_p90_ms"])
        self.assertAlmostEqual(r["cpu_ms_per_fork"], r["parent_cpu_ms_per_fork"] + r["child_cpu_ms_per_fork"],
                               places=3)
        self.assertGreater(r["cpu_ms_per_fork"], 0)
        # A fork always faults in the child (its first writes) and the parent
        # (copy-on-write of the stack it returns on).
        self.assertGreater(r["parent_minflt_per_fork"], 0)
        self.assertGreater(r["child_minflt_per_fork"], 0)
        # The warm interpreter: numpy and pandas make tens of MiB anonymous.
        self.assertGreater(r["anonymous_kib"], 10 * 1024)
        self.assertGreater(r["rss_kib"], r["anonymous_kib"])


    def run_floor(self, script, count=5):
        with tempfile.NamedTemporaryFile("w", suffix=".py") as f:
            f.write(script)
            f.flush()
            return subprocess.run([harness.BIN, "__fork-floor", "--count", str(count), "--script", f.name],
                                  capture_output=True, text=True, timeout=300)

    def test_children_run_the_script(self):
        """Each child runs the script through the runner: it counts as done
        only when main() returned, so the children fault on far more pages
        than ones that exit at once (a count, not a time)."""
        bare = subprocess.run([harness.BIN, "__fork-floor", "--count", "5"], capture_output=True, text=True,
                              timeout=300)
        self.assertEqual(bare.returncode, 0, bare.stderr)
        p = self.run_floor("import json\ndef main():\n    print('to /dev/null')\n    return json.loads('[1]')\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stdout)  # the script's print went nowhere near stdout
        r, floor = json.loads(lines[0]), json.loads(bare.stdout)
        self.assertIs(r["script"], True)
        self.assertIs(floor["script"], False)
        self.assertEqual(r["forks"], 5)
        self.assertGreater(r["child_minflt_per_fork"], 3 * floor["child_minflt_per_fork"])

    def test_a_failing_script_fails_the_measurement(self):
        for script in ("def main():\n    raise ValueError('no')\n", "x = (", "def main():\n    return object()\n"):
            with self.subTest(script=script):
                p = self.run_floor(script, count=2)
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertEqual(p.stdout, "")
                self.assertIn("a child failed", p.stderr)

    def test_a_missing_script_is_an_error(self):
        p = subprocess.run([harness.BIN, "__fork-floor", "--count", "2", "--script", "/nonexistent/x.py"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot read /nonexistent/x.py", p.stderr)


class Targets(unittest.TestCase):
    def setUp(self):
        self.bench = load_bench()

    def result(self, hello_cpu, hello_rps, errors=0):
        return {
            "systems": {s: {"measured": True} for s in ("zygote", "cold", "bwrap", "nsjail")},
            "machine": {"blas": None},
            "floor": {"cpu_ms_per_fork": 2.0},
            "latency": {"zygote": {"hello": {"p50": 1.25, "cpu_ms_per_request": hello_cpu},
                                   "pandas": {"p50": 2.0}},
                        "bwrap": {"hello": {"p50": 60.0}, "pandas": {"p50": 300.0}},
                        "nsjail": {"hello": {"p50": 25.0}, "pandas": {"p50": 299.0}}},
            "throughput": {"hello": {4: {"rps": hello_rps, "errors": errors}},
                           "pandas": {4: {"rps": 300.0, "errors": 0}}},
            "cold_throughput": {s: {"hello": {"runs_per_s": 70.0, "errors": 0},
                                    "pandas": {"runs_per_s": 7.0, "errors": 0}} for s in ("bwrap", "nsjail")},
            "memory": None,
        }

    def verdicts(self, res):
        return {t["target"]: t["verdict"] for t in self.bench.evaluate_targets(res)}

    def find(self, verdicts, *words):
        found = [v for name, v in verdicts.items() if all(w in name for w in words)]
        self.assertEqual(len(found), 1, (words, list(verdicts)))
        return found[0]

    def test_floor_multiple(self):
        self.assertEqual(self.find(self.verdicts(self.result(5.0, 700)), "fork floor"), "PASS")
        self.assertEqual(self.find(self.verdicts(self.result(5.1, 700)), "fork floor"), "MISS")

    def test_throughput_against_cold(self):
        v = self.verdicts(self.result(5.0, 350))  # 5× 70 runs/s
        self.assertEqual(self.find(v, "hello world throughput", "bubblewrap"), "PASS")
        v = self.verdicts(self.result(5.0, 349))
        self.assertEqual(self.find(v, "hello world throughput", "bubblewrap"), "MISS")
        self.assertEqual(self.find(v, "pandas throughput", "nsjail"), "PASS")  # 300 ÷ 7 = 42.9×
        v = self.verdicts(self.result(5.0, 700, errors=1))
        self.assertEqual(self.find(v, "hello world throughput", "nsjail"), "MISS")

    def test_latency_ratios(self):
        v = self.verdicts(self.result(5.0, 700))
        self.assertEqual(self.find(v, "pandas p50", "bubblewrap"), "PASS")  # 150×
        self.assertEqual(self.find(v, "pandas p50", "nsjail"), "MISS")  # 149.5×
        self.assertEqual(self.find(v, "hello world p50 ≥", "nsjail"), "PASS")  # 20×
        self.assertEqual(self.find(v, "hello world p50 ≤"), "PASS")  # 1.25 ms


if __name__ == "__main__":
    unittest.main()
