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
from helpers import torch_gradient_absolute_error, torch_gradient_errors  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DTYPES = ("float64", "float32", "float16", "bfloat16")


def configurations():
    """(label, case, options): every case at the exact default, then ``save="output"`` where
    the catalog offers it (its cost: f' exact for the output, not for the input)."""
    for case in CASES:
        yield case.id, case, {}
    for case in _output_cases():
        yield f"{case.id} save='output'", case, {"save": "output"}


def _output_cases():
    return [c for c in CASES if c.activation.offers_output_save and _output_ok(c)]


def _output_ok(case) -> bool:
    return case.activation.output_refusal(case.params) is None


def main() -> None:
    rows = []
    for label, case, options in configurations():
        for dtype in DTYPES:
            err, wrong = torch_gradient_errors(case, dtype, **options)
            rows.append({"case": label, "dtype": dtype, "error": err, "wrong_sign": wrong})
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "grad_error.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| case | " + " | ".join(DTYPES) + " |", "|---|" + "---:|" * len(DTYPES)]
    for label, _, _ in configurations():
        cells = [r for r in rows if r["case"] == label]
        shown = [f"{r['error']:.2g}" + (" (wrong sign)" if r["wrong_sign"] else "") for r in cells]
        lines.append(f"| {label} | " + " | ".join(shown) + " |")
    absolute = [
        {"case": c.id, "dtype": d, "error": torch_gradient_absolute_error(c, d, save="output")}
        for c in _output_cases()
        for d in DTYPES
    ]
    lines += [
        "",
        "With ``save='output'`` f' is exact for the output, so relatively off where the output's "
        "rounding hides the input (the tails, above). In absolute terms, worst |gradient − f'(x)| "
        "in units of the dtype's epsilon × max |f'(x)| on the same grid:",
        "",
        "| case | " + " | ".join(DTYPES) + " |",
        "|---|" + "---:|" * len(DTYPES),
    ]
    for case in _output_cases():
        cells = [f"{r['error']:.2f}" for r in absolute if r["case"] == case.id]
        lines.append(f"| {case.id} save='output' | " + " | ".join(cells) + " |")
    (RESULTS / "grad_error.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "grad_error_absolute.json").write_text(json.dumps(absolute, indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
