"""The generic path: any catalog entry on torch tensors, from the catalog's math alone.

``forward`` and ``derivative`` (and ``weight_derivative``) of the entry run on the torch
namespace, in the dtype the catalog's ``compute_bits`` names (float64 for the smooth ones, then
rounded once), inside one ``autograd.Function`` that saves the input (and the weights) and
applies the kink rule and the NaN rule because the catalog's derivative does. It has forward
mode (``jvp``), a vmap rule and, since its backward is written with differentiable torch ops,
double backward. A new catalog entry is correct here before anyone writes a fast path; the fast
paths of ``_fast`` are tested against it.
"""

from __future__ import annotations

import torch
from torch.autograd import Function

from .._catalog import Activation
from . import _autograd as _ag
from ._namespace import EXACT, WIDE

_FLOAT = {32: torch.float32, 64: torch.float64}


def compute_dtype(activation: Activation, dtype: torch.dtype) -> torch.dtype:
    """The dtype the generic path computes in for a floating input of ``dtype``."""
    bits = torch.finfo(dtype).bits
    return _FLOAT[activation.compute_bits(bits)]


def _namespace(dtype: torch.dtype):
    return EXACT if dtype == torch.float64 else WIDE


def _cast(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return x if x.dtype == dtype else x.to(dtype)


def value(activation: Activation, x: torch.Tensor, params: dict, weights: dict) -> torch.Tensor:
    """f(x) in x's dtype, computed in the compute dtype (integer ReLU stays integer)."""
    if not x.is_floating_point():  # only entries that keep integers get here
        return activation.forward(WIDE, x, **params)
    cdtype = compute_dtype(activation, x.dtype)
    w = {k: _cast(v, cdtype) for k, v in weights.items()}
    y = activation.forward(_namespace(x.dtype), _cast(x, cdtype), **params, **w)
    return _cast(y, x.dtype)


def derivative(
    activation: Activation, x: torch.Tensor, params: dict, weights: dict
) -> torch.Tensor:
    """f'(x) in the compute dtype (the kink rule and NaN rule are the catalog's)."""
    cdtype = compute_dtype(activation, x.dtype)
    w = {k: _cast(v, cdtype) for k, v in weights.items()}
    return activation.derivative(_namespace(x.dtype), _cast(x, cdtype), **params, **w)


def _input_grad(activation, g, x, params, weights):
    d = derivative(activation, x, params, weights)
    return _cast(_cast(g, d.dtype) * d, g.dtype)


def _output_grad(activation, g, y, params):
    """grad·f'(x) from the output y, with the catalog's ``output_derivative``."""
    cdtype = compute_dtype(activation, y.dtype)
    d = activation.output_derivative(_namespace(y.dtype), _cast(y, cdtype), **params)
    return _cast(_cast(g, d.dtype) * d, g.dtype)


def saves_output(activation: Activation, dtype: torch.dtype, weighted: bool) -> bool:
    """Whether the generic path saves the output for backward: the catalog says its derivative
    is recoverable from an output of this dtype within the contract (``output_dtypes``)."""
    return not weighted and activation.saves_output(str(dtype).removeprefix("torch."))


def _weight_grads(activation, g, x, weights):
    if not weights:
        return ()
    cdtype = compute_dtype(activation, x.dtype)
    dw = activation.weight_derivative(_namespace(x.dtype), _cast(x, cdtype))
    gw = _cast(g, cdtype) * dw
    # ∂f/∂a summed to the weight's shape; a zero upstream gives 0, never 0·(−inf) = NaN.
    gw = torch.where(_cast(g, cdtype) == 0, torch.zeros_like(gw), gw)
    return tuple(_cast(gw.sum_to_size(w.shape), w.dtype) for w in weights.values())


@_ag.with_forward_mode
class Generic(Function):
    """f(x) for a catalog entry; saves the input and the weights (as torch.nn does), or only the
    output where the catalog's ``output_derivative`` meets the contract for the dtype (ReLU6;
    float64 Softplus): then ``Linear → act → Linear`` keeps one hidden tensor, not two."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, activation, params, names, *weights):
        return value(activation, x, params, dict(zip(names, weights, strict=True)))

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.activation, ctx.params, ctx.names, *weights = inputs
        ctx.from_output = saves_output(ctx.activation, x.dtype, bool(weights))
        ctx.save_for_backward(output if ctx.from_output else x, *weights)
        ctx.save_for_forward(x, *weights)

    @staticmethod
    def backward(ctx, g):
        x, *weights = ctx.saved_tensors
        if ctx.from_output:  # x is the output here
            gx = _output_grad(ctx.activation, g, x, ctx.params) if ctx.needs_input_grad[0] else None
            return (gx, None, None, None)
        w = dict(zip(ctx.names, weights, strict=True))
        gx = _input_grad(ctx.activation, g, x, ctx.params, w) if ctx.needs_input_grad[0] else None
        gws = _weight_grads(ctx.activation, g, x, w) if any(ctx.needs_input_grad[4:]) else ()
        gws = gws or (None,) * len(weights)
        return (gx, None, None, None, *gws)

    @staticmethod
    def tangent(ctx, xt, _a, _p, _n, *wts):
        x, *weights = ctx.saved_tensors
        w = dict(zip(ctx.names, weights, strict=True))
        out = None
        if xt is not None:
            out = _input_grad(ctx.activation, xt, x, ctx.params, w)
        for wt in wts:
            if wt is None:
                continue
            cdtype = compute_dtype(ctx.activation, x.dtype)
            dw = ctx.activation.weight_derivative(_namespace(x.dtype), _cast(x, cdtype))
            # A zero tangent (torch.func's stand-in for "none") adds 0, not −inf·0 = NaN.
            wtc = _cast(wt, cdtype)
            tw = _cast(torch.where(wtc == 0, torch.zeros_like(dw), dw * wtc), x.dtype)
            out = tw if out is None else out + tw
        return out


def apply(activation: Activation, x: torch.Tensor, params: dict, weights: dict) -> torch.Tensor:
    """f(x) with relukit's gradient from the catalog; weights are tensors shaped to broadcast."""
    if not x.is_floating_point():
        return value(activation, x, params, {})
    return _ag.apply(Generic, x, activation, params, tuple(weights), *weights.values())


@_ag.with_forward_mode
class FromOutput(Function):
    """f(x) by a fast path's ``value``, saving only the output; f' from it by the catalog's
    ``output_derivative`` in the compute dtype, rounded once (``save="output"``). The backward
    is written with differentiable ops on the saved output, whose own gradient is this
    Function's: so double backward gives g·(f')'(y)·f'."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, activation, params, value):
        return value(x, params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.activation, ctx.params, _ = inputs
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return _output_grad(ctx.activation, g, y, ctx.params), None, None, None

    @staticmethod
    def tangent(ctx, xt, _a, _p, _v):
        (y,) = ctx.saved_tensors
        return _output_grad(ctx.activation, xt, y, ctx.params)


class FromOutputInplace(Function):
    """``FromOutput`` in place: the result overwrites x, which is then the one tensor saved (as
    torch.nn's in-place ELU). Under forward AD and ``torch.func`` the adapter runs the
    out-of-place form on a clone instead."""

    @staticmethod
    def forward(ctx, x, activation, params, value):
        x.copy_(value(x, params))
        ctx.mark_dirty(x)
        ctx.activation, ctx.params = activation, params
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return _output_grad(ctx.activation, g, y, ctx.params), None, None, None


def apply_from_output(
    activation: Activation, x: torch.Tensor, params: dict, inplace: bool, value
) -> torch.Tensor:
    """f(x) (by ``value(x, params)``, computed without a graph) saving only the output."""
    return _ag.apply(FromOutputInplace if inplace else FromOutput, x, activation, params, value)


def trace_value(
    activation: Activation, x: torch.Tensor, params: dict, weights: dict, inplace: bool
) -> torch.Tensor:
    """f(x) as plain torch ops (for ``torch.jit.trace``): no autograd.Function, no custom op."""
    y = value(activation, x, params, weights)
    return x.copy_(y) if inplace else y


def apply_inplace(activation: Activation, x: torch.Tensor, params: dict) -> torch.Tensor:
    """The in-place form: under autograd the input is cloned first (as torch's ``silu_``)."""
    if torch.is_grad_enabled() and x.requires_grad:
        y = apply(activation, x.clone(), params, {})
    else:
        y = value(activation, x, params, {})
    return x.copy_(y)
