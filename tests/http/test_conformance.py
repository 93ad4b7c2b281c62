"""Seed conformance cases (tests/conformance/seed_cases.json), one subTest
each, all against one server."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SEED = os.path.join(harness.REPO, "tests", "conformance", "seed_cases.json")
KNOWN_KEYS = {"status", "result", "result_approx", "result_keys", "stdout",
              "error_type", "error", "error_prefix", "error_contains",
              "body_subset"}


def load_cases():
    with open(SEED, encoding="utf-8") as f:
        return json.load(f)["cases"]


class SeedConformance(harness.ServerTestCase):

    def test_seed_file_is_sane(self):
        cases = load_cases()
        self.assertGreaterEqual(len(cases), 30)
        names = [c["name"] for c in cases]
        self.assertEqual(len(names), len(set(names)), "duplicate case names")
        for c in cases:
            unknown = set(c["expect"]) - KNOWN_KEYS
            self.assertFalse(unknown, "%s: unknown expect keys %s" % (c["name"], unknown))
            self.assertIn("status", c["expect"], c["name"])

    def test_seed_cases(self):
        for case in load_cases():
            with self.subTest(case=case["name"]):
                self.check_case(case)

    def check_case(self, case):
        method = case.get("method", "POST")
        path = case.get("path", "/execute")
        exp = case["expect"]
        status, hdrs, data, raw = self.server.request(method, path,
                                                      case.get("request"))
        ctx = "%s %s -> %d %s" % (method, path, status, raw[:1500])
        if path == "/execute":
            self.check_shape(status, hdrs, data)
        else:
            self.assertNotIsInstance(data, harness._Unparsed, ctx)
            self.assertTrue(hdrs.get("X-Request-Id"), ctx)
        self.assertEqual(status, exp["status"], ctx)
        if "result" in exp:
            self.assertIn("result", data, ctx)
            diff = harness.json_equal(exp["result"], data["result"],
                                      exp.get("result_approx"))
            self.assertIsNone(diff, "%s\nresult differs: %s" % (ctx, diff))
        if "result_keys" in exp:
            self.assertIsInstance(data.get("result"), dict, ctx)
            missing = [k for k in exp["result_keys"] if k not in data["result"]]
            self.assertFalse(missing, "%s\nresult lacks keys %s" % (ctx, missing))
        if "stdout" in exp:
            self.assertEqual(data.get("stdout"), exp["stdout"], ctx)
        if "error_type" in exp:
            self.assertEqual(data.get("error_type"), exp["error_type"], ctx)
        if "error" in exp:
            self.assertEqual(data.get("error"), exp["error"], ctx)
        if "error_prefix" in exp:
            self.assertIsInstance(data.get("error"), str, ctx)
            self.assertTrue(data["error"].startswith(exp["error_prefix"]),
                            "%s\nerror does not start with %r" % (ctx, exp["error_prefix"]))
        if "error_contains" in exp:
            self.assertIsInstance(data.get("error"), str, ctx)
            self.assertIn(exp["error_contains"], data["error"], ctx)
        if "body_subset" in exp:
            for k, v in exp["body_subset"].items():
                self.assertIn(k, data, ctx)
                diff = harness.json_equal(v, data[k])
                self.assertIsNone(diff, "%s\nbody[%r] differs: %s" % (ctx, k, diff))


if __name__ == "__main__":
    unittest.main()
