"""The experiments of ``relukit compare``: training runs, timings and gradients, as records.

Nothing here draws or prints (DESIGN.md §2): each function returns a record of
:mod:`relukit.lab._records`. The activations come from the catalog (through
:class:`~relukit.lab._spec.ActivationSpec`), the modules from ``relukit.torch``, the dead units
from ``relukit.diagnostics`` and the deep network's initialisation from ``relukit.init``.

Runs are independent tasks: ``compare`` spreads them over worker processes with one torch
thread each (full-batch or large-batch training of small networks keeps each task short), and
every task seeds its own generators, so the same seed gives the same numbers on the same
machine whatever the number of workers.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import multiprocessing
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

import relukit

from ._records import CompareResult, GradientRecord, RunRecord, SpeedRecord
from ._spec import ActivationSpec, LabError, parse_activations


@dataclass(frozen=True)
class Task:
    """A dataset with the network trained on it.

    Attributes:
        name: how ``--datasets`` names it; ``description``: one line for the report.
        widths: the hidden layers' widths; ``epochs`` (``quick_epochs`` with ``--quick``);
        lr: Adam's learning rate; ``batch``: ``None`` for full-batch training.
        threshold: the training loss whose first epoch at or below it is reported.
    """

    name: str
    description: str
    widths: tuple[int, ...]
    epochs: int
    quick_epochs: int
    lr: float
    batch: int | None
    threshold: float


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "digits",
            "scikit-learn's 8×8 digits (1,257 train / 540 test), MLP 64→64→64→10, full batch",
            (64, 64),
            60,
            6,
            1e-2,
            None,
            0.05,
        ),
        Task(
            "spirals",
            "two interleaved spirals (600 train / 400 test points, noise 0.15), MLP 2→3×64→2, "
            "full batch",
            (64, 64, 64),
            200,
            10,
            1e-2,
            None,
            0.1,
        ),
        Task(
            "digits-deep",
            "digits, deep narrow MLP 64→10×24→10, batches of 64 (the dying-ReLU setup of "
            "benchmarks/dying_digits.py)",
            (24,) * 10,
            12,
            1,
            1e-2,
            64,
            0.1,
        ),
    )
}
DEEP_DEPTH, DEEP_WIDTH, DEEP_BATCH = 20, 64, 256
HIST_BINS = (-2.0, 4.0, 60)
SPEED_ELEMENTS = 1 << 16


# --- data --------------------------------------------------------------------------------------


def digits_split() -> tuple[np.ndarray, ...]:
    """scikit-learn's digits (inside the package: nothing is downloaded), shuffled with seed 0,
    split 70/30 and standardised with the training part's statistics: ``(x_train, y_train,
    x_test, y_test)``. ``benchmarks/dying_digits.py`` uses the same split."""
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.7 * len(x))
    mean, std = x[:cut].mean(0), x[:cut].std(0) + 1e-6
    x = (x - mean) / std
    return x[:cut], y[:cut], x[cut:], y[cut:]


def spirals(n: int, seed: int, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of two interleaved spirals (1.5 turns each) and their labels 0/1.

    Example:
        >>> x, y = spirals(6, seed=0)
        >>> x.shape, y.tolist()
        ((6, 2), [0, 1, 0, 1, 0, 1])
    """
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.05, 1.0, n)) * 3 * math.pi
    y = np.arange(n) % 2
    angle = t + math.pi * y
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], 1) / (3 * math.pi)
    return x * 2 + rng.normal(0, noise, (n, 2)), y


_DATA: dict[str, tuple[Any, ...]] = {}


def data(task: str, device: str = "cpu") -> tuple[Any, ...]:
    """``(x_train, y_train, x_test, y_test)`` of a task as torch tensors (cached per process)."""
    import torch

    key = f"{task}@{device}"
    if key not in _DATA:
        if task.startswith("digits"):
            arrays = digits_split()
        else:
            arrays = (*spirals(600, seed=1), *spirals(400, seed=2))
        dtypes = (torch.float32, torch.long) * 2
        _DATA[key] = tuple(
            torch.tensor(a, dtype=d, device=device) for a, d in zip(arrays, dtypes, strict=True)
        )
    return _DATA[key]


