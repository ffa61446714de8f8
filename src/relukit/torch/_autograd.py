"""autograd.Functions: ATen's fast kernels, relukit's saved-tensor policy, the kink and NaN rules.

This is the path wherever relukit's native CPU kernels (``_native``) don't run: under
``torch.func`` and forward-mode AD, on accelerators, in place, for PReLU and ELU, and everywhere
if the kernels could not be built. The native ops follow the same saved-tensor policy; their
double backward (``relukit::*_backward_graph``, C++) runs the same formulas as the ``*_grad``
functions below, which ``tests/test_torch_native_opcheck.py`` pins bit for bit.

What each function saves for backward (one tensor of the input's size unless said otherwise):

=====================================  =============================  =========================
activation                             relukit saves                  torch.nn saves
=====================================  =============================  =========================
relu                                   output                         output
leaky_relu, slope ≥ 0                  output                         input
leaky_relu, slope < 0                  input                          input
… in place                             output (+ 1-byte sign mask     refuses a negative slope
                                       for a negative slope)
elu (also in place: a clone)           input                          input (in place: output)
prelu                                  input (+ the weight)           input (+ the weight)
gelu                                   input                          input
=====================================  =============================  =========================

Saving the output costs nothing extra in ``Linear → act → Linear``: the next layer keeps the same
tensor for its own backward, so the hidden activation is stored once instead of twice. ATen's
``leaky_relu_backward`` takes an "is the saved tensor the result?" flag; the slope's branch is
exact from the output. ELU's is not: ``alpha·exp(x)`` from the output is ``result + alpha``,
which cancels for x ≪ 0, so ELU keeps its input, unless the caller asks for ``save="output"``
(``_generic.FromOutput`` here, ``is_result`` in the native ops: f' exact for the output).

Two rules ATen does not follow are restored here, cheaply:

- **NaN.** ATen's select-style backward kernels put NaN on a finite branch (relu'(NaN) = 1,
  leaky'(NaN) = slope...). A NaN input must give a NaN gradient. The functional layer looks for
  NaN once per call with one read-only reduction (``x.sum()``: about half a ``copy_`` pass); only
  when it finds one does the backward patch the gradient. Under ``torch.func`` transforms, on
  accelerators and under ``torch.compile`` off the CPU the patch is unconditional and
  branch-free (no data-dependent Python, no device sync).
- **GELU at ±inf and near float max.** ATen's exact GELU is NaN at ±inf on CPU (pytorch#185770)
  and at −inf in the tanh form, and inf near float max; values beyond ±40 are exactly x or 0 and
  gradients 1 or 0, patched with one select when an ``aminmax`` pass (``has_large``) finds such
  an input (always under compile and transforms).

Every backward is written with differentiable ATen ops (their own derivative formulas are
registered), so double backward and ``gradgradcheck`` work. Out-of-place functions define
``jvp`` (forward mode obeys the kink rule, also for PReLU, unlike ATen's) and
``generate_vmap_rule`` for ``torch.func.vmap``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.autograd import Function

_A = torch.ops.aten
_TANH_CLAMP = 30.0
_GELU_FLAT = 40.0  # beyond ±40, gelu(x) is x or 0 in every dtype (Φ(-40) < 1e-300)

_unwrap_if_dead: Callable[[Any], Any] | None
try:  # functorch's cheap liveness unwrap, as Function.apply does it (private; optional)
    _unwrap_if_dead = torch._C._functorch.unwrap_if_dead
except AttributeError:  # pragma: no cover - older/newer torch without it
    _unwrap_if_dead = None


def _functorch_active() -> bool:
    return torch._C._are_functorch_transforms_active()


def data_checks_allowed(x: torch.Tensor) -> bool:
    """Whether a Python branch on x's values is allowed and cheap: eager, CPU, no transforms."""
    if torch.compiler.is_compiling():
        return False
    return x.device.type == "cpu" and not _functorch_active()


