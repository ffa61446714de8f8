"""``relukit dying``: the dying-ReLU experiment with the seed's remedies, as records.

Deep narrow MLPs (digits, 64 → 10 × 24 → 10, batches of 128, Adam at a learning rate high enough
to kill units) trained with each activation under each initialisation — PyTorch's default,
He with the activation's exact gain (``relukit.init.init_model_``), RAI (``relukit.init.rai_``)
and relukit's asymmetric init (``relukit.init.asymmetric_``) — plus He with recycling
(``relukit.diagnostics.recycle_`` after every ``RECYCLE_EVERY``-th epoch). Dead units per layer
are counted by ``relukit.diagnostics.UnitMonitor`` on every epoch's training passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import relukit

from ._experiments import data, default_workers, environment, mlp, run_jobs
from ._records import DyingRecord, DyingResult
from ._spec import ActivationSpec, LabError, parse_activations

DEPTH, WIDTH, BATCH, LR = 10, 24, 128, 2e-2
EPOCHS, QUICK_EPOCHS, RECYCLE_EVERY = 8, 1, 2
ARMS = ("torch", "he", "rai", "asymmetric", "he+recycle")


def _initialise(model: Any, arm: str, seed: int) -> None:
    import torch
    from torch import nn

    import relukit.init as ri

    gen = torch.Generator().manual_seed(seed)
    init = arm.split("+")[0]
    if init == "torch":
        return
    ri.init_model_(model, generator=gen)  # He with the activation's gain; output layer LeCun
    if init in ("rai", "asymmetric"):
        hidden = [m for m in model if isinstance(m, nn.Linear)][:-1]
        for layer in hidden:
            (ri.rai_ if init == "rai" else ri.asymmetric_)(layer, generator=gen)


def dying_run(
    activation: str | ActivationSpec, arm: str, seed: int, *, epochs: int = EPOCHS
) -> DyingRecord:
    """Train the deep narrow MLP with ``activation`` under ``arm``; its dead units per layer.

    Example:
        >>> r = dying_run("relu", "he+recycle", seed=0, epochs=2)
        >>> r.arm, r.epochs, len(r.dead[0])
        ('he+recycle', [0, 1, 2], 10)
    """
    import torch
    from torch import nn

    from relukit.diagnostics import UnitMonitor, recycle_

    if arm not in ARMS:
        raise LabError(f"arm must be one of {', '.join(ARMS)}; got {arm!r}")
    start = time.perf_counter()
    spec = (
        activation if isinstance(activation, ActivationSpec) else ActivationSpec.parse(activation)
    )
    xtr, ytr, xte, yte = data("digits")
    torch.manual_seed(seed)
    model = mlp(spec, xtr.shape[1], (WIDTH,) * DEPTH, 10)
    _initialise(model, arm, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    batches = torch.Generator().manual_seed(seed)

    def per_layer(monitor: Any) -> list[float]:
        return [s.dead_fraction for s in monitor.report().summary()]

    with UnitMonitor(model) as m0, torch.no_grad():
        model(xtr)
    dead = [per_layer(m0)]
    recycled = 0
    loss_sum = 0.0
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(xtr), generator=batches)
        loss_sum = 0.0
        with UnitMonitor(model) as monitor:
            for idx in order.split(BATCH):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
                loss.backward()
                optimizer.step()
                loss_sum += float(loss.detach()) * len(idx)
        dead.append(per_layer(monitor))
        if arm.endswith("+recycle") and epoch % RECYCLE_EVERY == 0 and epoch < epochs:
            plans = recycle_(model, monitor.report(), optimizer)
            recycled += sum(len(p.units) for p in plans)
    with torch.no_grad():
        accuracy = float((model(xte).argmax(1) == yte).float().mean())
    return DyingRecord(
        activation=spec.label,
        name=spec.name,
        seed=seed,
        arm=arm,
        epochs=list(range(epochs + 1)),
        dead=dead,
        dead_end=_dead_train(model, xtr),
        recycled=recycled,
        test_accuracy=accuracy,
        final_loss=loss_sum / len(xtr),
        seconds=time.perf_counter() - start,
    )


def _dead_train(model: Any, x: Any) -> float:
    import torch

    from relukit.diagnostics import UnitMonitor

    with UnitMonitor(model) as monitor, torch.no_grad():
        model(x)
    return float(monitor.report().overall()["dead_fraction"])


def dying(
    activations: list[str] | tuple[str, ...] | None = None,
    *,
    seeds: int = 3,
    epochs: int | None = None,
    quick: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DyingResult:
    """Run every activation × arm × seed (default activations: the catalog's rectifiers).

    Example:
        >>> r = dying(["relu"], seeds=1, epochs=1, workers=1)
        >>> sorted({run.arm for run in r.runs}) == sorted(ARMS)
        True
    """
    specs = (
        parse_activations(activations)
        if activations
        else tuple(ActivationSpec(a.name) for a in relukit.catalog if a.family == "rectifier")
    )
    for what, value in (("seeds", seeds), ("epochs", epochs), ("workers", workers)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise LabError(f"{what} must be a whole number >= 1, got {value!r}")
    n_epochs = epochs or (QUICK_EPOCHS if quick else EPOCHS)
    n_workers = workers or default_workers()
    settings = {
        "activations": [s.label for s in specs],
        "arms": list(ARMS),
        "seeds": seeds,
        "epochs": n_epochs,
        "quick": quick,
        "workers": n_workers,
        "model": f"digits, 64→{DEPTH}×{WIDTH}→10, batches of {BATCH}, Adam lr {LR}",
        "recycle_every": RECYCLE_EVERY,
    }
    calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (_job, (s.label, arm, seed, n_epochs))
        for seed in range(seeds)
        for s in specs
        for arm in ARMS
    ]
    start = time.perf_counter()
    outputs, partial = run_jobs(calls, n_workers, progress)
    result = DyingResult(settings, environment(), [outputs[i] for i in sorted(outputs)])
    result.partial = partial
    result.timing = {"seconds": time.perf_counter() - start, "tasks": len(outputs)}
    return result


def _job(label: str, arm: str, seed: int, epochs: int) -> DyingRecord:
    return dying_run(label, arm, seed, epochs=epochs)
