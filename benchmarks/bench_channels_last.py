"""One training step of a small channels_last CNN, relukit's modules against torch.nn's.

``Conv2d(16, 16, 3, padding=1) → ReLU → Conv2d → GELU → Conv2d`` on an (8, 16, 32, 32) float32
batch in ``torch.channels_last``, CPU. One step is ``zero grads, forward, loss, backward``. The
two models (same weights) alternate step by step so that both see the same machine state; the
ratio reported is the median of the paired ratios (each relukit step over the torch.nn step
beside it). ``Tensor.copy_`` bandwidth of the same run is printed and recorded beside it.

What it checks: relukit's native kernels keep channels_last (as ATen's do), so the convolutions
around them get their preferred layout and no copy is made on the way; before, each activation
returned a contiguous tensor and the next convolution converted it back. The step also asserts
that every activation's output and gradient are channels_last.

Beside the headline (relukit's modules), two variants split the difference: the native ops
called directly (no Python layer), and the native ReLU alone with torch.nn's GELU (ReLU is the
same math as ATen's, so that ratio is the layout's cost alone); then each activation alone,
forward+backward on the hidden tensor (exact GELU computes in float64, dearer than ATen's
float32 approximation whatever the layout).

Run: ``python benchmarks/bench_channels_last.py [reps]``
→ ``benchmarks/results/channels_last.json``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from bench_torch_speed import copy_bandwidth

import relukit.torch as rt

RESULTS = Path(__file__).parent / "results"
SHAPE = (8, 16, 32, 32)
REPS = 300
WARMUP = 20


def model(relu: nn.Module, gelu: nn.Module) -> nn.Sequential:
    torch.manual_seed(0)  # the same weights for both models
    convs = [nn.Conv2d(16, 16, 3, padding=1) for _ in range(3)]
    return nn.Sequential(convs[0], relu, convs[1], gelu, convs[2]).to(
        memory_format=torch.channels_last
    )


def step(net: nn.Sequential, x: torch.Tensor) -> None:
    for p in net.parameters():
        p.grad = None
    net(x).square().mean().backward()


def check_layout(net: nn.Sequential, x: torch.Tensor) -> None:
    """Every activation's output and input gradient is channels_last."""
    seen = []

    def forward_hook(module, args, out):
        seen.append(out.is_contiguous(memory_format=torch.channels_last))

    def backward_hook(module, grad_input, grad_output):
        seen.append(grad_input[0].is_contiguous(memory_format=torch.channels_last))

    handles = []
    for module in (net[1], net[3]):
        handles.append(module.register_forward_hook(forward_hook))
        handles.append(module.register_full_backward_hook(backward_hook))
    try:
        step(net, x)
    finally:
        for h in handles:
            h.remove()
    assert seen and all(seen), f"{type(net[1]).__module__}: not channels_last: {seen}"


def paired(ours, theirs, reps: int) -> tuple[float, float, float]:
    """Medians (ms) of two alternating timed callables and the median of their paired ratios."""
    for _ in range(WARMUP):
        ours()
        theirs()
    a, b = [], []
    for i in range(reps):  # alternate which goes first, so neither always runs on a warm cache
        for fn, times in ((ours, a), (theirs, b)) if i % 2 else ((theirs, b), (ours, a)):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    ratio = statistics.median(u / v for u, v in zip(a, b, strict=True))
    return statistics.median(a) * 1e3, statistics.median(b) * 1e3, ratio


def activation_rows(x: torch.Tensor, reps: int) -> list[dict]:
    """Each activation alone, forward+backward on the hidden tensor's shape and layout."""
    x = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
    g = torch.randn_like(x)
    rows = []
    for label, ours, theirs in (
        ("ReLU", rt.ReLU(), nn.ReLU()),
        ("GELU", rt.GELU(), nn.GELU()),
        ("GELU tanh", rt.GELU("tanh"), nn.GELU("tanh")),
    ):
        ms = paired(
            lambda m=ours: torch.autograd.grad(m(x), x, g),
            lambda m=theirs: torch.autograd.grad(m(x), x, g),
            reps,
        )
        rows.append(
            {"activation": label, "relukit_ms": ms[0], "torch_nn_ms": ms[1], "ratio": ms[2]}
        )
        print(
            f"  {label:10s} alone: relukit {ms[0] * 1e3:7.1f} us  torch.nn {ms[1] * 1e3:7.1f} us"
            f"  ratio {ms[2]:.3f}",
            flush=True,
        )
    return rows


class NativeOp(nn.Module):
    """A torch.ops.relukit op as a module: the kernels without relukit's Python layer."""

    def __init__(self, name: str, *args) -> None:
        super().__init__()
        self.op, self.args = getattr(torch.ops.relukit, name), args

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x, *self.args)


def variant_rows(x: torch.Tensor, theirs: nn.Sequential, reps: int) -> list[dict]:
    """The same step with the native ops called directly (no Python layer), and with only
    ReLU's (the same math as ATen's: what the layout alone costs)."""
    rows = []
    for label, relu, gelu in (
        ("torch.ops.relukit ReLU and GELU", NativeOp("relu"), NativeOp("gelu", False)),
        ("torch.ops.relukit ReLU, torch.nn GELU", NativeOp("relu"), nn.GELU()),
    ):
        net = model(relu, gelu)
        check_layout(net, x)
        ms = paired(lambda n=net: step(n, x), lambda: step(theirs, x), reps)
        rows.append({"variant": label, "relukit_ms": ms[0], "torch_nn_ms": ms[1], "ratio": ms[2]})
        print(f"  {label:38s} ratio {ms[2]:.3f}", flush=True)
    return rows


def main(reps: int = REPS) -> dict:
    x = torch.randn(SHAPE).contiguous(memory_format=torch.channels_last)
    ours = model(rt.ReLU(), rt.GELU())
    theirs = model(nn.ReLU(), nn.GELU())
    for net in (ours, theirs):
        check_layout(net, x)
    bw_before = copy_bandwidth(10**6)
    ours_ms, theirs_ms, ratio = paired(lambda: step(ours, x), lambda: step(theirs, x), reps)
    bw = (bw_before + copy_bandwidth(10**6)) / 2
    result = {
        "model": "Conv2d(16,16,3,p=1) > ReLU > Conv2d > GELU > Conv2d, training step",
        "input": list(SHAPE),
        "memory_format": "channels_last",
        "dtype": "float32",
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "reps": reps,
        "relukit_ms": ours_ms,
        "torch_nn_ms": theirs_ms,
        "ratio": ratio,
        "copy_GBps": bw,
    }
    print(
        f"channels_last step: relukit {ours_ms:.3f} ms  torch.nn {theirs_ms:.3f} ms  "
        f"ratio (paired median) {ratio:.3f}  copy_ {bw:.1f} GB/s",
        flush=True,
    )
    # Where the difference comes from: the Python layer, exact GELU, the layout.
    result["variant_rows"] = variant_rows(x, theirs, reps)
    # What the activations themselves cost, on the hidden tensor (relukit's exact GELU computes
    # in float64: dearer than ATen's float32 approximation, whatever the layout).
    result["activation_rows"] = activation_rows(torch.randn_like(x), reps)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "channels_last.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else REPS)