def has_nan(x: torch.Tensor) -> bool:
    """``True`` if x may hold a NaN; one read-only reduction on eager CPU, else ``True``.

    A sum is NaN iff some element is NaN (or +inf meets −inf, a harmless false alarm).
    Measured: 21 µs for 1e6 float32 on 2 cores, against 38 µs for ``copy_``.
    """
    if not data_checks_allowed(x) or x.numel() == 0:
        return x.numel() != 0
    return math.isnan(x.detach().sum().item())


def has_large(x: torch.Tensor) -> bool:
    """``True`` if x may hold NaN, ±inf or values beyond ±40 (GELU's ATen fix-ups); one
    read-only ``aminmax`` pass on eager CPU, else ``True``."""
    if not data_checks_allowed(x) or x.numel() == 0:
        return x.numel() != 0
    lo, hi = torch.aminmax(x.detach())
    return not (lo.item() >= -_GELU_FLAT and hi.item() <= _GELU_FLAT)


def _fwd_ad_active() -> bool:
    return getattr(torch.autograd.forward_ad, "_current_level", -1) >= 0


def with_forward_mode(cls: type[Function]) -> type[Function]:
    """Give ``cls`` a twin, ``cls.forward_mode``, whose ``jvp`` is ``cls.tangent``.

    Dynamo cannot trace a Function that defines ``jvp`` ("Unsupported custom jvp"), and
    ``torch.func``/forward-mode AD need one; ``apply`` picks the twin only under those.
    """
    tangent = staticmethod(cls.tangent)  # type: ignore[attr-defined]  # each subclass defines it
    cls.forward_mode = type(cls.__name__, (cls,), {"jvp": tangent})  # type: ignore[attr-defined]
    return cls


def apply(fn: type[Function], *args):
    """``fn.apply(*args)`` (or its forward-mode twin's) without a per-call signature binding.

    ``Function.apply`` binds default arguments with ``inspect`` for setup_context-style
    functions (~7 µs a call, measured); our callers always pass every argument positionally, so
    in eager mode without functorch transforms we call the C++ apply directly, as it would.
    """
    if torch.compiler.is_compiling():
        return fn.apply(*args)
    if _functorch_active() or _fwd_ad_active():
        return getattr(fn, "forward_mode", fn).apply(*args)
    if _unwrap_if_dead is None:  # pragma: no cover
        return fn.apply(*args)
    args = tuple(_unwrap_if_dead(a) if isinstance(a, torch.Tensor) else a for a in args)
    return super(Function, fn).apply(*args)  # type: ignore[misc]  # _C._FunctionBase.apply


def propagate_nan(grad: torch.Tensor, saved: torch.Tensor, fix: bool) -> torch.Tensor:
    """``grad`` with NaN wherever ``saved`` is NaN (saved is NaN exactly where the input is)."""
    if not fix:
        return grad
    return torch.where(torch.isnan(saved), saved, grad)


# --- ReLU --------------------------------------------------------------------------------------


def relu_grad(g: torch.Tensor, r: torch.Tensor, fix: bool) -> torch.Tensor:
    # relu'(x) = 1 for x > 0, else 0 (kink: relu'(0) = 0); the output is > 0 iff the input is.
    return propagate_nan(_A.threshold_backward(g, r, 0), r, fix)


@with_forward_mode
class Relu(Function):
    """relu(x); saves the output, as torch does."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, fix):
        return torch.relu(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.fix = inputs[1]
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, g):
        (r,) = ctx.saved_tensors
        return relu_grad(g, r, ctx.fix), None

    @staticmethod
    def tangent(ctx, t, _):
        (r,) = ctx.saved_tensors
        return relu_grad(t, r, ctx.fix)


# --- Leaky ReLU --------------------------------------------------------------------------------


def leaky_grad(g, saved, slope: float, from_result: bool, fix: bool):
    # f'(x) = 1 for x > 0, else slope (kink: f'(0) = slope). With slope > 0 the output has the
    # input's sign, so ATen's is-result kernel reads the output; with slope < 0 it must read x.
    return propagate_nan(_A.leaky_relu_backward(g, saved, slope, from_result), saved, fix)


@with_forward_mode
class LeakyRelu(Function):
    """leaky_relu(x, slope); saves the output for slope > 0, the input for slope < 0."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, slope, from_result, fix):
        return _A.leaky_relu(x, slope)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.slope, ctx.from_result, ctx.fix = inputs
        saved = output if ctx.from_result else x
        ctx.save_for_backward(saved)
        ctx.save_for_forward(saved)

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return leaky_grad(g, s, ctx.slope, ctx.from_result, ctx.fix), None, None, None

    @staticmethod
    def tangent(ctx, t, *_):
        (s,) = ctx.saved_tensors
        return leaky_grad(t, s, ctx.slope, ctx.from_result, ctx.fix)


