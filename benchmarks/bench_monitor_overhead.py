"""Training-step time with relukit.diagnostics.UnitMonitor attached, over the step without
(issue #13 item 9).

CPU. Two models: an MLP (784-512-512-512-10, ReLU, batch 128) and a small CNN (three
Conv → BatchNorm → ReLU(inplace) blocks on 32×32×3 images, global pooling, Linear; batch 64).
Each is copied three times with the same weights: one bare, one under ``UnitMonitor(model)``,
one under ``UnitMonitor(model, gradients=True)``. A step is ``zero_grad``, forward,
cross-entropy, backward, SGD ``step``. The three copies take their steps in alternation, in a
rotating order, ``REPS`` times; each figure is the median of the paired ratios (a monitored
step over the bare step beside it), which drifts less than a ratio of medians on this shared
machine. Printed beside the figures: ``Tensor.copy_`` bandwidth of the same run, how idle the
CPUs were in the 3 s before it (Linux ``/proc/stat``) and the 1-minute load average before and
after it (the run itself adds about 2 on this 2-core machine; more means another job shared the
cores, and the ratios are then less trustworthy).

Run: ``python benchmarks/bench_monitor_overhead.py [reps]`` →
``benchmarks/results/monitor_overhead.{json,md}``.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from relukit.diagnostics import UnitMonitor

RESULTS = Path(__file__).parent / "results"
REPS = 300
WARMUP = 10


def copy_bandwidth(n: int = 10**6, reps: int = 100) -> float:
    """GB/s of ``dst.copy_(src)`` for n float32 (read + write bytes over the median time)."""
    src, dst = torch.randn(n), torch.empty(n)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - t)
    return 2 * 4 * n / statistics.median(times) / 1e9


def idle_fraction(seconds: float = 3.0) -> float | None:
    """Fraction of CPU time idle over ``seconds`` (``/proc/stat``), ``None`` off Linux."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields[:8]), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return (idle1 - idle0) / max(total1 - total0, 1)


def mlp() -> nn.Module:
    layers: list[nn.Module] = []
    width = 784
    for _ in range(3):
        layers += [nn.Linear(width, 512), nn.ReLU()]
        width = 512
    return nn.Sequential(*layers, nn.Linear(width, 10))


def cnn() -> nn.Module:
    def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(3, 32, 1),
        *block(32, 64, 2),
        *block(64, 64, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


MODELS = {
    "MLP 784-512x3-10, batch 128": (mlp, (128, 784)),
    "CNN 3 conv-bn-relu blocks, 32x32, batch 64": (cnn, (64, 3, 32, 32)),
}
ARMS = ("bare", "monitor", "monitor, gradients=True")


def timed_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor):
    t = time.perf_counter()
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    return time.perf_counter() - t


def measure(make, shape, reps: int) -> dict:
    torch.manual_seed(0)
    base = make()
    models = [copy.deepcopy(base) for _ in ARMS]
    opts = [torch.optim.SGD(m.parameters(), lr=1e-3) for m in models]
    x, y = torch.randn(shape), torch.randint(0, 10, (shape[0],))
    times: list[list[float]] = [[] for _ in ARMS]
    with UnitMonitor(models[1]) as m1, UnitMonitor(models[2], gradients=True) as m2:
        for i in range(WARMUP + reps):
            order = [(i + k) % len(ARMS) for k in range(len(ARMS))]  # rotate who goes first
            step = {a: timed_step(models[a], opts[a], x, y) for a in order}
            if i >= WARMUP:
                for a in range(len(ARMS)):
                    times[a].append(step[a])
    seen = m1.report().summary()[0].seen
    assert seen == (WARMUP + reps) * shape[0] * (1 if len(shape) == 2 else shape[2] * shape[3])
    assert m2.report().stats[m2.layers[0]].grad_n > 0
    bare = times[0]
    row = {"bare_ms": statistics.median(bare) * 1e3}
    for a, name in enumerate(ARMS[1:], start=1):
        row[f"{name} ms"] = statistics.median(times[a]) * 1e3
        row[f"{name} / bare"] = statistics.median(
            t / b for t, b in zip(times[a], bare, strict=True)
        )
    return row


def main(reps: int = REPS) -> dict:
    idle_before = idle_fraction()
    load_before = os.getloadavg()[0]
    rows = {name: measure(make, shape, reps) for name, (make, shape) in MODELS.items()}
    result = {
        "threads": torch.get_num_threads(),
        "reps": reps,
        "copy_GBps": copy_bandwidth(),
        "idle_before": idle_before,
        "load_avg_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "rows": rows,
    }
    idle = "n/a" if idle_before is None else f"{idle_before:.0%}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "monitor_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Training step with UnitMonitor attached, CPU ({result['threads']} threads), "
        f"paired medians of {reps}",
        "",
        f"`Tensor.copy_` bandwidth of the run: {result['copy_GBps']:.1f} GB/s. CPUs idle in the "
        f"3 s before: {idle}; 1-minute load average before/after: {load_before:.2f} / "
        f"{result['load_avg_1min']['after']:.2f} (the run itself adds up to ~2).",
        "",
        "| model | bare ms | monitor / bare | monitor, gradients=True / bare |",
        "|---|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['bare_ms']:.2f} | {r['monitor / bare']:.3f} | "
            f"{r['monitor, gradients=True / bare']:.3f} |"
        )
    (RESULTS / "monitor_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else REPS)