# --- models ------------------------------------------------------------------------------------


def make_activation(spec: ActivationSpec) -> Any:
    """A ``relukit.torch`` module for ``spec`` (PReLU: one slope, initial value ``weight``)."""
    import relukit.torch as rt

    cls = getattr(rt, spec.activation.class_name)
    kwargs = dict(spec.params)
    if any(p.kind == "weight" for p in spec.activation.params):
        weight = spec.full_params().get("weight")
        kwargs = {k: v for k, v in kwargs.items() if k != "weight"}
        if weight is not None:
            kwargs["init"] = weight
    return cls(**kwargs)


def _torch_activation(spec: ActivationSpec) -> Any:
    import relukit.torch as rt

    return make_activation(spec).to_torch() if spec.params else _default_torch(rt, spec)


def _default_torch(rt: Any, spec: ActivationSpec) -> Any:
    cls = getattr(rt, spec.activation.class_name).torch_class()
    return cls()


def mlp(spec: ActivationSpec, n_in: int, widths: tuple[int, ...], n_out: int, *, native=False):
    """``Linear → activation`` per hidden width, then a Linear to ``n_out`` (a Sequential)."""
    from torch import nn

    layers: list[nn.Module] = []
    width = n_in
    for w in widths:
        act = _torch_activation(spec) if native else make_activation(spec)
        layers += [nn.Linear(width, w), act]
        width = w
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def _hidden(model: Any, x: Any) -> list[Any]:
    """The output of each activation of ``model`` on ``x`` (no gradient)."""
    import torch

    outs = []
    with torch.no_grad():
        h = x
        for i, layer in enumerate(model):
            h = layer(h)
            if i % 2 == 1 and i < len(model) - 1:
                outs.append(h)
    return outs


# --- one training run --------------------------------------------------------------------------


def _dead(report: Any) -> float:
    return float(report.overall()["dead_fraction"])


def train(
    activation: str | ActivationSpec,
    task: str,
    seed: int,
    *,
    epochs: int | None = None,
    quick: bool = False,
    device: str = "cpu",
) -> RunRecord:
    """Train ``task``'s network with ``activation`` from ``seed`` and measure it: a RunRecord.

    Example:
        >>> r = train("relu", "spirals", seed=0, epochs=2)
        >>> r.name, r.task, len(r.loss), 0 <= r.dead_end <= 1
        ('relu', 'spirals', 2, True)
    """
    import torch
    from torch import nn

    from relukit.diagnostics import UnitMonitor

    start = time.perf_counter()
    spec = (
        activation if isinstance(activation, ActivationSpec) else ActivationSpec.parse(activation)
    )
    t = TASKS[task]
    n_epochs = epochs or (t.quick_epochs if quick else t.epochs)
    xtr, ytr, xte, yte = data(task, device)
    torch.manual_seed(seed)
    model = mlp(spec, xtr.shape[1], t.widths, int(ytr.max()) + 1).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr)
    batches = torch.Generator().manual_seed(seed)
    with UnitMonitor(model) as monitor, torch.no_grad():
        model(xtr)
    dead_init = _dead(monitor.report())
    every = max(1, n_epochs // 10)
    dead_curve = [[0.0, dead_init]]
    losses, test_acc = [], []

    def accuracy(x: Any, y: Any) -> float:
        with torch.no_grad():
            return float((model(x).argmax(1) == y).float().mean())

    for epoch in range(1, n_epochs + 1):
        watch = epoch % every == 0 or epoch == n_epochs
        monitor_ctx = UnitMonitor(model) if watch else contextlib.nullcontext()
        with monitor_ctx as m:
            if t.batch is None:
                parts = [torch.arange(len(xtr), device=device)]
            else:
                order = torch.randperm(len(xtr), generator=batches).to(device)
                parts = list(order.split(t.batch))
            total = 0.0
            for idx in parts:
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
        losses.append(total / len(xtr))
        test_acc.append(accuracy(xte, yte))
        if watch and m is not None:
            dead_curve.append([float(epoch), _dead(m.report())])
    with UnitMonitor(model) as final, torch.no_grad():
        model(xtr)
    report = final.report()
    hidden = _hidden(model, xtr)
    lo, hi, bins = HIST_BINS
    counts = torch.histc(hidden[-1].float().cpu(), bins=bins, min=lo, max=hi)
    threshold = next((i + 1 for i, v in enumerate(losses) if v <= t.threshold), None)
    slopes = [
        float(p.detach().mean())
        for name, p in model.named_parameters()
        if not isinstance(model[int(name.split(".")[0])], nn.Linear)
    ]
    zeros = sum(int((h == 0).sum()) for h in hidden) / sum(h.numel() for h in hidden)
    return RunRecord(
        activation=spec.label,
        name=spec.name,
        task=task,
        seed=seed,
        loss=losses,
        test_accuracy_curve=test_acc,
        train_accuracy=accuracy(xtr, ytr),
        test_accuracy=test_acc[-1],
        final_loss=losses[-1],
        epochs_to_threshold=threshold,
        dead_init=dead_init,
        dead_end=_dead(report),
        dead_curve=dead_curve,
        dead_per_layer=[s.dead_fraction for s in report.summary()],
        zeros=zeros,
        mean_activation=[float(h.mean()) for h in hidden],
        histogram=[int(c) for c in counts],
        slopes=slopes,
        seconds=time.perf_counter() - start,
    )


# --- timings and memory ------------------------------------------------------------------------


def _saved_bytes(model: Any, x: Any) -> int:
    """Bytes of unique storages saved for backward by one forward pass, parameters excluded."""
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: Any) -> Any:
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values())