# --- ELU ---------------------------------------------------------------------------------------


def elu_grad(g, x, alpha: float, fix: bool):
    # f'(x) = 1 for x > 0, else alpha·exp(x) (kink: f'(0) = alpha), from the input: the output
    # would give alpha·exp(x) as result + alpha, which cancels (28% off in float32 for x in
    # [−16, −3], 0 below, wrong-signed in half types; tests/test_torch_gradients.py measures it).
    if torch.is_grad_enabled():
        # Double backward (create_graph): ATen's elu_backward differentiates with x < 0, so its
        # f''(0) is 0; written with a select, the x ≤ 0 branch gives alpha·e⁰ = alpha (the kink
        # rule, as Keras gives).
        gi = torch.where(x > 0, g, g * (alpha * torch.exp(torch.clamp(x, max=0))))
        return propagate_nan(gi, x, fix)
    return propagate_nan(_A.elu_backward(g, alpha, 1, 1, False, x), x, fix)


def elu_value(x: torch.Tensor, alpha: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """ATen's ELU with the contract's sign of zero: alpha·(±0) at ±0 (ATen takes the x branch
    there, which differs only for a negative alpha: one more select, for that case only)."""
    y = _A.elu(x, alpha) if out is None else _A.elu_(out, alpha)
    if alpha < 0:
        fixed = torch.where(y == 0, y * alpha, y)
        return fixed if out is None else out.copy_(fixed)
    return y


@with_forward_mode
class Elu(Function):
    """elu(x, alpha); saves the input (as torch.nn: the output cannot give an exact gradient)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, alpha, fix):
        return elu_value(x, alpha)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.alpha, ctx.fix = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return elu_grad(g, x, ctx.alpha, ctx.fix), None, None

    @staticmethod
    def tangent(ctx, t, *_):
        (x,) = ctx.saved_tensors
        return elu_grad(t, x, ctx.alpha, ctx.fix)


# --- in place ----------------------------------------------------------------------------------


class Inplace(Function):
    """relu_/leaky_relu_ under autograd: saves the result, plus a sign mask if it must.

    ``kind`` is ``"relu"`` or ``"leaky_relu"``. With a negative slope the result no longer tells
    x's sign (PyTorch refuses it); a bool mask of ``x > 0`` (1 byte an element) is saved before x
    is overwritten. (ELU in place computes out of place on a clone: its gradient needs the input.)
    No ``jvp``/``vmap`` rule: the functional layer runs the out-of-place form under
    ``torch.func`` and forward AD.
    """

    @staticmethod
    def forward(ctx, x, kind, param, fix):
        mask = x > 0 if param is not None and param < 0 else None
        if kind == "relu":
            torch.relu_(x)
        else:
            _A.leaky_relu_(x, param)
        ctx.mark_dirty(x)
        ctx.kind, ctx.param, ctx.fix = kind, param, fix
        if mask is None:
            ctx.save_for_backward(x)
        else:
            ctx.save_for_backward(x, mask)
        return x

    @staticmethod
    def backward(ctx, g):
        r, *mask = ctx.saved_tensors
        kind, param, fix = ctx.kind, ctx.param, ctx.fix
        if kind == "relu":
            gi = relu_grad(g, r, fix)
        elif not mask:
            gi = leaky_grad(g, r, param, True, fix)
        else:  # x ≤ 0: slope·g
            gi = propagate_nan(torch.where(mask[0], g, g * param), r, fix)
        return gi, None, None, None


# --- PReLU -------------------------------------------------------------------------------------


@with_forward_mode
class PRelu(Function):
    """_prelu_kernel(x, w) with w already shaped to broadcast; saves input and weight (as torch)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, w, fix):
        return _A._prelu_kernel(x, w)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, ctx.fix = inputs
        ctx.save_for_backward(x, w)
        ctx.save_for_forward(x, w)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        # ∂f/∂x = 1 for x > 0, else a (kink: a); ∂f/∂a = min(x, 0) (0 at the kink, NaN at NaN).
        gi, gw = _A._prelu_kernel_backward(g, x, w)
        gi = propagate_nan(gi, x, ctx.fix) if ctx.needs_input_grad[0] else None
        gw = gw.sum_to_size(w.shape) if ctx.needs_input_grad[1] else None
        return gi, gw, None

    @staticmethod
    def tangent(ctx, xt, wt, _):
        x, w = ctx.saved_tensors
        out = None
        if xt is not None:
            # ATen's own prelu jvp gives 1 at x = 0; the kink rule says a.
            out = propagate_nan(_A._prelu_kernel_backward(xt, x, w)[0], x, ctx.fix)
        if wt is not None:
            # ∂f/∂a·ȧ = min(x, 0)·ȧ; a zero tangent (torch.func's stand-in for "none") adds 0,
            # not -inf·0 = NaN at x = -inf.
            tw = torch.where(wt == 0, 0.0, torch.clamp(x, max=0) * wt)
            out = tw if out is None else out + tw
        return out


