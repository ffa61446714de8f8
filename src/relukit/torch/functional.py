"""relukit's activations as functions on tensors, with ``torch.nn.functional``'s signatures.

Each function validates its arguments against the catalog, then runs, in eager mode on CPU, the
native kernels of ``_native`` (fused, with autograd in C++; exact GELU), and otherwise ATen's
kernel directly when no gradient can be asked for, or the ``autograd.Function`` of ``_autograd``
that keeps relukit's saved-tensor policy, kink rule and NaN rule around ATen's kernels.
"""

from __future__ import annotations

import inspect
from typing import Literal

import torch

from .._catalog import get
from . import _autograd as _ag
from . import _native

_RELU = get("relu")
_LEAKY = get("leaky_relu")
_PRELU = get("prelu")
_ELU = get("elu")
_GELU = get("gelu")

__all__ = ["elu", "gelu", "leaky_relu", "prelu", "relu"]


def _doc(activation, text: str) -> str:
    return activation.docstring_core() + "\n\n" + inspect.cleandoc(text)


def _check_input(input, name: str, *, integers: bool = False) -> bool:
    """Return ``True`` for a floating tensor, ``False`` for an accepted integer one; else raise."""
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"{name}(): input must be a torch.Tensor, got {type(input).__name__}")
    if input.is_floating_point():
        return True
    if integers and input.dtype != torch.bool and not input.is_complex():
        return False
    kinds = "floating-point or integer" if integers else "floating-point"
    raise TypeError(
        f"{name}(): input must be a {kinds} tensor, got dtype {input.dtype}; "
        "convert it first, e.g. input.float()"
    )


def _tracked(*tensors: torch.Tensor) -> bool:
    """Whether autograd (reverse or forward mode, or a torch.func transform) may need our rule."""
    if torch.compiler.is_compiling():
        return True
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return True
    return _ag._fwd_ad_active() or _ag._functorch_active()


# --- ReLU --------------------------------------------------------------------------------------


def relu(input: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    if not _check_input(input, "relu", integers=True):  # integer ReLU stays integer, as torch's
        return torch.relu_(input) if inplace else torch.relu(input)
    if not _tracked(input):
        return torch.relu_(input) if inplace else torch.relu(input)
    if not inplace and (native := _native.for_input(input)) is not None:
        return native.relu(input)
    fix = _ag.has_nan(input)
    if inplace:
        return _ag.apply(_ag.Inplace, input, "relu", None, fix)
    return _ag.apply(_ag.Relu, input, fix)


relu.__doc__ = _doc(
    _RELU,
    """
    Args:
        input: a floating-point tensor of any shape; integer tensors are accepted and keep
            their dtype (as ``torch.relu``); bool is refused.
        inplace: overwrite ``input`` with the result. Default: ``False``.

    Returns:
        max(0, input), same shape and dtype.

    Saved for backward: the output (as torch.nn). Unlike ``torch.nn.functional.relu``, a NaN
    input gets a NaN gradient (PyTorch gives 1).

    Shape:
        Any; the result has the input's shape.

    Example:
        >>> import torch
        >>> from relukit.torch import functional as F
        >>> x = torch.tensor([-1.0, 0.0, 2.0, float("nan")], requires_grad=True)
        >>> F.relu(x).sum().backward()
        >>> x.grad
        tensor([0., 0., 1., nan])
    """,
)


# --- Leaky ReLU --------------------------------------------------------------------------------


def leaky_relu(
    input: torch.Tensor,
    negative_slope: float = _LEAKY.param("negative_slope").default,
    inplace: bool = False,
) -> torch.Tensor:
    _check_input(input, "leaky_relu")
    slope = _LEAKY.check_params(negative_slope=negative_slope)["negative_slope"]
    if slope == 0.0:  # ReLU: same values and derivative, and f(-inf) = 0 where ATen gives NaN
        return relu(input, inplace)
    if not _tracked(input):
        return (
            torch.ops.aten.leaky_relu_(input, slope) if inplace else _ag._A.leaky_relu(input, slope)
        )
    if not inplace and (native := _native.for_input(input)) is not None:
        return native.leaky_relu(input, slope)
    fix = _ag.has_nan(input)
    if inplace:
        return _ag.apply(_ag.Inplace, input, "leaky_relu", slope, fix)
    return _ag.apply(_ag.LeakyRelu, input, slope, slope > 0, fix)


leaky_relu.__doc__ = _doc(
    _LEAKY,
    """
    Args:
        input: a floating-point tensor of any shape (integer and bool tensors: ``TypeError``).
        negative_slope: the slope for x ≤ 0, any finite real; rounded to the input's dtype
            (float32 for half types). Default: ``0.01`` (Keras' layer: 0.3).
        inplace: overwrite ``input`` with the result; also works with a negative slope, which
            PyTorch refuses. Default: ``False``.

    Returns:
        The activation, same shape and dtype as ``input``.

    Saved for backward: the output when ``negative_slope > 0`` (torch.nn saves the input, so
    ``Linear → LeakyReLU → Linear`` stores the hidden tensor twice; relukit stores it once), the
    input when it is negative, and in place the output plus a 1-byte sign mask.

    Shape:
        Any; the result has the input's shape.

    Example:
        >>> import torch
        >>> from relukit.torch import functional as F
        >>> x = torch.tensor([-2.0, 0.0, 3.0], requires_grad=True)
        >>> y = F.leaky_relu(x, negative_slope=0.1)
        >>> y.sum().backward()
        >>> y.detach(), x.grad
        (tensor([-0.2000,  0.0000,  3.0000]), tensor([0.1000, 0.1000, 1.0000]))
    """,
)


# --- PReLU -------------------------------------------------------------------------------------


def _shape_weight(input: torch.Tensor, weight) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"prelu(): weight must be a torch.Tensor, got {type(weight).__name__}")
    if not weight.is_floating_point():
        raise TypeError(
            f"prelu(): weight must be a floating-point tensor, got dtype {weight.dtype}"
        )
    if weight.dim() > 1:
        raise ValueError(f"prelu(): weight must be 0-d or 1-D, got shape {tuple(weight.shape)}")
    n = weight.numel()
    channels = input.shape[1] if input.dim() > 1 else 1
    if n != 1 and n != channels:
        raise ValueError(
            f"prelu(): weight has {n} slopes but input has {channels} channels along dim 1 "
            f"(input shape {tuple(input.shape)}); weight must have 1 or {channels} elements"
        )
    shape = [1] * input.dim()
    if input.dim() > 1:
        shape[1] = n
    w = weight.reshape(shape)
    return w if w.dtype == input.dtype else w.to(input.dtype)


