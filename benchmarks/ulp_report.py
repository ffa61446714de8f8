"""Worst error of every NumPy function and derivative against mpmath, in ulps, per dtype.

Uses the test suite's references and grids (``tests/test_numpy_api.py``), so
the table and the tests measure the same thing. Writes ``benchmarks/results/ulp.md`` and ``.json``.

Run: ``python benchmarks/ulp_report.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import test_numpy_api as t  # noqa: E402
from cases import CASES, ULPS  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DTYPES = ("float16", "float32", "float64")


def main() -> None:
    rows = []
    for index, case in enumerate(CASES):
        for which in ("value", "derivative"):
            row = {"case": case.id, "which": which}
            for dtype in DTYPES:
                worst, at = t._worst(index, np.dtype(dtype).type, which)
                row[dtype] = {"ulp": worst, "at": float(at)}
            rows.append(row)
            print(case.id, which, {d: round(row[d]["ulp"], 2) for d in DTYPES}, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ulp.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        "| function | " + " | ".join(f"{d} (budget {ULPS[d]:g})" for d in DTYPES) + " |",
        "|---|" + "---|" * len(DTYPES),
    ]
    for r in rows:
        name = r["case"] if r["which"] == "value" else f"{r['case']}  f'"
        cells = [f"{r[d]['ulp']:.2f} (x = {r[d]['at']:.3g})" for d in DTYPES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    (RESULTS / "ulp.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