def _paired(a: Callable[[], None], b: Callable[[], None], reps: int, device: str) -> float:
    """Median over ``reps`` interleaved repetitions of time(a) / time(b)."""
    import torch

    def clock(fn: Callable[[], None]) -> float:
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            fn()
        if device != "cpu":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    a()  # warm-up
    b()
    ratios = []
    for i in range(reps):
        if i % 2:
            tb, ta = clock(b), clock(a)
        else:
            ta, tb = clock(a), clock(b)
        ratios.append(ta / tb)
    return statistics.median(ratios)


def speed(
    activation: str | ActivationSpec, seed: int, *, quick: bool = False, device: str = "cpu"
) -> SpeedRecord:
    """Time and memory of ``activation`` relative to ReLU, paired in this process.

    Example:
        >>> r = speed("elu", seed=0, quick=True)
        >>> r.name, r.alone > 0, r.saved_bytes > 0
        ('elu', True, True)
    """
    import torch
    from torch import nn

    spec = (
        activation if isinstance(activation, ActivationSpec) else ActivationSpec.parse(activation)
    )
    relu = ActivationSpec(relukit.catalog[0].name)
    reps = 3 if quick else 21
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(SPEED_ELEMENTS, generator=gen).to(device).requires_grad_()
    grad = torch.ones_like(x)

    def alone(module: Any) -> Callable[[], None]:
        module = module.to(device)

        def run() -> None:
            torch.autograd.backward(module(x), grad)

        return run

    alone_ratio = _paired(
        alone(_torch_activation(spec)), alone(_torch_activation(relu)), reps, device
    )
    alone_relukit = _paired(
        alone(make_activation(spec)), alone(make_activation(relu)), reps, device
    )
    xtr, ytr, _, _ = data("digits", device)

    def step(s: ActivationSpec, native: bool = False) -> tuple[Any, Callable[[], None]]:
        torch.manual_seed(seed)
        model = mlp(s, xtr.shape[1], TASKS["digits"].widths, 10, native=native).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def run() -> None:
            opt.zero_grad()
            nn.functional.cross_entropy(model(xtr), ytr).backward()
            opt.step()

        return model, run

    model, run = step(spec)
    relu_model, relu_run = step(relu)
    step_ratio = _paired(run, relu_run, reps, device)
    native, _ = step(spec, native=True)
    relu_native, _ = step(relu, native=True)
    return SpeedRecord(
        activation=spec.label,
        name=spec.name,
        seed=seed,
        alone=alone_ratio,
        alone_relukit=alone_relukit,
        step=step_ratio,
        saved_bytes=_saved_bytes(model, xtr) / _saved_bytes(relu_model, xtr),
        saved_bytes_torch=_saved_bytes(native, xtr) / _saved_bytes(relu_native, xtr),
    )