def zero_slope_at_minus_inf(y: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """PReLU's value with a zero slope at −inf: 0 (the limit), not ATen's 0·(−inf) = NaN.

    Only a zero slope can produce it: eager CPU looks at the (small) weight first; elsewhere
    the select is unconditional and branch-free.
    """
    if data_checks_allowed(w) and not bool((w == 0).any()):
        return y
    return torch.where((w == 0) & (x == -math.inf), torch.zeros_like(y), y)


# --- GELU --------------------------------------------------------------------------------------


def gelu_value(x: torch.Tensor, approximate: str, fix: bool) -> torch.Tensor:
    """GELU's value from ATen's kernel, with the limits where ATen has none.

    ATen gives NaN at ±inf and inf near float max (its 0.5·x·(1 + erf) overflows); beyond ±40
    the value is exactly x or 0, so one select restores them (``fix``: the input may hold such
    values; see ``has_large``).
    """
    y = _A.gelu(x, approximate=approximate)
    if fix:
        y = torch.where(x > _GELU_FLAT, x, torch.where(x < -_GELU_FLAT, 0.0, y))
    return y


def gelu_grad(g: torch.Tensor, x: torch.Tensor, approximate: str, fix: bool) -> torch.Tensor:
    if approximate == "tanh":
        # ATen's tanh-form derivative is NaN where x³ overflows (inf·0); beyond |x| = 30 f' is
        # exactly 1 or 0 in every dtype, so a clamp fixes both that and ±inf (one extra pass,
        # ~3% of this backward's time, measured).
        return _A.gelu_backward(g, torch.clamp(x, -_TANH_CLAMP, _TANH_CLAMP), approximate="tanh")
    gi = _A.gelu_backward(g, x, approximate=approximate)
    if fix:  # ATen: gelu'(±inf) = NaN; the limits are 0 and 1
        gi = torch.where(torch.isinf(x), torch.where(x > 0, g, torch.zeros_like(g)), gi)
    return gi


@with_forward_mode
class Gelu(Function):
    """gelu(x, approximate); saves the input (as torch; see the few-bit backward for less)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, approximate, fix):
        return gelu_value(x, approximate, fix)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, ctx.approximate, ctx.fix = inputs
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return gelu_grad(g, x, ctx.approximate, ctx.fix), None, None

    @staticmethod
    def tangent(ctx, t, *_):
        (x,) = ctx.saved_tensors
        return gelu_grad(t, x, ctx.approximate, ctx.fix)
