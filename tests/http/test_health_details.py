"""GET /health shows nothing of the host to a caller without the token
(SPEC section 1, "GET /health and GET /healthz"; issue 9): with an API token
configured, an unauthenticated /health is status and layer names only — no
paths, PIDs, cgroup names, versions or limits; with the token (or with no
token configured) it is the full report."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

TOKEN = "health-details-token"
LAYERS = {"namespaces", "filesystem", "privileges", "seccomp", "memory_accounting"}


class WithToken(harness.ServerTestCase):
    server_args = ("--api-token", TOKEN)

    def assertRedacted(self, headers):
        status, hdrs, _, raw = self.server.request("GET", "/health", headers=headers)
        self.assertEqual(status, 200, raw)
        data = json.loads(raw)
        self.assertEqual(set(data), {"status", "isolation", "degraded"}, data)
        self.assertEqual(data["status"], "healthy")
        self.assertIs(data["degraded"], False)
        self.assertTrue(LAYERS <= set(data["isolation"]), data)
        for name, layer in data["isolation"].items():
            self.assertEqual(set(layer), {"active"}, "%s shows more than whether it is active: %r" % (name, layer))
        text = raw.decode()
        self.assertNotIn("/", text, "a path in the unauthenticated /health: %s" % text)
        self.assertNotIn(str(self.server.proc.pid), text, "the server's PID in /health: %s" % text)
        self.assertNotIn("warmjail-", text, text)
        self.assertTrue(hdrs.get("X-Request-Id"))

    def test_without_token_status_and_layer_names_only(self):
        self.assertRedacted({})

    def test_wrong_token_is_the_same_as_none(self):
        self.assertRedacted({"Authorization": "Bearer " + TOKEN + "x"})

    def test_with_token_full_details(self):
        status, _, data = self.server.get("/health", {"Authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 200, data)
        for key in ("status", "mode", "isolation", "limits", "version", "spares", "runtime"):
            self.assertIn(key, data)
        self.assertIn("detail", data["isolation"]["memory_accounting"])
        self.assertIn("mechanism", data["isolation"]["memory_accounting"])

    def test_healthz_is_unchanged(self):
        status, _, data = self.server.get("/healthz")
        self.assertEqual((status, data), (200, {"status": "ok"}))


class WithoutToken(harness.ServerTestCase):
    """No token configured: everyone is the operator, and sees everything."""

    def test_full_details(self):
        status, _, data = self.server.get("/health")
        self.assertEqual(status, 200, data)
        for key in ("status", "mode", "isolation", "limits", "version"):
            self.assertIn(key, data)
        self.assertIn("detail", data["isolation"]["memory_accounting"])

    @unittest.skipIf(harness.CONTAINER, "`warmjail check` runs in the container, not here")
    def test_check_names_the_layers_as_health_does(self):
        """`warmjail check` prints one row per layer, under /health's names."""
        status, _, data = self.server.get("/health")
        self.assertEqual(status, 200, data)
        proc = subprocess.run([harness.BIN, "check"] + harness.test_args(), capture_output=True, text=True,
                              timeout=120)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["layer", "status", "detail"], proc.stdout + proc.stderr)
        rows = [line.split()[0] for line in lines[1:] if not line.startswith(("running as", "each ", "every "))]
        self.assertEqual(sorted(rows), sorted(data["isolation"]), proc.stdout)


if __name__ == "__main__":
    unittest.main()
