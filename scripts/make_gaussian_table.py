"""Regenerate ``src/relukit/_data/gaussian_table.json``: N(x) = Φ(x)·exp(x²/2) at x = −j/64.

relukit's float64 Φ(x) = exp(−x²/2)·N(x) expands N in a Taylor series around the nearest node
(``relukit._numpy_ns.gaussian``); the nodes are stored as double-double pairs (hi, lo) computed
with mpmath at 60 significant digits, so the table contributes no error of its own.

Run: ``python scripts/make_gaussian_table.py`` (needs mpmath; deterministic output).
"""

from __future__ import annotations

import json
from pathlib import Path

import mpmath as mp

STEP = 64  # nodes per unit of x
LIMIT = 40  # nodes cover [-LIMIT, 0]
OUT = Path(__file__).resolve().parents[1] / "src" / "relukit" / "_data" / "gaussian_table.json"


def main() -> None:
    mp.mp.dps = 60
    hi, lo = [], []
    for j in range(LIMIT * STEP + 1):
        x = -mp.mpf(j) / STEP
        n = mp.ncdf(x) * mp.exp(x * x / 2)
        h = float(n)
        hi.append(h)
        lo.append(float(n - h))
    table = {
        "description": "N(x) = Phi(x)*exp(x^2/2) at x = -j/step, j = 0..limit*step, as hi + lo",
        "step": STEP,
        "limit": LIMIT,
        "hi": hi,
        "lo": lo,
    }
    OUT.write_text(json.dumps(table, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(hi)} nodes)")


if __name__ == "__main__":
    main()
