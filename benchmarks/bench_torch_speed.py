"""Forward+backward time of relukit.torch modules against torch.nn's (issue: speed).

CPU, 1e6 float32 elements by default. For each module, ``y = m(x); y.backward(g)`` is timed
``REPS`` times, alternating relukit and torch.nn call by call so that both see the same machine
state (and which of the two goes first, so that neither always runs on the other's warm
caches), in ``ROUNDS`` rounds over all modules; the ratio reported is the median of the paired
ratios (each relukit call over the torch.nn call beside it), which drifts less than a ratio of
medians on this shared machine.
``Tensor.copy_`` bandwidth of the same run is printed beside every figure (the physical limit
of elementwise work). Few-bit GELU is reported beside exact GELU. Control rows, in the same
rounds, say what the module rows are made of: relukit's native op called from a bare module
(the module less relukit's Python), and torch.nn's module against itself (what two identical
modules measure in this alternation).

A second table times the native kernels alone (``torch.ops.relukit``, no autograd) against the
ATen kernels that torch.nn runs, forward and backward, in alternation. A third times one
training step (forward, cross-entropy, backward) of the memory
benchmark's MLP with each activation, relukit against torch.nn in alternation: what an
activation's cost means inside a model, where the matrix products dominate.

Run: ``python benchmarks/bench_torch_speed.py [n]`` → ``benchmarks/results/torch_speed.{json,md}``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

import relukit
import relukit.torch as rt

RESULTS = Path(__file__).parent / "results"
REPS = 400
ROUNDS = 8  # compare_all: the configurations take turns in this many rounds
MODEL_REPS = 30


def copy_bandwidth(n: int, reps: int = 200) -> float:
    """GB/s of ``dst.copy_(src)`` for n float32 (read + write bytes over the median time)."""
    src, dst = torch.randn(n), torch.empty(n)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - t)
    return 2 * 4 * n / statistics.median(times) / 1e9


def step(module: nn.Module, x: torch.Tensor, g: torch.Tensor) -> float:
    t = time.perf_counter()
    module(x).backward(g)
    elapsed = time.perf_counter() - t
    x.grad = None
    for p in module.parameters():
        p.grad = None
    return elapsed


def inputs(ours: nn.Module, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (requiring grad) and the upstream gradient g for one configuration."""
    torch.manual_seed(0)
    if isinstance(ours, rt.PReLU):  # one slope: any shape works
        return torch.randn(n // 1000, 1000, requires_grad=True), torch.randn(n // 1000, 1000)
    return torch.randn(n, requires_grad=True), torch.randn(n)


def compare_all(configs: list, n: int) -> list[dict]:
    """Paired times of every configuration, in ``ROUNDS`` rounds of ``REPS // ROUNDS`` pairs,
    the configurations' order rotated each round and their input and gradient drawn into new
    buffers each round: a row's figure then mixes several moments of the run, several heap
    states and several placements of its buffers, instead of inheriting whatever the row before
    it left or where its one input landed (one row measured 1.05-1.35x from one process to the
    next with its kernels unchanged; with one input per row for the whole run, LeakyReLU's
    relukit/torch.nn swung 0.95-1.16 between two runs while torch.nn against itself stayed
    1.00-1.02)."""
    data = []
    for label, ours, theirs in configs:
        x, g = inputs(ours, n)
        for _ in range(20):  # warm-up
            step(ours, x, g)
            step(theirs, x, g)
        data.append(
            {
                "label": label,
                "ours": ours,
                "theirs": theirs,
                "x": x,
                "g": g,
                "a": [],
                "b": [],
                "bw": [],
            }
        )
    for r in range(ROUNDS):
        shift = r * len(data) // ROUNDS
        for d in data[shift:] + data[:shift]:
            d["bw"].append(copy_bandwidth(n))
            if r:  # the same values in new buffers
                d["x"], d["g"] = inputs(d["ours"], n)
            ours, theirs, x, g = d["ours"], d["theirs"], d["x"], d["g"]
            for i in range(REPS // ROUNDS):  # paired; who goes first alternates
                if i % 2:
                    d["b"].append(step(theirs, x, g))
                d["a"].append(step(ours, x, g))
                if not i % 2:
                    d["b"].append(step(theirs, x, g))
    rows = []
    for d in data:
        a, b = d["a"], d["b"]
        rows.append(
            {
                "activation": d["label"],
                "relukit_us": statistics.median(a) * 1e6,
                "torch_nn_us": statistics.median(b) * 1e6,
                "ratio": statistics.median(p / q for p, q in zip(a, b, strict=True)),
                "copy_GBps": statistics.median(d["bw"]),
            }
        )
    return rows


def runs(module: nn.Module, x: torch.Tensor) -> str:
    """Which path relukit's module took, read from its output's grad_fn (recorded, not typed)."""
    kind = type(module(x).grad_fn).__name__
    if kind == "CppFunction":
        return "native"
    if kind == "GenericBackward":
        return "generic (catalog math)"
    if "FewBit" in kind:
        return "few-bit backward (k-bit codes)"
    if kind.startswith("FromOutput"):
        return "output saved: ATen float64 value, catalog f' (Python)"
    return "ATen + relukit's rules"


def configurations():
    for a in relukit.catalog:
        cls = rt._modules.MODULES[a.name]
        yield f"{cls.__name__}()", cls(), cls.torch_class()()
    yield "LeakyReLU(-0.2)", rt.LeakyReLU(-0.2), nn.LeakyReLU(-0.2)
    yield "ELU(alpha=0.5)", rt.ELU(0.5), nn.ELU(0.5)
    yield "GELU('tanh')", rt.GELU("tanh"), nn.GELU("tanh")
    for a in relukit.catalog:  # save="output": the output alone saved, against torch.nn
        if a.offers_output_save:
            cls = rt._modules.MODULES[a.name]
            yield f"{cls.__name__}(save='output')", cls(save="output"), cls.torch_class()()
    try:
        from relukit.torch import _fewbit
    except ImportError:
        return
    for a in relukit.catalog:
        if a.few_bit:
            cls = rt._modules.MODULES[a.name]
            for k in _fewbit.BITS:
                yield (
                    f"{cls.__name__}(backward_bits={k})",
                    cls(backward_bits=k),
                    cls.torch_class()(),
                )


class _BareOp(nn.Module):
    """A module whose forward is one call of a native op: what relukit's module costs without
    any Python of its own."""

    def __init__(self, name: str, *args: float) -> None:
        super().__init__()
        from relukit.torch import _native

        _native.ops()  # loads the library (torch.ops.relukit)
        self.op, self.args = getattr(torch.ops.relukit, name).default, args

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x, *self.args)


def control_configurations():
    """Rows that say what the module rows are made of, measured in the same rounds: the native
    op from a bare module (relukit's module less its Python), and torch.nn against itself (the
    floor of this alternation: what two identical modules measure)."""
    from relukit.torch import _native

    if _native.ops() is not None:
        yield "relukit::relu, bare module", _BareOp("relu"), nn.ReLU()
        yield "relukit::leaky_relu, bare module", _BareOp("leaky_relu", 0.01), nn.LeakyReLU()
    yield "torch.nn ReLU against itself", nn.ReLU(), nn.ReLU()
    yield "torch.nn LeakyReLU against itself", nn.LeakyReLU(), nn.LeakyReLU()


def kernel_pairs():
    """(label, relukit's native kernel, the ATen kernel torch.nn runs) on x and a gradient g."""
    from relukit.torch import _native

    ops, aten = _native.ops(), torch.ops.aten
    if ops is None:
        return
    yield "relu fwd", lambda x, g: ops.relu(x), lambda x, g: aten.relu(x)
    yield (
        "relu bwd",
        lambda x, g: ops.relu_backward(g, x),
        lambda x, g: aten.threshold_backward(g, x, 0),
    )
    yield (
        "leaky_relu fwd",
        lambda x, g: ops.leaky_relu(x, 0.01),
        lambda x, g: aten.leaky_relu(x, 0.01),
    )
    yield (
        "leaky_relu bwd",
        lambda x, g: ops.leaky_relu_backward(g, x, 0.01),
        lambda x, g: aten.leaky_relu_backward(g, x, 0.01, False),
    )
    for form in ("none", "tanh"):
        tanh = form == "tanh"
        yield (
            f"gelu {form} fwd",
            lambda x, g, tanh=tanh: ops.gelu(x, tanh),
            lambda x, g, form=form: aten.gelu(x, approximate=form),
        )
        yield (
            f"gelu {form} bwd",
            lambda x, g, tanh=tanh: ops.gelu_backward(g, x, tanh),
            lambda x, g, form=form: aten.gelu_backward(g, x, approximate=form),
        )


def kernel_rows(n: int) -> list[dict]:
    """Native kernel time over ATen's, 1e6 float32, paired medians, copy_ bandwidth beside."""
    torch.manual_seed(0)
    x, g = torch.randn(n), torch.randn(n)
    rows = []
    for label, ours, theirs in kernel_pairs():
        bw = copy_bandwidth(n)
        a, b = [], []
        for i in range(REPS + 20):
            for f, times in ((ours, a), (theirs, b)):
                t = time.perf_counter()
                f(x, g)
                if i >= 20:  # warm-up
                    times.append(time.perf_counter() - t)
        ratio = statistics.median(p / q for p, q in zip(a, b, strict=True))
        us = [statistics.median(t) * 1e6 for t in (a, b)]
        rows.append(
            {
                "kernel": label,
                "relukit_us": us[0],
                "aten_us": us[1],
                "ratio": ratio,
                "copy_GBps": bw,
            }
        )
        print(f"{label:24s} native {us[0]:7.1f} us  ATen {us[1]:7.1f} us  copy_ {bw:6.1f} GB/s")
    return rows


def model_step(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> float:
    t = time.perf_counter()
    nn.functional.cross_entropy(model(x), target).backward()
    elapsed = time.perf_counter() - t
    model.zero_grad(set_to_none=True)
    return elapsed


def model_rows() -> list[dict]:
    """Training-step time of the memory benchmark's MLP, relukit / torch.nn, per activation."""
    from bench_torch_memory import BATCH, WIDTH, mlp
    from bench_torch_memory import configurations as model_configurations

    torch.manual_seed(0)
    x, target = torch.randn(BATCH, WIDTH), torch.randint(0, 10, (BATCH,))
    rows = []
    for label, theirs, ours in model_configurations():
        a, b = mlp(ours), mlp(theirs)
        b.load_state_dict(a.state_dict())
        times: tuple[list[float], list[float]] = ([], [])
        for i in range(MODEL_REPS + 3):
            ta, tb = model_step(a, x, target), model_step(b, x, target)
            if i >= 3:  # warm-up
                times[0].append(ta)
                times[1].append(tb)
        ms = [statistics.median(t) * 1e3 for t in times]
        ratio = statistics.median(x / y for x, y in zip(*times, strict=True))
        rows.append(
            {"activation": label, "relukit_ms": ms[0], "torch_nn_ms": ms[1], "ratio": ratio}
        )
        print(f"{label:24s} step relukit {ms[0]:7.2f} ms  torch.nn {ms[1]:7.2f} ms", flush=True)
    return rows


def main(n: int = 10**6) -> dict:
    configs = list(configurations())
    measured = compare_all(configs + list(control_configurations()), n)
    rows, controls = measured[: len(configs)], measured[len(configs) :]
    for r, (_, ours, _) in zip(rows, configs, strict=True):
        r["runs"] = runs(ours, torch.randn(4, 1000, requires_grad=True))
    for r in measured:
        print(
            f"{r['activation']:24s} relukit {r['relukit_us']:9.1f} us  torch.nn "
            f"{r['torch_nn_us']:9.1f} us  ratio {r['ratio']:.3f}  copy_ {r['copy_GBps']:6.1f} GB/s",
            flush=True,
        )
    kernels = kernel_rows(n)
    steps = model_rows()
    result = {
        "n": n,
        "dtype": "float32",
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "reps": REPS,
        "rows": rows,
        "control_rows": controls,
        "kernel_rows": kernels,
        "model_step_rows": steps,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "torch_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Forward+backward, {n:.0e} float32 elements, CPU ({result['threads']} threads), "
        f"medians of {REPS}",
        "",
        "Few-bit rows compare with torch.nn's exact GELU.",
        "",
        "| module | relukit µs | torch.nn µs | relukit / torch.nn (paired) | copy_ GB/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['activation']} | {r['relukit_us']:.1f} | {r['torch_nn_us']:.1f} | "
            f"{r['ratio']:.3f} | {r['copy_GBps']:.1f} |"
        )
    lines += [
        "",
        f"# Controls, measured in the same rounds as the modules, medians of {REPS}",
        "",
        "| control | µs | torch.nn µs | ratio (paired) | copy_ GB/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in controls:
        lines.append(
            f"| {r['activation']} | {r['relukit_us']:.1f} | {r['torch_nn_us']:.1f} | "
            f"{r['ratio']:.3f} | {r['copy_GBps']:.1f} |"
        )
    lines += [
        "",
        f"# Native kernels alone against ATen's, {n:.0e} float32 elements, medians of {REPS}",
        "",
        "| kernel | native µs | ATen µs | native / ATen (paired) | copy_ GB/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in kernels:
        lines.append(
            f"| {r['kernel']} | {r['relukit_us']:.1f} | {r['aten_us']:.1f} | {r['ratio']:.3f} | "
            f"{r['copy_GBps']:.1f} |"
        )
    lines += [
        "",
        f"# One training step of the memory benchmark's MLP (batch of its size), medians of "
        f"{MODEL_REPS}",
        "",
        "| activation | relukit ms | torch.nn ms | relukit / torch.nn (paired) |",
        "|---|---:|---:|---:|",
    ]
    for r in steps:
        lines.append(
            f"| {r['activation']} | {r['relukit_ms']:.2f} | {r['torch_nn_ms']:.2f} | "
            f"{r['ratio']:.3f} |"
        )
    (RESULTS / "torch_speed.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main(int(float(sys.argv[1])) if len(sys.argv) > 1 else 10**6)
