"""Bytes saved for backward per training step: relukit.torch against torch.nn (issue: memory).

MLP 4 × [Linear(1024, 1024) → activation] → Linear(1024, 10), batch 256, float32. Every tensor
autograd packs is seen by ``torch.autograd.graph.saved_tensors_hooks``; the bytes of unique
storages are summed, parameters excluded. This is exact, not timed.

Run: ``python benchmarks/bench_torch_memory.py`` → ``benchmarks/results/torch_memory.{json,md}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn

import relukit
import relukit.torch as rt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import saved_bytes as _saved_bytes  # noqa: E402  (the tests count the same way)

WIDTH, DEPTH, BATCH, CLASSES = 1024, 4, 256, 10
RESULTS = Path(__file__).parent / "results"


def saved_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of unique storages saved for backward in one training step's forward pass (cross
    entropy against class 0), parameters excluded."""
    target = torch.zeros(len(x), dtype=torch.long)
    return _saved_bytes(model, x, lambda y: nn.functional.cross_entropy(y, target))


def mlp(make_act) -> nn.Module:
    layers: list[nn.Module] = []
    for _ in range(DEPTH):
        layers += [nn.Linear(WIDTH, WIDTH), make_act()]
    layers.append(nn.Linear(WIDTH, CLASSES))
    return nn.Sequential(*layers)


def configurations():
    """(label, torch.nn factory, relukit factory) for each catalog activation at its defaults."""
    for a in relukit.catalog:
        ours = rt._modules.MODULES[a.name]
        theirs = ours.torch_class()
        yield f"{ours.__name__}()", theirs, ours
    yield "LeakyReLU(-0.2)", lambda: nn.LeakyReLU(-0.2), lambda: rt.LeakyReLU(-0.2)
    yield "ELU(alpha=-0.5)", lambda: nn.ELU(-0.5), lambda: rt.ELU(-0.5)
    yield "GELU('tanh')", lambda: nn.GELU("tanh"), lambda: rt.GELU("tanh")


def output_save_rows():
    """``save="output"`` for every entry that offers it, against torch.nn at its defaults."""
    for a in relukit.catalog:
        if a.offers_output_save:
            cls = rt._modules.MODULES[a.name]
            ours = lambda cls=cls: cls(save="output")  # noqa: E731
            yield f"{cls.__name__}(save='output')", cls.torch_class(), ours


def fewbit_rows():
    try:
        from relukit.torch import _fewbit
    except ImportError:
        return []
    return [
        (f"{cls.__name__}(backward_bits={k})", (lambda cls=cls, k=k: cls(backward_bits=k)))
        for a in relukit.catalog
        if a.few_bit and (cls := rt._modules.MODULES[a.name])
        for k in _fewbit.BITS
    ]


def main() -> dict:
    torch.manual_seed(0)
    x = torch.randn(BATCH, WIDTH)
    hidden = BATCH * WIDTH * 4  # bytes of one hidden activation tensor
    relu_torch = saved_bytes(mlp(nn.ReLU), x)
    rows = []
    for label, theirs, ours in (*configurations(), *output_save_rows()):
        t = saved_bytes(mlp(theirs), x) if theirs is not None else None
        r = saved_bytes(mlp(ours), x)
        rows.append({"activation": label, "torch_nn": t, "relukit": r})
    for label, ours in fewbit_rows():
        rows.append({"activation": label, "torch_nn": None, "relukit": saved_bytes(mlp(ours), x)})
    for row in rows:
        row["vs_torch_nn"] = row["relukit"] / row["torch_nn"] if row["torch_nn"] else None
        row["vs_torch_relu"] = row["relukit"] / relu_torch
        row["extra_hidden_over_relu"] = (row["relukit"] - relu_torch) / (DEPTH * hidden)
    result = {
        "model": f"{DEPTH} x [Linear({WIDTH}, {WIDTH}) -> act] -> Linear({WIDTH}, {CLASSES})",
        "batch": BATCH,
        "dtype": "float32",
        "torch": torch.__version__,
        "hidden_tensor_bytes": hidden,
        "torch_nn_relu_bytes": relu_torch,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "torch_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Saved-for-backward bytes per step: {result['model']}, batch {BATCH}, float32",
        "",
        f"One hidden tensor = {hidden / 2**20:.2f} MiB; torch.nn ReLU model = "
        f"{relu_torch / 2**20:.2f} MiB. torch {torch.__version__}.",
        "",
        "| activation | torch.nn MiB | relukit MiB | relukit / torch.nn | relukit / torch.nn ReLU "
        "| extra hidden tensors per layer vs ReLU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        t = "—" if row["torch_nn"] is None else f"{row['torch_nn'] / 2**20:.2f}"
        v = "—" if row["vs_torch_nn"] is None else f"{row['vs_torch_nn']:.3f}"
        lines.append(
            f"| {row['activation']} | {t} | {row['relukit'] / 2**20:.2f} | {v} | "
            f"{row['vs_torch_relu']:.3f} | {row['extra_hidden_over_relu']:+.3f} |"
        )
    (RESULTS / "torch_memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
