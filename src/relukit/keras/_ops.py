"""The ``keras.ops`` array namespace the catalog's math runs on, on every Keras backend.

This module is a ``relukit._catalog.Namespace`` (``exact = True``): the catalog's forward and
derivative lines run on it unchanged, for float32 and float64 tensors (``relukit.keras``
computes float16 and bfloat16 in float32 and rounds once). Everything is elementwise with no
data-dependent Python, so it traces under ``jit`` and on torch's ``meta`` device; float64 stays
float64 (``keras.ops.maximum``/``minimum`` would demote it to float32 on torch and jax); no
operation takes ``out=`` (passing one raises ``TypeError``).

- ``gaussian`` is, in float32, the catalog's traceable Φ and φ (``_special.ndtr``/``normal_pdf``)
  with ``keras.ops.erfc`` (its two-products split with the dtype's Veltkamp splitter); in float64
  ``_gelu64``'s (the Mills ratio as a polynomial and a double-double e^(−x²/2), no erfc), scaled
  by 2⁻ᵏ for x ≤ 0.
- ``two_prod`` (Dekker) splits with the dtype's splitter (2¹²+1 in float32, 2²⁷+1 in float64),
  so the catalog's double-double arithmetic is exact in float32 too; a Python-float constant is
  taken as its rounding to the dtype plus the rest, which goes into the low part. That is why
  ``exact`` is always true: the double-double argument of tanh-GELU keeps its left tail accurate
  in float32 (splitting as float64 in float32 arithmetic cost |2u| ulp: 216 ulp at x = −9).
- ``exp_neg`` returns k = 0 (no data-dependent rescaling): a result whose intermediate is
  subnormal is rounded twice, a few subnormal steps off (absolute ≤ 1e-44 in float32).

``tests/test_keras.py`` measures the accuracy of the functions built on it against the NumPy
reference, per backend.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from keras import backend as _backend
from keras import ops

from .._catalog import _dd, _special
from . import _gelu64

__all__ = [
    "abs",
    "add",
    "clip",
    "exact",
    "exp",
    "exp_neg",
    "expm1",
    "gaussian",
    "ldexp",
    "log1p",
    "maximum",
    "minimum",
    "scale",
    "select",
    "select_positive",
    "tanh",
    "two_prod",
    "two_sum",
]

# The catalog asks for double-double arguments and scaled exponentials only where ``exact``.
exact: bool = True

# Veltkamp splitters: 2**ceil(p/2) + 1 for a p-bit significand (float32: 24, float64: 53).
_SPLITTERS = {"float32": _dd.SPLITTER_FLOAT32, "float64": _dd.SPLITTER_FLOAT64}


def _no_out(out: Any) -> None:
    if out is not None:
        raise TypeError("the Keras namespace takes no out= (Keras tensors are immutable)")


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float, np.generic))


def _dtype(*values: Any) -> str | None:
    """The dtype of the first tensor among ``values`` (``None`` if all are Python scalars)."""
    for v in values:
        if hasattr(v, "dtype") and not _is_scalar(v):
            return _backend.standardize_dtype(v.dtype)
    return None


def _like(value: Any, dtype: str | None) -> Any:
    """``value`` as a tensor of ``dtype`` (scalars are rounded once, to ``dtype``)."""
    if dtype is None:
        return value
    if hasattr(value, "dtype") and not isinstance(value, np.generic):
        if _backend.standardize_dtype(value.dtype) == dtype:
            return value
        return ops.cast(value, dtype)
    return ops.convert_to_tensor(value, dtype=dtype)


def abs(x: Any) -> Any:
    """|x|."""
    return ops.abs(x)


def exp(x: Any) -> Any:
    """e^x."""
    return ops.exp(x)


def expm1(x: Any) -> Any:
    """e^x − 1 (``keras.ops.expm1``: no cancellation near 0)."""
    return ops.expm1(x)


def log1p(x: Any) -> Any:
    """log(1 + x) (``keras.ops.log1p``: no cancellation near 0)."""
    return ops.log1p(x)


def tanh(x: Any) -> Any:
    """tanh(x): ``keras.ops.tanh``, except for float64 on jax, where it is −e/(2 + e) with
    e = expm1(−2|x|) and the sign of x restored (tanh(±0) = ±0).

    On jax, ``keras.ops.tanh`` returned float32 results for float64 input (tanh(−11.5) = −1.0
    where −0.99999999988 is float64's; measured); expm1 keeps the dtype and is exact next to 0,
    and the quotient never cancels (2.1 ulp there). On tensorflow, float64 above |x| = 0.5 is
    (1 − w)/(1 + w), w = e^(−2|x|) (see below); elsewhere the backends' own tanh.
    """
    if _dtype(x) != "float64":
        return ops.tanh(x)
    if _backend.backend() == "tensorflow":
        # tensorflow's float64 tanh saturates early (7.5 ulp at x = -14.2); from |x| = 0.5 on,
        # (1 - w)/(1 + w) with w = e^(-2|x|) <= 0.37 neither cancels nor overflows (1.85 ulp
        # with tensorflow's own tanh below, on 46,000 points against mpmath).
        w = ops.exp(-2.0 * ops.abs(x))
        r = (1.0 - w) / (1.0 + w)
        return ops.where(ops.abs(x) < 0.5, ops.tanh(x), ops.where(x < 0, -r, r))
    if _backend.backend() != "jax":
        return ops.tanh(x)
    positive = x > 0
    e = ops.expm1(ops.where(positive, -2.0 * x, 2.0 * x))  # expm1(−2|x|), keeping −0
    r = e / (2.0 + e)
    return ops.where(positive, -r, r)


def add(a: Any, b: Any, *, out: Any = None) -> Any:
    """a + b with a Python scalar cast to the tensor's dtype.

    On tensorflow through ``tf.math.add``: ``keras.ops.add`` turns a sum whose second operand
    "looks like a bias" (one dimension above 1, 0 not counted) into ``BiasAdd``, which refuses
    an empty x of shape (0, 2) ("Biases must be 1D: [0,2]", found by tests/test_properties.py).
    """
    _no_out(out)
    dtype = _dtype(a, b)
    a, b = _like(a, dtype), _like(b, dtype)
    if _backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.math.add(a, b)
    return ops.add(a, b)


# keras.ops.maximum/minimum promote through keras' result_type, which turns float64 into float32
# on the torch and jax backends (Keras 3.15: "aligned with JAX's default"); a select keeps the
# dtype, and NaN in x propagates because every comparison with it is false.


def maximum(x: Any, b: Any, *, out: Any = None) -> Any:
    """max(x, b) in the tensor's own dtype; NaN propagates from either side."""
    _no_out(out)
    dtype = _dtype(x, b)
    xt, bt = _like(x, dtype), _like(b, dtype)
    r = ops.where(xt < bt, bt, xt)
    return r if _is_scalar(b) and not np.isnan(b) else ops.where(ops.isnan(bt), bt, r)


def minimum(x: Any, b: Any, *, out: Any = None) -> Any:
    """min(x, b) in the tensor's own dtype, min(−0, 0) = −0; NaN propagates from either side.

    Written ``x ≤ b ? x : b`` (NaN put back after): the form ``x > b ? b : x`` shares its
    predicate with the catalog's ``select_positive(x, ...)`` around it, and XLA's CPU code for
    the pair returned +0 for ``elu(−0)`` under jit (jax and tensorflow, float16 input computed
    in float32: measured), breaking the sign-of-zero rule.
    """
    _no_out(out)
    dtype = _dtype(x, b)
    xt, bt = _like(x, dtype), _like(b, dtype)
    r = ops.where(ops.isnan(xt), xt, ops.where(xt <= bt, xt, bt))
    return r if _is_scalar(b) and not np.isnan(b) else ops.where(ops.isnan(bt), bt, r)


def clip(x: Any, lo: float, hi: float, *, out: Any = None) -> Any:
    """``keras.ops.clip`` (NaN stays NaN on every backend)."""
    _no_out(out)
    return ops.clip(x, lo, hi)


def select(cond: Any, a: Any, b: Any, *, out: Any = None) -> Any:
    """``a`` where ``cond`` else ``b`` (``keras.ops.where``, Python scalars in the tensor dtype)."""
    _no_out(out)
    dtype = _dtype(a, b)
    return ops.where(cond, _like(a, dtype), _like(b, dtype))


def select_positive(x: Any, positive: Any, nonpositive: Any, *, out: Any = None) -> Any:
    """``positive`` where ``x > 0``, ``nonpositive`` where ``x ≤ 0``, NaN where x is NaN.

    The kink rule in one place: a kink at 0 takes its left (``x ≤ 0``) branch. A NaN compares
    false and would silently pick the ``x ≤ 0`` branch, so it is put back with one more select
    (no data-dependent test: this must trace under ``jit``).
    """
    _no_out(out)
    dtype = _dtype(x)
    if positive is x:
        # f(x) = x for x > 0 (ReLU-family forwards): one select, written so that NaN falls
        # to the x branch and stays NaN (2 ops instead of 4; XLA and tf.function fuse less
        # than they are given, and eager jax dispatches each).
        return ops.where(x <= 0, _like(nonpositive, dtype), x)
    r = ops.where(x > 0, _like(positive, dtype), _like(nonpositive, dtype))
    return ops.where(ops.isnan(x), x, r)


def exp_neg(a: Any, a_lo: Any = 0.0) -> tuple[Any, Any]:
    """exp(−(a + a_lo)) as ``(m, k)`` with the value m·2⁻ᵏ; here always ``k = 0`` (an int).

    ``a_lo`` (|a_lo| ≪ 1) is applied to first order: exp(−(a + a_lo)) = exp(−a)·(1 − a_lo).
    """
    return ops.exp(-a) * (1.0 - a_lo), 0


def ldexp(v: Any, k: Any, *, out: Any = None) -> Any:
    """v·2⁻ᵏ; ``k = 0`` (what ``exp_neg`` and float32's ``gaussian`` return) is free; else k is
    a float64 tensor of integers (float64's ``gaussian``), |k| ≤ 2044."""
    _no_out(out)
    if isinstance(k, int) and k == 0:
        return v
    # float64 k (gaussian's): two factors, each a normal power of two built from its bits.
    return _gelu64.ldexp(_gelu64.array_ops(_backend.backend()), v, -k)


def _splitter(x: Any) -> float:
    dtype = _dtype(x)
    if dtype not in _SPLITTERS:
        raise TypeError(f"the Keras namespace computes in float32 or float64; got {dtype}")
    return _SPLITTERS[dtype]


def gaussian(x: Any) -> tuple[Any, Any, Any]:
    """``(Φ_m, φ_m, k)`` with Φ(x) = Φ_m·2⁻ᵏ and φ(x) = φ_m·2⁻ᵏ: in float32 the catalog's
    traceable tier on ``keras.ops.erfc`` (k = 0); in float64 ``_gelu64.gaussian`` (no erfc: the
    backends' float64 erfc is 7-1500 ulp off; k a float64 tensor, nonzero for x ≤ 0) on the
    backends it has ``ArrayOps`` for (every other takes the erfc tier).

    x must be finite (the catalog clips it); float32 or float64.
    """
    _splitter(x)  # float32 or float64 only: refuses the rest by name
    if _dtype(x) == "float64" and _backend.backend() in _gelu64.BACKENDS:
        return _gelu64.gaussian(_gelu64.array_ops(_backend.backend()), x)
    return _special.ndtr(_SELF, x, ops.erfc), _special.normal_pdf(_SELF, x), 0


def two_prod(a: Any, b: Any, b_split: Any = None) -> tuple[Any, Any]:
    """``a·b = p + e`` with ``p = fl(a·b)``, exact in the tensors' dtype (float32 or float64).

    A Python-float ``b`` (a double-double constant's high part) is first rounded to the dtype:
    p = fl(a·fl(b)) and e = (a·fl(b) − p) + a·(b − fl(b)), so the constant's own rounding ends
    up in the low part. ``b_split`` (the float64 halves of ``b``) is recomputed for the dtype.
    """
    if _is_scalar(a) and not _is_scalar(b):
        return two_prod(b, a)
    splitter = _splitter(a)
    if not _is_scalar(b):
        return _dd.two_prod(a, b, None, splitter)
    t = np.dtype(_dtype(a)).type
    b_hi = t(b)
    rest = float(t(float(b) - float(b_hi)))
    c = b_hi * t(splitter)
    h = c - (c - b_hi)
    p, e = _dd.two_prod(a, float(b_hi), (float(h), float(b_hi - h)), splitter)
    return p, (e + a * rest if rest else e)


def two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``a + b = s + e`` exactly (Knuth's, exact in any binary floating dtype)."""
    return _dd.two_sum(a, b)


# This module is the namespace; ``_special`` takes it as ``ns``.
_SELF = sys.modules[__name__]


def scale(a: Any, v: Any) -> Any:
    """a·v; where a is 0, a·clip(v, −1, 1): the zero slope's signed 0 (±inf·0 is NaN)."""
    dtype = _dtype(v, a)
    if _is_scalar(a):  # a Python slope: the zero test is a Python one (one or two ops)
        v = _like(v, dtype)
        return _like(a, dtype) * (ops.clip(v, -1.0, 1.0) if a == 0 else v)
    a, v = _like(a, dtype), _like(v, dtype)
    return ops.where(a == 0, a * ops.clip(v, -1.0, 1.0), a * v)