def gradients(activation: str | ActivationSpec, seed: int, device: str = "cpu") -> list:
    """Weight-gradient norms per layer at initialisation of a 20-layer MLP, two inits.

    Example:
        >>> torch_init, relukit_init = gradients("tanh", seed=0)
        >>> torch_init.init, len(torch_init.norms), relukit_init.init
        ('torch', 21, 'relukit')
    """
    import torch
    from torch import nn

    import relukit.init

    spec = (
        activation if isinstance(activation, ActivationSpec) else ActivationSpec.parse(activation)
    )
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(DEEP_BATCH, DEEP_WIDTH, generator=gen).to(device)
    y = torch.randint(0, 10, (DEEP_BATCH,), generator=gen).to(device)
    out = []
    for init in ("torch", "relukit"):
        torch.manual_seed(seed)
        model = mlp(spec, DEEP_WIDTH, (DEEP_WIDTH,) * DEEP_DEPTH, 10).to(device)
        if init == "relukit":
            relukit.init.init_model_(model, generator=torch.Generator().manual_seed(seed))
        nn.functional.cross_entropy(model(x), y).backward()
        norms = [
            float(m.weight.grad.norm())
            for m in model
            if isinstance(m, nn.Linear) and m.weight.grad is not None
        ]
        ratio = norms[0] / norms[-1] if norms[-1] > 0 else math.inf
        out.append(GradientRecord(spec.label, spec.name, seed, init, norms, ratio))
    return out


# --- the whole comparison ----------------------------------------------------------------------


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _do(kind: str, label: str, arg: Any, seed: int, quick: bool, epochs: int | None, device: str):
    if kind == "train":
        return train(label, arg, seed, epochs=epochs, quick=quick, device=device)
    if kind == "speed":
        return speed(label, seed, quick=quick, device=device)
    return gradients(label, seed, device=device)


