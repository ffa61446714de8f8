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
    serves every activation, catalog or not. A layer whose output has zero or infinite variance
    (dead input, or an overflow in float16) cannot be rescaled and is reported as not converged.

    Any floating dtype works: the variances are computed in float64, and float16/bfloat16 weights
    get their orthogonal init computed in float32. Everything is checked before the model is
    changed, and if anything fails afterwards (the model's forward rejects ``batch``...) its
    Linear/Conv parameters are restored before the error propagates.

    Args:
        model: a ``torch.nn.Module``; it is run on ``batch`` under ``torch.no_grad()``.
        batch: a tensor (or a tuple of tensors, passed as positional arguments).
        tol: tolerance on the variance. Default: 0.1 (the paper's).
        max_iter: rescalings per layer at most. Default: 10 (the paper's).
        generator: a ``torch.Generator`` for the orthogonal init. Default: torch's global one.

    Returns:
        An :class:`LSUVReport`.

    Raises:
        TypeError: ``model``, ``batch`` or ``generator`` of the wrong type (named).
        ValueError: an empty or non-finite ``batch``, a ``batch`` that gives a layer fewer than
            2 output values, ``tol`` or ``max_iter`` out of range, a model without Linear/Conv
            layers, with a lazy or zero-size layer (named), or a ``generator`` on another device.

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

    from ._kaiming import check_generator
    from ._pairing import _is_layer

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    args = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        raise TypeError(
            f"batch must be a torch.Tensor or a tuple of tensors, got {type(batch).__name__}"
        )
    if any(a.numel() == 0 for a in args):
        raise ValueError("batch must not be empty")
    if any(a.is_floating_point() and not bool(torch.isfinite(a).all()) for a in args):
        raise ValueError("batch must be finite: it holds NaN or infinite values")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"max_iter must be a nonnegative int, got {max_iter!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        kind = type(generator).__name__
        raise TypeError(f"generator must be a torch.Generator or None, got {kind}")

    layers = {name: m for name, m in model.named_modules() if _is_layer(m)}
    if not layers:
        raise ValueError("model has no Linear or Conv layer to initialise")
    for name, m in layers.items():
        kind = f"layer {name!r} ({type(m).__name__})"
        if any(torch.nn.parameter.is_lazy(p) for p in (m.weight, m.bias) if p is not None):
            raise ValueError(
                f"model's {kind} has uninitialised (lazy) parameters; run a forward pass first"
            )
        if m.weight.numel() == 0:
            raise ValueError(f"model's {kind} has a zero-size weight {tuple(m.weight.shape)}")
        try:
            check_generator(generator, m.weight.device)
        except ValueError as err:
            raise ValueError(f"{err} ({kind})") from None

    # Everything below changes the model: keep its parameters to restore them on any failure
    # (a batch its forward rejects, a layer whose output has a single value...).
    saved = [
        (p, p.detach().clone())
        for m in layers.values()
        for p in (m.weight, m.bias)
        if p is not None
    ]
    order: list[str] = []
    captured: dict[str, Any] = {}

    def hook_for(name):
        def hook(_module, _inputs, output):
            if name not in order:
                order.append(name)
            captured[name] = output.detach()

        return hook

    def variance(name: str) -> float:
        # in float64 whatever the model's dtype (float16/bfloat16 outputs included)
        out = captured[name]
        if out.numel() < 2:
            raise ValueError(
                f"batch gives layer {name!r} {out.numel()} output value(s); LSUV needs at least "
                "2 to estimate a variance (pass a larger batch)"
            )
        return float(out.double().var())

    was_training = model.training
    handles = [m.register_forward_hook(hook_for(n)) for n, m in layers.items()]
    report = LSUVReport()
    try:
        model.eval()
        with torch.no_grad():
            for m in layers.values():
                _orthogonal_(m.weight, generator)
                if m.bias is not None:
                    m.bias.zero_()
            model(*args)
            for name in list(order):
                weight = layers[name].weight
                iterations = 0
                var = variance(name)
                while abs(var - 1.0) >= tol and iterations < max_iter and 0 < var < math.inf:
                    scaled = weight.double() / math.sqrt(var)
                    if not bool(torch.isfinite(scaled.to(weight.dtype)).all()):
                        break  # the rescaled weight would overflow its dtype: stop, not converged
                    weight.copy_(scaled)
                    iterations += 1
                    model(*args)
                    var = variance(name)
                report.layers.append(LSUVLayer(name, iterations, var, abs(var - 1.0) < tol))
    except BaseException:
        with torch.no_grad():
            for p, old in saved:
                p.copy_(old)
        raise
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return report


def _orthogonal_(weight: Any, generator: Any) -> None:
    """``torch.nn.init.orthogonal_``; for float16/bfloat16 weights (whose QR torch lacks on the
    CPU) computed in float32 and rounded once."""
    import torch

    if weight.dtype in (torch.float16, torch.bfloat16):
        tmp = torch.empty(weight.shape, dtype=torch.float32, device=weight.device)
        torch.nn.init.orthogonal_(tmp, generator=generator)
        weight.copy_(tmp)
    else:
        torch.nn.init.orthogonal_(weight, generator=generator)
