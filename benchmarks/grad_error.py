"""Worst gradient error of relukit.torch per case and dtype, against the exact derivative.

The same measurement as ``tests/test_torch_gradients.py`` (``tests/helpers.py``): relative to
|f'(x)|, absolute in units of |f'(0)| where f' underflows; plus whether any gradient has the wrong
sign. Writes ``benchmarks/results/grad_error.{json,md}``.

Run: ``python benchmarks/grad_error.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cases import CASES  # noqa: E402
from helpers import torch_gradient_errors  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DTYPES = ("float64", "float32", "float16", "bfloat16")


def main() -> None:
    rows = []
    for case in CASES:
        for dtype in DTYPES:
            err, wrong = torch_gradient_errors(case, dtype)
            rows.append({"case": case.id, "dtype": dtype, "error": err, "wrong_sign": wrong})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "grad_error.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| case | " + " | ".join(DTYPES) + " |", "|---|" + "---:|" * len(DTYPES)]
    for case in CASES:
        cells = [r for r in rows if r["case"] == case.id]
        shown = [f"{r['error']:.2g}" + (" (wrong sign)" if r["wrong_sign"] else "") for r in cells]
        lines.append(f"| {case.id} | " + " | ".join(shown) + " |")
    (RESULTS / "grad_error.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