def prelu(input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    _check_input(input, "prelu")
    w = _shape_weight(input, weight)
    if not _tracked(input, w):
        return _ag._A._prelu_kernel(input, w)
    return _ag.apply(_ag.PRelu, input, w, _ag.has_nan(input))


prelu.__doc__ = _doc(
    _PRELU,
    """
    Args:
        input: a floating-point tensor, channels on dim 1 (integer and bool: ``TypeError``).
        weight: the slopes, a 0-d or 1-D floating tensor of 1 or ``input.shape[1]`` elements;
            cast to the input's dtype (the gradient comes back in the weight's dtype).

    Returns:
        The activation, same shape and dtype as ``input``.

    Saved for backward: the input and the weight (as torch.nn). ``∂f/∂a`` is summed to the
    weight's shape. Forward mode (``torch.func.jvp``) gives ``f'(0) = a`` like the backward
    (PyTorch's forward mode gives 1).

    Shape:
        input: ``(N, C, *)`` or ``(N,)`` / ``()`` with one slope; weight: ``()``, ``(1,)`` or
        ``(C,)``.

    Example:
        >>> import torch
        >>> from relukit.torch import functional as F
        >>> x = torch.tensor([[-2.0, 4.0], [-1.0, -3.0]])
        >>> F.prelu(x, torch.tensor([0.25, 0.5]))
        tensor([[-0.5000,  4.0000],
                [-0.2500, -1.5000]])
    """,
)


# --- ELU ---------------------------------------------------------------------------------------


def elu(
    input: torch.Tensor, alpha: float = _ELU.param("alpha").default, inplace: bool = False
) -> torch.Tensor:
    _check_input(input, "elu")
    alpha = _ELU.check_params(alpha=alpha)["alpha"]
    if not _tracked(input):
        return torch.ops.aten.elu_(input, alpha) if inplace else _ag._A.elu(input, alpha)
    fix = _ag.has_nan(input)
    if inplace:
        return _ag.apply(_ag.Inplace, input, "elu", alpha, fix)
    return _ag.apply(_ag.Elu, input, alpha, alpha >= 0, fix)


elu.__doc__ = _doc(
    _ELU,
    """
    Args:
        input: a floating-point tensor of any shape (integer and bool tensors: ``TypeError``).
        alpha: −alpha is the limit at −inf; any finite real, rounded to the input's dtype.
            Default: ``1.0``.
        inplace: overwrite ``input``; also works with a negative alpha, which PyTorch refuses.
            Default: ``False``.

    Returns:
        The activation (``expm1`` for x ≤ 0), same shape and dtype as ``input``.

    Saved for backward: the output when ``alpha ≥ 0``, computing ``alpha·exp(x)`` exactly as
    ``output + alpha`` (absolute error below ``alpha·2⁻²⁴`` in float32: the output's own
    rounding); the input when alpha is negative; in place the output plus a 1-byte sign mask.

    Shape:
        Any; the result has the input's shape.

    Example:
        >>> import torch
        >>> from relukit.torch import functional as F
        >>> x = torch.tensor([-1.0, 0.0, 1.0], requires_grad=True)
        >>> F.elu(x, alpha=2.0).sum().backward()
        >>> x.grad
        tensor([0.7358, 2.0000, 1.0000])
    """,
)


# --- GELU --------------------------------------------------------------------------------------


def _check_bits(backward_bits):
    if backward_bits is None:
        return None
    from . import _fewbit  # the few-bit backward lives in its own module

    if isinstance(backward_bits, bool) or backward_bits not in _fewbit.BITS:
        raise ValueError(
            f"backward_bits must be None (exact backward) or one of "
            f"{', '.join(map(str, _fewbit.BITS))}; got {backward_bits!r}"
        )
    return int(backward_bits)


def gelu(
    input: torch.Tensor,
    approximate: Literal["none", "tanh"] = _GELU.param("approximate").default,
    *,
    backward_bits: int | None = None,
) -> torch.Tensor:
    _check_input(input, "gelu")
    approximate = _GELU.param("approximate").check(approximate)
    bits = _check_bits(backward_bits)
    if bits is not None:
        from ._fewbit import fewbit_gelu

        return fewbit_gelu(input, approximate, bits)
    if (y := _native.gelu(input, approximate)) is not None:
        return y
    if not _tracked(input):
        return _ag.gelu_value(input, approximate, _ag.has_nonfinite(input))
    return _ag.apply(_ag.Gelu, input, approximate, _ag.has_nonfinite(input))


gelu.__doc__ = _doc(
    _GELU,
    """
    Args:
        input: a floating-point tensor of any shape (integer and bool tensors: ``TypeError``).
        approximate: ``"none"`` (x·Φ(x)) or ``"tanh"``. Default: ``"none"`` (JAX and
            ``keras.ops`` default to ``"tanh"``).
        backward_bits: ``None`` for the exact backward (saves the input, as torch.nn), or 1–4
            to save only a k-bit code of the input per element and use a piecewise-constant
            approximation of f' in backward (Few-Bit Backward). Default: ``None``.

    Returns:
        GELU of the input, same shape and dtype. ±inf give 0 and +inf (ATen: NaN).

    Accuracy: on CPU in eager mode, float32, float16 and bfloat16 run relukit's native kernels,
    which compute the value and the derivative in float64 and round once: the exact form from one
    exponential and one fitted polynomial (x·Φ(x), Φ(x) + x·φ(x)), the tanh form as x·σ(2u)
    without the cancellation of ``1 + tanh``. Measured against mpmath in float32: within 0.50
    ulp for values and gradients, both forms, tails included (``benchmarks/results/ulp.md``),
    and within 1 ulp next to gelu''s zero at x ≈ −0.75 (tested); ATen's
    ``0.5·x·(1 + erf(x/√2))`` is off by up to 1.9e3 ulp on [−3, −1] and returns 0 below −5.7.
    Time for 1e6 float32 elements, forward+backward, against
    ``torch.nn.GELU`` on a 2-core AVX-512 CPU: the exact form about 2× (1.5–2.5× across runs:
    float64 arithmetic against ATen's float32 approximation; 1.00× in a training step of an MLP
    whose matrix products dominate), the tanh form about 0.7× (``benchmarks/bench_torch_speed.py``).
    float64, CUDA, ``torch.compile`` and ``torch.func`` run ATen's kernels (patched at ±inf and
    NaN): absolute error below 1.1e-6 (float32) and 2.4e-16 (float64), float64 values 0 below
    x ≈ −8.3.

    Shape:
        Any; the result has the input's shape.

    Example:
        >>> import torch
        >>> from relukit.torch import functional as F
        >>> x = torch.tensor([-float("inf"), -1.0, 0.0, 1.0, float("inf")], requires_grad=True)
        >>> y = F.gelu(x)
        >>> y.sum().backward()
        >>> y.detach(), x.grad
        (tensor([-0.0000, -0.1587,  0.0000,  0.8413,     inf]),
         tensor([-0.0000, -0.0833,  0.5000,  1.0833,  1.0000]))
    """,
)
