"""A real training run where ReLU units die, diagnosed and repaired (issue #13 item 8).

A deep, narrow ReLU MLP (64 → 8 hidden layers of 24 → 10) is trained on scikit-learn's digits
(1,797 8×8 images; 70/30 split, standardised) with Adam at a learning rate high enough to kill
units (lr = 0.01). Two arms per seed, from the same initial weights and batch order:

- **plain**: trained for ``EPOCHS`` epochs;
- **recycled**: the same, with ``recycle_(model, report, optimizer)`` after every ``EVERY``-th
  epoch, ``report`` being that epoch's :class:`~relukit.diagnostics.UnitMonitor` report (units
  never active during the epoch's training passes).

A ``UnitMonitor`` is attached during every epoch of both arms. Reported per seed: the dead
fraction of the hidden units at the end of each arm, right before and right after each
recycling (after: one pass over the training data), and the test accuracy of both arms. The
plain arm's report is printed at a few epochs of the first seed.

Run: ``python benchmarks/dying_digits.py [seeds]`` → ``benchmarks/results/dying_digits.{json,md}``
(needs scikit-learn).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import torch
from torch import nn

from relukit.diagnostics import UnitMonitor, recycle_
from relukit.lab._experiments import digits_split

RESULTS = Path(__file__).parent / "results"
DEPTH, WIDTH = 8, 24
EPOCHS, EVERY, BATCH, LR = 30, 5, 64, 1e-2
PRINT_AT = (1, 10, 30)


def data() -> tuple[torch.Tensor, ...]:
    """The lab's digits split (relukit.lab._experiments.digits_split) as torch tensors."""
    x_train, y_train, x_test, y_test = digits_split()
    return (
        torch.tensor(x_train, dtype=torch.float32),
        torch.tensor(y_train, dtype=torch.long),
        torch.tensor(x_test, dtype=torch.float32),
        torch.tensor(y_test, dtype=torch.long),
    )


def make_model() -> nn.Module:
    layers: list[nn.Module] = []
    width = 64
    for _ in range(DEPTH):
        layers += [nn.Linear(width, WIDTH), nn.ReLU()]
        width = WIDTH
    return nn.Sequential(*layers, nn.Linear(width, 10))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def dead_fraction(report) -> float:
    return float(report.overall()["dead_fraction"])


def summary(report) -> dict:
    """The report's dict without its per-unit arrays (dead indices kept)."""
    data = report.to_dict()
    per_unit = ("frequency", "mean_abs", "mean", "score", "grad_score")
    for layer in data["layers"].values():
        for key in per_unit:
            layer.pop(key)
    return data


def run(seed: int, recycle: bool, tensors, log: list[str] | None = None) -> dict:
    xtr, ytr, xte, yte = tensors
    torch.manual_seed(seed)
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    batches = torch.Generator().manual_seed(seed)
    events = []
    for epoch in range(1, EPOCHS + 1):
        order = torch.randperm(len(xtr), generator=batches)
        with UnitMonitor(model) as monitor:
            for i in range(0, len(xtr), BATCH):
                idx = order[i : i + BATCH]
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
                optimizer.step()
        report = monitor.report()
        if log is not None and epoch in PRINT_AT:
            log.append(f"epoch {epoch}: test accuracy {accuracy(model, xte, yte):.3f}\n{report}")
        if recycle and epoch % EVERY == 0 and epoch < EPOCHS:
            before = dead_fraction(report)
            done = recycle_(model, report, optimizer)
            with UnitMonitor(model) as after, torch.no_grad():
                model(xtr)
            events.append(
                {
                    "epoch": epoch,
                    "dead_before": before,
                    "dead_after": dead_fraction(after.report()),
                    "recycled": sum(len(d.units) for d in done),
                }
            )
    return {
        "dead_end": dead_fraction(report),
        "accuracy": accuracy(model, xte, yte),
        "recycling": events,
        "final_report": summary(report),
        "final_table": str(report),
    }


def main(seeds: int = 5) -> dict:
    tensors = data()
    log: list[str] = []
    rows = []
    for seed in range(seeds):
        plain = run(seed, False, tensors, log if seed == 0 else None)
        recycled = run(seed, True, tensors)
        rows.append({"seed": seed, "plain": plain, "recycled": recycled})
    result = {
        "model": f"64 -> {DEPTH} x {WIDTH} ReLU -> 10",
        "optimizer": f"Adam lr={LR}",
        "epochs": EPOCHS,
        "recycle_every": EVERY,
        "batch": BATCH,
        "rows": rows,
        "printed_reports": log,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dying_digits.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Dying ReLUs on digits: {result['model']}, {result['optimizer']}, {EPOCHS} epochs, "
        f"batch {BATCH}",
        "",
        f"Recycled arm: `recycle_(model, report, optimizer)` after every {EVERY}th epoch. Dead "
        "fractions are over all hidden units: never active during the epoch's training passes; "
        "after recycling, never active on one pass over the training data. What is dead after "
        "recycling had been active earlier in the epoch and died later in it (the report counts "
        "it alive, so it was not recycled).",
        "",
        "| seed | plain: dead at end | plain: test acc | recycled: dead before → after each "
        "recycling | recycled: dead at end | recycled: test acc |",
        "|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        p, q = r["plain"], r["recycled"]
        steps = ", ".join(f"{e['dead_before']:.0%} → {e['dead_after']:.0%}" for e in q["recycling"])
        lines.append(
            f"| {r['seed']} | {p['dead_end']:.1%} | {p['accuracy']:.3f} | {steps} | "
            f"{q['dead_end']:.1%} | {q['accuracy']:.3f} |"
        )
    med = lambda arm, key: statistics.median(r[arm][key] for r in rows)  # noqa: E731
    lines.append(
        f"| median | {med('plain', 'dead_end'):.1%} | {med('plain', 'accuracy'):.3f} | | "
        f"{med('recycled', 'dead_end'):.1%} | {med('recycled', 'accuracy'):.3f} |"
    )
    lines += ["", "## The plain arm's report, seed 0", ""]
    for entry in log:
        head, table = entry.split("\n", 1)
        lines += [f"{head}:", "", "```", table, "```", ""]
    (RESULTS / "dying_digits.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
