"""Fast paths for the entries of issue #15: ATen's float64 kernels, rounded once.

The generic path (``_generic``) runs the catalog's math: exact, but a dozen float64 passes per
call (10–25× torch.nn at 1e6 float32, measured). For float32, float16 and bfloat16 results the
catalog computes in float64 and rounds once; ATen's float64 kernels are accurate to ~1e-16
relative on the whole line once their arguments are clamped where the function has reached its
limit, so ``kernel(x.double()).to(dtype)`` gives the same rounded results as the catalog (bit for
bit on 40,000 float32 points per entry, values and derivatives, measured) in three passes.
Where ATen's kernel breaks the contract, the patch is stated beside it: ±inf (silu(−inf) =
NaN, hardswish(−inf) = NaN), NaN in backward (elu_backward and hardswish_backward return a
finite gradient for a NaN input), Softplus' threshold (relukit's is exact: 40 in βx units, where
log1p(e^{−βx})/β is below float64's rounding of x), and derivatives whose ATen formula cancels
(sigmoid' = y(1 − y), tanh' = 1 − y²: computed as σ(x)σ(−x) and 1/cosh²(x) instead).

float64 input runs the generic path (double-double arguments: within 4 ulp; ATen's float64
kernels are not). ReLU6 is exact in its own dtype: ATen's clamp, and its backward from the saved
output (f' = 1 exactly where 0 < y < 6). ``tests/test_torch.py`` checks every fast path against
the generic path; forward mode, vmap and double backward come from the same formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.autograd import Function

from .._catalog import get
from .._catalog._selu import ALPHA_DIGITS, LAMBDA, LAMBDA_ALPHA
from . import _autograd as _ag
from . import _generic
from ._fast import _tracked, register

F = torch.nn.functional
_A = torch.ops.aten
# The α the ELU kernels get for SELU (ATen's and relukit's multiply it by λ): the float64 next
# above α's rounding, whose product with LAMBDA rounds to the catalog's LAMBDA_ALPHA (α's own
# rounding gives one float64 ulp less), so the kernels and the catalog share λα bit for bit
# (tests/test_torch_native.py checks the product).
_SELU_ALPHA = math.nextafter(float(ALPHA_DIGITS), math.inf)
_CLIP = 800.0  # beyond |x| = 800 these functions are at their float64 limits (see the catalog)
_SOFTPLUS_THRESHOLD = 40.0  # βx > 40: log1p(e^{−βx})/β < 2^-53·x, so f(x) = x in float64


@dataclass(frozen=True)
class Kernels:
    """An entry's float64 value and derivative, written with ATen ops (differentiable, so the
    backward has a backward); ``grad_fast`` is a fused ATen backward kernel for g·f' where one
    exists without a double-backward formula (used when no graph is being built)."""

    value: Callable[..., torch.Tensor]
    derivative: Callable[..., torch.Tensor]
    grad_fast: Callable[..., torch.Tensor] | None = None
    from_output: bool = False  # ReLU6: the derivative is a function of the output
    # relukit's native op for float32 and narrower on CPU, out of place (eager and compiled):
    # ``native(name, **params)`` gives the op's name and its arguments after the input. SELU
    # and CELU are relukit::elu(x, alpha, scale, input_scale); the parameter-free ones share
    # relukit::activation(x, name); Softplus is relukit::softplus(x, beta).
    native: Callable[..., tuple[str, tuple]] | None = None


def _nan(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``r`` with NaN wherever ``x`` is NaN (ATen's backward kernels send NaN to a branch)."""
    return torch.where(torch.isnan(x), x, r)


def _silu_d(x, **_):
    xc = x.clamp(-_CLIP, _CLIP)
    s = torch.sigmoid(xc)
    return s * (1.0 + xc * (1.0 - s))


def _mish_d(x, **_):
    xc = x.clamp(-_CLIP, _CLIP)
    t = torch.tanh(F.softplus(xc))
    return t + xc * torch.sigmoid(xc) * (1.0 - t * t)


def _named(name, **_):  # relukit::activation(x, name)
    return "activation", (name,)


KERNELS: dict[str, Kernels] = {
    "silu": Kernels(
        value=lambda x, **_: F.silu(x.clamp(min=-_CLIP)),
        derivative=_silu_d,
        grad_fast=lambda g, x, **_: _A.silu_backward(g, x.clamp(-_CLIP, _CLIP)),
        native=_named,
    ),
    "mish": Kernels(
        value=lambda x, **_: F.mish(x.clamp(min=-_CLIP)),
        derivative=_mish_d,
        grad_fast=lambda g, x, **_: _A.mish_backward(g, x.clamp(-_CLIP, _CLIP)),
        native=_named,
    ),
    "softplus": Kernels(
        value=lambda x, beta, threshold: F.softplus(x, beta, _SOFTPLUS_THRESHOLD),
        derivative=lambda x, beta, threshold: _A.softplus_backward(
            torch.ones_like(x), x, beta, _SOFTPLUS_THRESHOLD
        ),
        grad_fast=lambda g, x, beta, threshold: _A.softplus_backward(
            g, x, beta, _SOFTPLUS_THRESHOLD
        ),
        native=lambda name, beta, threshold: ("softplus", (beta,)),
    ),
    "selu": Kernels(
        value=lambda x, **_: F.selu(x),
        derivative=lambda x, **_: _nan(
            x, torch.where(x > 0, LAMBDA, LAMBDA_ALPHA * torch.exp(x.clamp(max=0.0)))
        ),
        grad_fast=lambda g, x, **_: _nan(x, _A.elu_backward(g, _SELU_ALPHA, LAMBDA, 1.0, False, x)),
        native=lambda name: ("elu", (_SELU_ALPHA, LAMBDA, 1.0)),
    ),
    "celu": Kernels(
        # ATen's CELU backward rounds its coefficients (2.8e-7 off at alpha = 0.1): f' here.
        value=lambda x, alpha: F.celu(x, alpha),
        derivative=lambda x, alpha: torch.where(x > 0, 1.0, torch.exp(x.clamp(max=0.0) / alpha)),
        native=lambda name, alpha: ("elu", (alpha, 1.0, 1.0 / alpha)),
    ),
    "hardswish": Kernels(
        value=lambda x, **_: F.hardswish(x.clamp(min=-4.0)),
        derivative=lambda x, **_: _nan(x, _A.hardswish_backward(torch.ones_like(x), x)),
        grad_fast=lambda g, x, **_: _nan(x, _A.hardswish_backward(g, x)),
        native=_named,
    ),
    "sigmoid": Kernels(
        value=lambda x, **_: torch.sigmoid(x),
        derivative=lambda x, **_: torch.sigmoid(x) * torch.sigmoid(-x),
        native=_named,
    ),
    "tanh": Kernels(
        value=lambda x, **_: torch.tanh(x),
        derivative=lambda x, **_: torch.cosh(x).pow(-2),
        native=_named,
    ),
    "relu6": Kernels(
        value=lambda x, **_: F.hardtanh(x, 0.0, 6.0),
        derivative=lambda y, **_: _nan(y, _A.hardtanh_backward(torch.ones_like(y), y, 0.0, 6.0)),
        grad_fast=lambda g, y, **_: _nan(y, _A.hardtanh_backward(g, y, 0.0, 6.0)),
        from_output=True,
        native=_named,
    ),
}


