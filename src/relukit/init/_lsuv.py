"""LSUV: layer-sequential unit-variance initialisation (Mishkin & Matas 2016)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LSUVLayer:
    """One layer's LSUV outcome: ``iterations`` rescalings, the final output ``variance`` and
    whether it is within ``tol`` of 1 (``converged``)."""

    name: str
    iterations: int
    variance: float
    converged: bool


@dataclass
class LSUVReport:
    """Per Linear/Conv layer, in the order the forward pass reaches them."""

    layers: list[LSUVLayer] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(
            f"{x.name}: var {x.variance:.4f} after {x.iterations} rescalings"
            + ("" if x.converged else " (not converged)")
            for x in self.layers
        )


def lsuv_(
    model: Any,
    batch: Any,
    *,
    tol: float = 0.1,
    max_iter: int = 10,
    generator: Any = None,
) -> LSUVReport:
    """LSUV: orthonormal init, then rescale layer by layer until its output variance is 1.

    Mishkin & Matas (2016), "All you need is a good init": every Linear/Conv weight is set by
    ``torch.nn.init.orthogonal_`` and its bias to zero; then, in forward order, each layer's
    weight is divided by √var(output) (the layer's own output, before its activation, over the
    whole ``batch``) until ``|var − 1| < tol`` or ``max_iter`` rescalings. Data-driven, so it
    serves every activation, catalog or not. A layer whose output has zero variance (dead input)
    cannot be rescaled and is reported as not converged.

    Args:
        model: a ``torch.nn.Module``; it is run on ``batch`` under ``torch.no_grad()``.
        batch: a tensor (or a tuple of tensors, passed as positional arguments).
        tol: tolerance on the variance. Default: 0.1 (the paper's).
        max_iter: rescalings per layer at most. Default: 10 (the paper's).
        generator: a ``torch.Generator`` for the orthogonal init. Default: torch's global one.

    Returns:
        An :class:`LSUVReport`.

    Example:
        >>> import torch
        >>> from relukit.init import lsuv_
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(),
        ...                             torch.nn.Linear(64, 64), torch.nn.ReLU())
        >>> report = lsuv_(model, torch.randn(256, 20))
        >>> all(abs(x.variance - 1) < 0.1 for x in report.layers)
        True
    """
    import torch

    from ._pairing import _is_layer

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    args = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        raise TypeError("batch must be a tensor or a tuple of tensors")
    if any(a.numel() == 0 for a in args):
        raise ValueError("batch must not be empty")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"max_iter must be a nonnegative int, got {max_iter!r}")

    layers = {name: m for name, m in model.named_modules() if _is_layer(m)}
    if not layers:
        raise ValueError("model has no Linear or Conv layer to initialise")
    with torch.no_grad():
        for m in layers.values():
            torch.nn.init.orthogonal_(m.weight, generator=generator)
            if m.bias is not None:
                m.bias.zero_()

    order: list[str] = []
    captured: dict[str, Any] = {}

    def hook_for(name):
        def hook(_module, _inputs, output):
            if name not in order:
                order.append(name)
            captured[name] = output.detach()

        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in layers.items()]
    report = LSUVReport()
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(*args)
            for name in list(order):
                weight = layers[name].weight
                iterations = 0
                var = float(captured[name].double().var())
                while abs(var - 1.0) >= tol and iterations < max_iter and var > 0:
                    weight.div_(math.sqrt(var))
                    iterations += 1
                    model(*args)
                    var = float(captured[name].double().var())
                report.layers.append(LSUVLayer(name, iterations, var, abs(var - 1.0) < tol))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return report
