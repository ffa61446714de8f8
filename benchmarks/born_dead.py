"""Born dead or collapsed? He, RAI and relukit's asymmetric init on deep narrow ReLU networks.

The setting of Lu et al. (2019), "Dying ReLU and Initialization": a network with one input,
``depth`` hidden ReLU layers of ``width`` units and one linear output unit, evaluated on 201 inputs
evenly spaced in [−1, 1]. For each initialiser and each (width, depth) cell, over ``--draws``
independent networks (vectorised over draws with batched matmuls):

* P(born dead): the output is exactly constant over the inputs (some hidden layer is inactive on
  every input, so nothing downstream depends on x);
* the median over draws of std(output over inputs) / std(inputs) (0 for a dead network), and the
  fraction of draws below 1e-6 ("numerically flat").

The hidden layers (the first one included) are drawn by the initialiser under test; the output
unit is the same for all, N(0, 1/width) weights and zero bias (a linear layer's gain is 1), so the
comparison isolates the hidden layers. Initialisers: He (N(0, 2/fan_in), zero bias), RAI exactly as
published (``relukit.init.sample_rai``), RAI with every row rescaled to He's expected energy 2
(``rai_he``), and relukit's asymmetric init (``relukit.init.sample_asymmetric``).

Writes ``benchmarks/results/born_dead.json`` (all numbers) and ``born_dead.md`` (the table), and
the gains to ``benchmarks/results/gains.json`` and ``gains.md``.

    python benchmarks/born_dead.py [--draws 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

import relukit
from relukit.init import gain, sample_asymmetric, sample_rai
from relukit.init._asymmetric import RAI_STD

WIDTHS = (2, 4, 5, 10)
DEPTHS = (10, 20, 50)
INPUTS = np.linspace(-1.0, 1.0, 201)
FLAT = 1e-6
RESULTS = Path(__file__).resolve().parent / "results"

# RAI's expected row energy: fan_in Gaussian entries of variance RAI_STD²/fan_in (one of the
# fan_in + 1 entries of [W, b] is replaced) plus E[Beta(2, 1)²] = 1/2.
RAI_ENERGY = RAI_STD**2 + 0.5


def he(rng, draws, fan_out, fan_in):
    w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(draws, fan_out, fan_in))
    return w, np.zeros((draws, fan_out))


def rai(rng, draws, fan_out, fan_in):
    return sample_rai(rng, fan_out, fan_in, draws=draws)


def rai_he(rng, draws, fan_out, fan_in):
    w, b = sample_rai(rng, fan_out, fan_in, draws=draws)
    s = math.sqrt(2.0 / RAI_ENERGY)
    return w * s, b * s


def ours(rng, draws, fan_out, fan_in):
    return sample_asymmetric(rng, fan_out, fan_in, draws=draws)


INITS = {"he": he, "rai": rai, "rai_he": rai_he, "ours": ours}
LABELS = {
    "he": "He (zero bias)",
    "rai": "RAI",
    "rai_he": "RAI at He's energy",
    "ours": "relukit asymmetric_",
}


def measure(init, width: int, depth: int, draws: int, rng: np.random.Generator) -> dict:
    h = np.broadcast_to(INPUTS, (draws, 1, INPUTS.size))
    fan_in = 1
    for _ in range(depth):
        w, b = init(rng, draws, width, fan_in)
        h = np.maximum(w @ h + b[..., None], 0.0)
        fan_in = width
    w_out = rng.normal(0.0, 1.0 / math.sqrt(width), size=(draws, 1, width))
    y = (w_out @ h)[:, 0, :]
    dead = np.ptp(y, axis=1) == 0.0
    ratio = np.where(dead, 0.0, y.std(axis=1) / INPUTS.std())
    return {
        "p_dead": float(dead.mean()),
        "median_ratio": float(np.median(ratio)),
        "q25_ratio": float(np.quantile(ratio, 0.25)),
        "q75_ratio": float(np.quantile(ratio, 0.75)),
        "p_flat": float((ratio < FLAT).mean()),
    }


def run(draws: int, seed: int) -> dict:
    cells = []
    for width in WIDTHS:
        for depth in DEPTHS:
            cell = {"width": width, "depth": depth}
            for k, (name, init) in enumerate(INITS.items()):
                rng = np.random.default_rng([seed, width, depth, k])
                cell[name] = measure(init, width, depth, draws, rng)
            cells.append(cell)
    return {
        "draws": draws,
        "seed": seed,
        "inputs": "201 evenly spaced in [-1, 1]",
        "output_unit": "N(0, 1/width) weights, zero bias, for every initialiser",
        "inits": LABELS,
        "cells": cells,
    }


def check_targets(record: dict) -> list[str]:
    """The issue's targets: ours born dead ≤ RAI + 0.02 everywhere; median ratio in [0.1, 10] at
    depth 50 for widths 5 and 10. Returns the failures."""
    failures = []
    for c in record["cells"]:
        if c["ours"]["p_dead"] > c["rai"]["p_dead"] + 0.02:
            failures.append(f"{c['width']}x{c['depth']}: P(dead) {c['ours']['p_dead']:.3f}")
        if c["depth"] == 50 and c["width"] in (5, 10):
            r = c["ours"]["median_ratio"]
            if not 0.1 <= r <= 10:
                failures.append(f"{c['width']}x{c['depth']}: median ratio {r:.3g}")
    return failures


def _ratio(x: float) -> str:
    return "0" if x == 0 else f"{x:.2g}" if 1e-3 <= x < 1e3 else f"{x:.1e}"


def render(record: dict) -> str:
    names = list(record["inits"])
    lines = [
        f"Born dead / collapse: ReLU nets with 1 input, width × depth hidden layers, a linear "
        f"output unit, 201 inputs in [−1, 1]; {record['draws']} random draws per cell "
        f"(seed {record['seed']}). P(dead): output constant over the inputs. Ratio: median over "
        "draws of std(output)/std(input).",
        "",
        "| width × depth | "
        + " | ".join(f"{record['inits'][n]} P(dead)" for n in names)
        + " | "
        + " | ".join(f"{record['inits'][n]} ratio" for n in names)
        + " |",
        "|---|" + "---:|" * (2 * len(names)),
    ]
    for c in record["cells"]:
        dead = " | ".join(f"{c[n]['p_dead']:.3f}" for n in names)
        ratio = " | ".join(_ratio(c[n]["median_ratio"]) for n in names)
        lines.append(f"| {c['width']} × {c['depth']} | {dead} | {ratio} |")
    failures = record.get("target_failures", [])
    verdict = "all met." if not failures else "FAILED: " + "; ".join(failures)
    lines += [
        "",
        "Targets (ours born dead ≤ RAI + 0.02 in every cell; median ratio in [0.1, 10] at depth 50 "
        f"for widths 5 and 10): {verdict}",
    ]
    return "\n".join(lines) + "\n"


def gains() -> dict:
    """Forward and backward gains for every catalog activation (defaults, and each choice)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional
        torch = None
    rows = []
    for entry in relukit.catalog:
        variants = [{}]
        for p in entry.params:
            if p.kind == "choice":
                variants = [{p.name: c} for c in p.choices]
        for params in variants:
            shown = {**entry.defaults, **params}
            if any(p.kind == "weight" for p in entry.params):
                shown["weight"] = 0.25
            pt = None
            if torch is not None:
                try:
                    pt = torch.nn.init.calculate_gain(entry.name, *shown.values())
                except (ValueError, TypeError):
                    pt = None
            rows.append(
                {
                    "activation": entry.name,
                    "variant": params,
                    "parameters": ", ".join(f"{k}={v!r}" for k, v in shown.items()) or "–",
                    "forward": gain(entry, **params),
                    "backward": gain(entry, mode="backward", **params),
                    "torch_calculate_gain": pt,  # None: it raises (or torch is absent)
                }
            )
    return {"z": "N(0, 1)", "rows": rows}