def _wide(k: Kernels, x: torch.Tensor) -> torch.Tensor:
    """x in the dtype the kernels run in: float64, or its own dtype for an exact entry."""
    return x if k.from_output else x.double()


def _grad(k: Kernels, g: torch.Tensor, saved: torch.Tensor, params: dict) -> torch.Tensor:
    """g·f' rounded once to g's dtype; differentiable when a graph is being built."""
    gw, sw = _wide(k, g), _wide(k, saved)
    if k.grad_fast is not None and not torch.is_grad_enabled():
        r = k.grad_fast(gw, sw, **params)
    else:
        r = gw * k.derivative(sw, **params)
    return r.to(g.dtype)


@_ag.with_forward_mode
class Wide(Function):
    """f(x) from ATen's float64 kernels, rounded once; saves the input (the output for ReLU6)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, k, params):
        return k.value(_wide(k, x), **params).to(x.dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.k, ctx.params = inputs
        ctx.save_for_backward(output if ctx.k.from_output else x)
        ctx.save_for_forward(output if ctx.k.from_output else x)

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved_tensors
        return _grad(ctx.k, g, saved, ctx.params), None, None

    @staticmethod
    def tangent(ctx, xt, _k, _p):
        (saved,) = ctx.saved_tensors
        return _grad(ctx.k, xt, saved, ctx.params)


def value(name: str, x: torch.Tensor, params: dict) -> torch.Tensor:
    """f(x) as the fast path computes it without a graph (traceable, branch-free): ATen's
    float64 kernels rounded once, float64 by the catalog's math (the few-bit backward's value)."""
    k = KERNELS[name]
    if x.dtype == torch.float64 and not k.from_output:
        return _generic.value(get(name), x, params, {})
    return k.value(_wide(k, x), **params).to(x.dtype)


def _plan(name: str):
    """The entry's ``NativePlan`` (``_fast``): float64 takes the generic path, except ReLU6,
    which is exact in every dtype."""
    k = KERNELS[name]
    if k.native is None:
        return None

    def plan(dtype, params, options):
        return None if dtype == torch.float64 and not k.from_output else k.native(name, **params)

    return plan


def _runner(name: str):
    activation = get(name)
    k = KERNELS[name]

    def run(input, params, weights, inplace, options):
        if (input.dtype == torch.float64 and not k.from_output) or torch.onnx.is_in_onnx_export():
            # float64 needs the catalog's double-double arguments (ATen's float64 is not
            # within 4 ulp everywhere): the generic path; so does ONNX export (onnxruntime has
            # no float64 Selu/Softplus... kernels: the generic path exports as plain ops).
            if inplace:
                return _generic.apply_inplace(activation, input, params)
            return _generic.apply(activation, input, params, weights)
        if not _tracked(input):
            y = value(name, input, params)
            return input.copy_(y) if inplace else y
        if inplace:  # the gradient needs the input: computed on a clone (as torch's silu_)
            return input.copy_(_ag.apply(Wide, input.clone(), k, params))
        return _ag.apply(Wide, input, k, params)

    return run


def _saves(name: str) -> str:
    activation = get(name)
    how = (
        "computed in its own dtype with ATen's clamp (exact)"
        if KERNELS[name].from_output
        else "float32, float16 and bfloat16 computed with ATen's float64 kernels and rounded once "
        "(the catalog's rounding, tested against it), float64 by the catalog's math (the generic "
        "path)"
    )
    if KERNELS[name].native is not None:
        exact = KERNELS[name].from_output
        inside = "exact in its dtype" if exact else "float64 inside, rounded once"
        how += (
            "; on CPU out of place, in eager mode and under ``torch.compile``, relukit's native "
            f"kernels run instead ({inside}; one fused pass forward, one backward)"
        )
    bits = " With ``backward_bits``: a k-bit code per element." if activation.few_bit else ""
    return f"{activation.output_note}. Values: {how}.{bits}"


def _value(name: str):
    def untracked(x, params):
        return value(name, x, params)

    return untracked


for _name in KERNELS:
    register(_name, saves=_saves(_name), native=_plan(_name), value=_value(_name))(_runner(_name))
