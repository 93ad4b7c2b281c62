"""numpy and pandas keep working fully under the whole jail (seccomp
allowlist, read-only root, private /tmp): a broad data-science workload, each
part checked against values computed here, outside the sandbox, where they
are exact, or against known answers.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


WORKLOAD = r'''
import io
import json
import os

import numpy as np
import pandas as pd


def main():
    out = {}
    # linear algebra
    a = np.array([[4.0, 1.0], [2.0, 3.0]])
    out["det"] = round(float(np.linalg.det(a)), 9)
    out["inv"] = np.round(np.linalg.inv(a), 9).tolist()
    out["solve"] = np.round(np.linalg.solve(a, np.array([1.0, 2.0])), 9).tolist()
    out["eigvals"] = sorted(np.round(np.linalg.eigvals(a).real, 9).tolist())
    m = np.arange(1.0, 10.0).reshape(3, 3)
    out["matmul_trace"] = float(np.trace(m @ m.T))
    out["svd_rank"] = int(np.linalg.matrix_rank(m))
    # FFT
    out["fft"] = np.round(np.abs(np.fft.fft([1.0, 0.0, -1.0, 0.0])), 9).tolist()
    # random, seeded: reproducible whatever the reseeding per request
    rng = np.random.default_rng(42)
    sample = rng.integers(0, 100, size=5)
    out["rng_len"] = len(sample)
    out["rng_in_range"] = bool(((sample >= 0) & (sample < 100)).all())
    # groupby, merge, pivot
    sales = pd.DataFrame({
        "region": ["n", "s", "n", "s", "e"],
        "product": ["a", "a", "b", "b", "a"],
        "units": [3, 5, 2, 7, 1],
    })
    out["groupby"] = sales.groupby("region")["units"].sum().to_dict()
    prices = pd.DataFrame({"product": ["a", "b"], "price": [2.5, 4.0]})
    merged = sales.merge(prices, on="product")
    merged["revenue"] = merged["units"] * merged["price"]
    out["revenue"] = float(merged["revenue"].sum())
    pivot = sales.pivot_table(index="region", columns="product", values="units", aggfunc="sum", fill_value=0)
    out["pivot"] = {r: {c: int(v) for c, v in row.items()} for r, row in pivot.to_dict("index").items()}
    # datetime
    days = pd.date_range("2024-02-27", periods=4, freq="D")
    out["dates"] = [d.strftime("%Y-%m-%d") for d in days]
    out["weekday"] = int(pd.Timestamp("2024-03-01").dayofweek)
    ts = pd.Series([1, 2, 3, 4], index=days)
    out["resample"] = ts.resample("2D").sum().tolist()
    out["tz"] = str(pd.Timestamp("2024-01-01 12:00", tz="UTC").tz_convert("Europe/Paris"))
    # string operations
    names = pd.Series(["  Alice ", "bob", "CAROL"])
    out["strings"] = names.str.strip().str.lower().str.capitalize().tolist()
    out["contains"] = names.str.contains("o", case=False).tolist()
    # a CSV round trip through /tmp
    path = "/tmp/sales.csv"
    sales.to_csv(path, index=False)
    back = pd.read_csv(path)
    out["csv_equal"] = bool(back.equals(sales))
    out["csv_size"] = os.path.getsize(path)
    # to_json and back
    text = sales.to_json(orient="records")
    out["to_json"] = json.loads(text)[0]
    out["read_json_rows"] = len(pd.read_json(io.StringIO(text)))
    # describe, rolling, quantiles
    out["describe_mean"] = float(sales["units"].describe()["mean"])
    out["rolling"] = sales["units"].rolling(2).mean().fillna(-1).tolist()
    out["quantile"] = float(sales["units"].quantile(0.5))
    return out
'''

EXPECTED = {
    "det": 10.0,
    "inv": [[0.3, -0.1], [-0.2, 0.4]],
    "solve": [0.1, 0.6],
    "eigvals": [2.0, 5.0],
    "matmul_trace": 285.0,
    "svd_rank": 2,
    "fft": [0.0, 2.0, 0.0, 2.0],
    "rng_len": 5,
    "rng_in_range": True,
    "groupby": {"e": 1, "n": 5, "s": 12},
    "revenue": 58.5,
    "pivot": {"e": {"a": 1, "b": 0}, "n": {"a": 3, "b": 2}, "s": {"a": 5, "b": 7}},
    "dates": ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"],
    "weekday": 4,
    "resample": [3, 7],
    "tz": "2024-01-01 13:00:00+01:00",
    "strings": ["Alice", "Bob", "Carol"],
    "contains": [False, True, True],
    "csv_equal": True,
    "csv_size": 51,
    "to_json": {"region": "n", "product": "a", "units": 3},
    "read_json_rows": 5,
    "describe_mean": 3.6,
    "rolling": [-1.0, 4.0, 3.5, 4.5, 4.0],
    "quantile": 3.0,
}


class NumpyPandasUnderTheJail(harness.ServerTestCase):
    def test_broad_workload(self):
        status, _, data = self.execute({"script": WORKLOAD, "limits": {"timeout_s": 30}})
        self.assertEqual(status, 200, data)
        result = data["result"]
        self.assertEqual(set(result), set(EXPECTED))
        for key, expected in EXPECTED.items():
            with self.subTest(key=key):
                self.assertEqual(result[key], expected)

    def test_the_jail_is_in_place_for_this_workload(self):
        # The workload above proves nothing about the jail unless it ran
        # under it: seccomp filter, no capabilities, read-only root.
        probe = (
            "import os\n"
            "def main():\n"
            "    s = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\\t' in l)\n"
            "    try:\n"
            "        open('/usr/warmjail-probe', 'w')\n"
            "        ro = False\n"
            "    except OSError:\n"
            "        ro = True\n"
            "    return [s['Seccomp'].strip(), s['CapEff'].strip(), ro, os.getuid()]\n"
        )
        status, _, data = self.execute({"script": probe})
        self.assertEqual(status, 200, data)
        self.assertEqual(data["result"], ["2", "0000000000000000", True, 65534])


if __name__ == "__main__":
    unittest.main()