def render_gains(record: dict) -> str:
    head = [
        "Gains for z ~ N(0, 1): forward 1/√E[f(z)²], backward 1/√E[f'(z)²] "
        "(`relukit.init.gain`), beside `torch.nn.init.calculate_gain`.",
        "",
        "| activation | parameters | forward | backward | torch calculate_gain |",
        "|---|---|---:|---:|---:|",
    ]
    rows = []
    for r in record["rows"]:
        label = r["activation"] + "".join(f" ({k}={v!r})" for k, v in r["variant"].items())
        pt = r["torch_calculate_gain"]
        torch_cell = "raises" if pt is None else f"{pt:.10f}"
        rows.append(
            f"| {label} | {r['parameters']} | {r['forward']:.10f} | {r['backward']:.10f} "
            f"| {torch_cell} |"
        )
    return "\n".join(head + rows) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000, help="networks per cell (≥ 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    record = run(args.draws, args.seed)
    record["seconds"] = round(time.perf_counter() - t0, 1)
    record["machine"] = f"{platform.machine()} {platform.python_version()} numpy {np.__version__}"
    record["target_failures"] = check_targets(record)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "born_dead.json").write_text(json.dumps(record, indent=1) + "\n")
    (args.out / "born_dead.md").write_text(render(record))
    gain_record = gains()
    (args.out / "gains.json").write_text(json.dumps(gain_record, indent=1) + "\n")
    (args.out / "gains.md").write_text(render_gains(gain_record))
    print(render(record))
    print(f"{record['seconds']} s")
    return record


if __name__ == "__main__":
    main()