def environment() -> dict[str, Any]:
    """Versions, machine and date of this run (versions read without importing the packages)."""
    from importlib import metadata

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "relukit": getattr(relukit, "__version__", "unknown"),
        "python": sys.version.split()[0],
        **{name: version(name) for name in ("numpy", "scipy", "torch", "scikit-learn")},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def default_workers() -> int:
    """The CPUs this process may use (``os.sched_getaffinity``), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def compare(
    activations: list[str] | tuple[str, ...] | None = None,
    *,
    datasets: list[str] | tuple[str, ...] | None = None,
    seeds: int = 3,
    epochs: int | None = None,
    quick: bool = False,
    workers: int | None = None,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> CompareResult:
    """Train, time and probe every activation; return the records with the claims' verdicts.

    Args:
        activations: activation specs (``"leaky_relu:negative_slope=0.2"``); ``None``: every
            catalog entry. ReLU is added first when missing (it is the reference).
        datasets: task names (keys of ``TASKS``); ``None``: all.
        seeds: the number of seeds (0, 1, ...). Default: 3.
        epochs: epochs for every task; ``None``: each task's own (``quick_epochs`` if ``quick``).
        quick: the smoke-test sizes. workers: processes (1: in this process); ``None``: the
            usable CPUs. device: ``"cpu"`` or ``"cuda"`` (then in this process).
        progress: called with ``(done, total)`` after each task.

    Raises:
        LabError: an unknown activation, dataset or device, or a count below 1 (named).

    Example:
        >>> r = compare(["relu", "tanh"], datasets=["spirals"], seeds=1, epochs=1, workers=1)
        >>> sorted({run.name for run in r.runs}), r.partial
        (['relu', 'tanh'], False)
    """
    from ._claims import judge

    specs = list(parse_activations(activations))
    reference = relukit.catalog[0].name
    if not any(s.label == reference for s in specs):
        specs.insert(0, ActivationSpec(reference))
    names = list(datasets) if datasets else list(TASKS)
    for n in names:
        if n not in TASKS:
            raise LabError(f"unknown dataset {n!r}; valid: {', '.join(TASKS)}")
    for what, value in (("seeds", seeds), ("epochs", epochs), ("workers", workers)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise LabError(f"{what} must be a whole number >= 1, got {value!r}")
    if device not in ("cpu", "cuda"):
        raise LabError(f"device must be one of cpu, cuda; got {device!r}")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise LabError("device cuda: no CUDA device is available here; use --device cpu")
        workers = 1
    n_workers = workers or default_workers()
    settings = {
        "activations": [s.label for s in specs],
        "tasks": names,
        "task_descriptions": {n: TASKS[n].description for n in names},
        "thresholds": {n: TASKS[n].threshold for n in names},
        "seeds": seeds,
        "epochs": {
            n: epochs or (TASKS[n].quick_epochs if quick else TASKS[n].epochs) for n in names
        },
        "quick": quick,
        "workers": n_workers,
        "device": device,
        "histogram_bins": list(HIST_BINS),
        "deep_mlp": f"{DEEP_WIDTH}→{DEEP_DEPTH}×{DEEP_WIDTH}→10, batch {DEEP_BATCH}",
        "speed_elements": SPEED_ELEMENTS,
    }
    jobs: list[tuple[str, str, Any, int]] = []
    for task in sorted(names, key=lambda n: -TASKS[n].epochs * len(TASKS[n].widths)):
        jobs += [("train", s.label, task, seed) for seed in range(seeds) for s in specs]
    jobs += [("speed", s.label, None, seed) for seed in range(seeds) for s in specs]
    jobs += [("gradients", s.label, None, seed) for seed in range(seeds) for s in specs]
    result = CompareResult(settings=settings, environment=environment())
    start = time.perf_counter()
    calls = [
        (_do, (kind, label, arg, seed, quick, epochs, device)) for kind, label, arg, seed in jobs
    ]
    outputs, result.partial = run_jobs(calls, n_workers, progress)
    for i in sorted(outputs):
        out = outputs[i]
        if isinstance(out, RunRecord):
            result.runs.append(out)
        elif isinstance(out, SpeedRecord):
            result.speed.append(out)
        else:
            result.gradients.extend(out)
    result.timing = {"seconds": time.perf_counter() - start, "tasks": len(outputs)}
    result.verdicts = judge(result)
    return result


def run_jobs(
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]],
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[int, Any], bool]:
    """Run ``fn(*args)`` for each call: in this process (``workers == 1``) or in that many
    spawned processes with one torch thread each. Returns ``({index: output}, interrupted)``:
    Ctrl-C stops it, keeping the outputs that finished.
    """
    import torch

    outputs: dict[int, Any] = {}
    try:
        if workers == 1:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                for i, (fn, args) in enumerate(calls):
                    outputs[i] = fn(*args)
                    if progress:
                        progress(len(outputs), len(calls))
            finally:
                torch.set_num_threads(threads)
        else:
            _run_pool(calls, workers, outputs, progress)
    except KeyboardInterrupt:
        return outputs, True
    return outputs, False


def _run_pool(calls, workers, outputs, progress) -> None:
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)
    pending: dict[Future, int] = {}
    try:
        for i, (fn, args) in enumerate(calls):
            pending[pool.submit(fn, *args)] = i
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                outputs[pending.pop(fut)] = fut.result()
                if progress:
                    progress(len(outputs), len(calls))
    finally:
        pool.shutdown(wait=not pending, cancel_futures=True)
