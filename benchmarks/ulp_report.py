"""Worst error of every NumPy function and derivative against mpmath, in ulps, per dtype.

Uses the test suite's references and grids (``tests/helpers.py``), so
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

from cases import CASES, ULPS  # noqa: E402
from helpers import numpy_worst_ulps, torch_gelu_ulps, torch_worst_ulps  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DTYPES = ("float16", "float32", "float64")


def main() -> None:
    rows = []
    for index, case in enumerate(CASES):
        for which in ("value", "derivative"):
            row = {"case": case.id, "which": which}
            for dtype in DTYPES:
                worst, at = numpy_worst_ulps(index, np.dtype(dtype).type, which)
                row[dtype] = {"ulp": worst, "at": float(at), "budget": ULPS[dtype]}
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
    lines += torch_gelu_lines()
    lines += torch_lines()
    lines += torch_nn_lines()
    (RESULTS / "ulp.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def torch_gelu_lines() -> list[str]:
    """relukit.torch's GELU against torch.nn.functional's, same mpmath references and grids."""
    try:
        import torch
    except ImportError:
        return []
    lines = [
        "",
        "## PyTorch GELU (CPU, eager): relukit.torch / torch.nn.functional",
        "",
        "float32 and float16 run relukit's native kernels; float64 runs ATen in both columns.",
        "",
        "| function | " + " | ".join(DTYPES) + " |",
        "|---|" + "---|" * len(DTYPES),
    ]
    for approximate in ("none", "tanh"):
        for which in ("value", "derivative"):
            cells = []
            for dtype in DTYPES:
                ours, _ = torch_gelu_ulps(approximate, dtype, which)
                theirs, _ = torch_gelu_ulps(
                    approximate, dtype, which, gelu=torch.nn.functional.gelu
                )
                cells.append(f"{ours:.3g} / {theirs:.3g}")
            name = f"gelu(approximate={approximate})" + ("  f'" if which == "derivative" else "")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def torch_lines() -> list[str]:
    """relukit.torch's default path (native, ATen + rules, or generic) for every case."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return []
    lines = [
        "",
        "## relukit.torch (CPU, eager), every case: worst ulp against mpmath",
        "",
        "| function | " + " | ".join(DTYPES) + " |",
        "|---|" + "---|" * len(DTYPES),
    ]
    for index, case in enumerate(CASES):
        for which in ("value", "derivative"):
            cells = []
            for dtype in DTYPES:
                worst, at = torch_worst_ulps(index, dtype, which)
                cells.append(f"{worst:.2f} (x = {at:.3g})")
            name = case.id + ("  f'" if which == "derivative" else "")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def torch_nn_lines() -> list[str]:
    """torch.nn.functional's own float32 and float16 kernels on the same cases and grids: what
    their speed is bought with (relukit computes these entries in float64 and rounds once)."""
    try:
        import torch
    except ImportError:
        return []
    dtypes = ("float16", "float32")
    rows = []
    lines = [
        "",
        "## torch.nn.functional (CPU, eager), the same cases: worst ulp against mpmath",
        "",
        "ATen computes float32 in float32 (float16 in float32, rounded once); the contract's "
        "budget is 1 ulp. The entries that are not piecewise linear.",
        "",
        "| function | " + " | ".join(dtypes) + " |",
        "|---|" + "---|" * len(dtypes),
    ]
    for index, case in enumerate(CASES):
        if case.activation.piecewise_linear:  # exact in their own dtype, in ATen too
            continue
        for which in ("value", "derivative"):
            cells = []
            row = {"case": case.id, "entry": case.name, "which": which}
            for dtype in dtypes:
                worst, at = torch_worst_ulps(index, dtype, which, torch.nn.functional)
                cells.append(f"{worst:.3g} (x = {at:.3g})")
                row[dtype] = {"ulp": worst, "at": at}
            rows.append(row)
            name = case.id + ("  f'" if which == "derivative" else "")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    (RESULTS / "ulp_torch_nn.json").write_text(json.dumps(rows, indent=1) + "\n")
    return lines


if __name__ == "__main__":
    main()
