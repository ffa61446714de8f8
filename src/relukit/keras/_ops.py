"""The ``keras.ops`` array namespace the catalog's math runs on in Keras (any Keras backend).

It provides what the NumPy namespace provides (``where``/``select``, ``maximum``, ``minimum``,
``multiply``, ``add``, ``clip``, ``abs``, ``exp``, ``expm1``, ``select_positive``,
``propagate_nan``, ``gaussian`` (and ``ndtr``, ``normal_pdf``), ``exp_neg``, ``ldexp``,
``two_prod``, ``two_sum``; ``exact = True``) for float32 and float64 tensors; ``relukit.keras``
computes float16 and bfloat16 in float32 and rounds once. Everything is elementwise, has no
data-dependent Python control flow (so it traces under ``jit`` and on torch's ``meta`` device),
keeps float64 as float64 (``keras.ops.maximum``/``minimum`` would demote it to float32 on the
torch and jax backends), and takes no ``out=`` (passing one raises ``TypeError``).

Accuracy work, float32 computed in float32 (float64 in float64):

- ``ndtr``: Φ(x) = ½·erfc(−x/√2), never ½·(1 + erf(x/√2)), which loses all relative precision
  below x ≈ −5. For x ≤ −1 the rounding of a = |x|/√2 (amplified ~2a² times by erfc) is known
  exactly from Dekker's two-product and removed to first order: Φ = ½·erfc(a) − a_lo·e^(−a²)/√π.
- ``normal_pdf``: φ(x) = e^(−x²/2)/√(2π) with x² carried as an unevaluated sum (p + e), so the
  exp argument is exact to first order: e^(−(p+e)/2) = e^(−p/2)·(1 − e/2).
- ``two_prod`` (Dekker) uses the tensor dtype's Veltkamp splitter (2¹²+1 in float32, 2²⁷+1 in
  float64), so the catalog's double-double arithmetic is exact in float32 too; a Python-float
  constant ``b`` is taken as fl(b) plus its rounding error, which goes into the low part.
  That is why ``exact`` is always true here: float32 is computed in float32, and the
  double-double argument of tanh-GELU is what keeps its left tail accurate (with float64
  splitting in float32 arithmetic its error grew like |2u| ulp: 216 ulp at x = −9).
- ``exp_neg`` returns k = 0 always (no data-dependent rescaling): a result whose intermediate
  is subnormal is rounded twice, off by a few subnormal steps (absolute ≤ 1e-36 in float32).

Measured on the torch backend (CPU), 4·10⁵ points of [−40, 40] plus the log-spaced samples of
``tests/cases.py``, against the NumPy reference (float64 rounded once for float32 results),
ulps of |f| ≥ 1e-30 (float32) / 1e-290 (float64); derivative ulps in units of the size of the
terms f' sums (GELU's f' crosses zero near x ≈ −0.75):

=====================  ==========  ==========  ==========  ==========
function               f32 value   f32 grad    f64 value   f64 grad
=====================  ==========  ==========  ==========  ==========
relu, leaky, prelu     0           0           0           0
elu                    1           1           1           1
gelu (exact)           2           4           5           3
gelu (tanh)            4           6           2           2
Φ (``ndtr``) vs mpmath 1.2                     2
φ vs mpmath            2.6                     3
=====================  ==========  ==========  ==========  ==========

float16/bfloat16 results are the float32 ones rounded once; they match the NumPy reference to
1 ulp of the half type. ``tests/test_keras.py`` asserts these bounds.
"""

from __future__ import annotations

import math

import numpy as np
from keras import backend as _backend
from keras import ops

from .._catalog import _dd

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
    "maximum",
    "minimum",
    "multiply",
    "ndtr",
    "normal_pdf",
    "propagate_nan",
    "select",
    "select_positive",
    "two_prod",
    "two_sum",
    "where",
]

# The catalog asks for double-double arguments and scaled exponentials only where ``exact``.
exact = True

# keras.ops.erfc exists on every backend of current Keras; very old Keras lacks it, and then the
# left tail of Φ falls back to 1 − erf (loses relative precision below x ≈ −5).
_erfc = getattr(ops, "erfc", None) or (lambda v: 1.0 - ops.erf(v))

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# Veltkamp splitters: 2**ceil(p/2) + 1 for a p-bit significand (float32: 24, float64: 53).
_SPLITTERS = {"float32": _dd.SPLITTER_FLOAT32, "float64": _dd.SPLITTER_FLOAT64}


def _no_out(out) -> None:
    if out is not None:
        raise TypeError("the Keras namespace takes no out= (Keras tensors are immutable)")


def _dtype(*values) -> str | None:
    """The dtype of the first tensor among ``values`` (``None`` if all are Python scalars)."""
    for v in values:
        if hasattr(v, "dtype") and not isinstance(v, (int, float, np.generic)):
            return _backend.standardize_dtype(v.dtype)
    return None


def _like(value, dtype):
    """``value`` as a tensor of ``dtype`` (scalars are rounded once, to ``dtype``)."""
    if dtype is None:
        return value
    if hasattr(value, "dtype") and not isinstance(value, np.generic):
        if _backend.standardize_dtype(value.dtype) == dtype:
            return value
        return ops.cast(value, dtype)
    return ops.convert_to_tensor(value, dtype=dtype)


def _binary(fn):
    def op(a, b, *, out=None):
        _no_out(out)
        dtype = _dtype(a, b)
        return fn(_like(a, dtype), _like(b, dtype))

    op.__name__ = fn.__name__
    op.__doc__ = f"``keras.ops.{fn.__name__}`` with Python scalars cast to the tensor's dtype."
    return op


def _unary(fn):
    def op(x, *, out=None):
        _no_out(out)
        return fn(x)

    op.__name__ = fn.__name__
    op.__doc__ = f"``keras.ops.{fn.__name__}``."
    return op


abs = _unary(ops.abs)
exp = _unary(ops.exp)
expm1 = _unary(ops.expm1)
add = _binary(ops.add)
multiply = _binary(ops.multiply)


# keras.ops.maximum/minimum promote through keras' result_type, which turns float64 into float32
# on the torch and jax backends (Keras 3.15: "aligned with JAX's default"); a select keeps the
# dtype, and NaN in ``a`` propagates because every comparison with it is false.


def maximum(a, b, *, out=None):
    """max(a, b) in the tensor's own dtype; NaN propagates from either side."""
    _no_out(out)
    dtype = _dtype(a, b)
    a, b = _like(a, dtype), _like(b, dtype)
    r = ops.where(a < b, b, a)
    return r if _is_scalar_number(b) else ops.where(ops.isnan(b), b, r)


def minimum(a, b, *, out=None):
    """min(a, b) in the tensor's own dtype; NaN propagates from either side."""
    _no_out(out)
    dtype = _dtype(a, b)
    a2, b2 = _like(a, dtype), _like(b, dtype)
    r = ops.where(a2 > b2, b2, a2)
    return r if _is_scalar_number(b) else ops.where(ops.isnan(b2), b2, r)


def _is_scalar_number(v) -> bool:
    """A Python or NumPy scalar that is not NaN (nothing to propagate from it)."""
    return isinstance(v, (int, float, np.generic)) and not np.isnan(v)


def clip(x, lo, hi, *, out=None):
    """``keras.ops.clip`` (NaN stays NaN on every backend: it is min/max based)."""
    _no_out(out)
    return ops.clip(x, lo, hi)


def where(cond, a, b, *, out=None):
    """``keras.ops.where`` with Python scalars cast to the tensors' dtype."""
    _no_out(out)
    dtype = _dtype(a, b)
    return ops.where(cond, _like(a, dtype), _like(b, dtype))


select = where


def propagate_nan(x, r):
    """``r`` with NaN wherever ``x`` is NaN (a comparison sends NaN down the x ≤ 0 branch)."""
    return ops.where(ops.isnan(x), _like(x, _dtype(r)), r)


def select_positive(x, positive, nonpositive, *, out=None):
    """``positive`` where ``x > 0``, ``nonpositive`` where ``x ≤ 0``, NaN where x is NaN.

    The kink rule in one place: a kink at 0 takes its left (``x ≤ 0``) branch. A NaN compares
    false and would silently pick the ``x ≤ 0`` branch, so it is put back with one more select
    (no data-dependent test: this must trace under ``jit``).
    """
    _no_out(out)
    dtype = _dtype(x)
    r = ops.where(x > 0, _like(positive, dtype), _like(nonpositive, dtype))
    return ops.where(ops.isnan(x), x, r)


def two_prod(a, b, b_split=None):
    """``a·b = p + e`` with ``p = fl(a·b)``, exact in the tensors' dtype (float32 or float64).

    A Python-float ``b`` (a double-double constant's high part) is first rounded to the dtype:
    p = fl(a·fl(b)) and e = (a·fl(b) − p) + a·(b − fl(b)), so the constant's own rounding ends
    up in the low part. ``b_split`` (the float64 halves of ``b``) is recomputed for the dtype.
    """
    dtype = _dtype(a, b)
    splitter = _SPLITTERS[dtype]
    if _is_python_number(b):
        t = np.dtype(dtype).type
        b_hi = t(b)
        rest = float(t(float(b) - float(b_hi)))
        c = b_hi * t(splitter)
        h = c - (c - b_hi)
        p, e = _dd.two_prod(a, float(b_hi), (float(h), float(b_hi - h)), splitter)
        return p, (e + a * rest if rest else e)
    if _is_python_number(a):
        return two_prod(b, a)
    return _dd.two_prod(a, b, splitter=splitter)


two_sum = _dd.two_sum  # Knuth's, exact in any binary floating dtype


def _is_python_number(v) -> bool:
    return isinstance(v, (int, float, np.generic))


def _constant(hi64: float, lo64: float, dtype: str):
    """The real ``hi64 + lo64`` (a double-double) in ``dtype`` as (hi, lo, (hi's Veltkamp halves)).

    All are Python floats exactly representable in ``dtype``: rounding happens in NumPy with the
    target dtype, so they are exactly the values the tensor arithmetic will see.
    """
    t = np.dtype(dtype).type
    hi = t(hi64)
    lo = t((hi64 - float(hi)) + lo64)
    c = hi * t(_SPLITTERS[dtype])
    h = c - (c - hi)
    return float(hi), float(lo), (float(h), float(hi - h))


# 1/√2 = 0.7071067811865476 − 4.833646656726457e-17 (double-double, as in ``_numpy_ns``).
_CONSTANTS = {d: _constant(0.7071067811865476, -4.833646656726457e-17, d) for d in _SPLITTERS}


def _splitter(x) -> float:
    dtype = _dtype(x)
    if dtype not in _SPLITTERS:
        raise TypeError(f"ndtr/normal_pdf compute in float32 or float64; got {dtype}")
    return _SPLITTERS[dtype]


def ndtr(x):
    """Φ(x), the standard normal CDF, for float32 or float64 tensors, over the whole real line.

    Φ(x) = ½·erfc(−x/√2). For x ≤ −1 the argument a = fl(|x|·(1/√2)) carries a rounding error
    a_lo that erfc amplifies by ~2a² (≈ 400 ulp at x = −20); a_lo is known exactly (two-product
    plus the constant's own low part), and Φ = ½·erfc(a) − a_lo·e^(−a²)/√π removes it, since
    d erfc(a)/da = −2e^(−a²)/√π.
    """
    dtype = _dtype(x)
    splitter = _splitter(x)
    s_hi, s_lo, s_split = _CONSTANTS[dtype]
    # Clipping keeps the splitter and exp finite; beyond −40, Φ underflows in both dtypes.
    ax = -ops.clip(x, -40.0, -1.0)
    a, a_lo = _dd.two_prod(ax, s_hi, s_split, splitter)
    a_lo = a_lo + ax * s_lo
    corrected = 0.5 * _erfc(a) - a_lo * (ops.exp(-(a * a)) * _INV_SQRT_PI)
    # For x > −1 the argument's rounding is not amplified (|d ln erfc/da| ≤ 2 there).
    plain = 0.5 * _erfc(x * (-s_hi))
    return ops.where(x <= -1.0, corrected, plain)


def normal_pdf(x):
    """φ(x) = e^(−x²/2)/√(2π) with x² as p + e (two-product): e^(−(p+e)/2) = e^(−p/2)·(1 − e/2).

    x must be finite (the catalog clips before calling); float32 or float64.
    """
    p, e = _dd.two_prod(x, x, splitter=_splitter(x))
    return ops.exp(-0.5 * p) * (1.0 - 0.5 * e) * _INV_SQRT_2PI


# --- scaled exponentials ----------------------------------------------------------------------
# The NumPy namespace keeps exp(−a) as m·2⁻ᵏ where it is subnormal, so that a product rounds into
# the subnormal range once. That needs data-dependent indexing; here k is always 0, so a result
# below the dtype's smallest normal (float32: 1.2e-38) is rounded twice: it is off by at most a
# few subnormal steps (≤ 1e-44 in float32), far inside every tolerance of relukit's tests.


def exp_neg(a, a_lo=0.0):
    """exp(−(a + a_lo)) as ``(m, k)`` with the value m·2⁻ᵏ; here always ``k = 0`` (a Python int).

    ``a_lo`` (|a_lo| ≪ 1) is applied to first order: exp(−(a + a_lo)) = exp(−a)·(1 − a_lo).
    """
    return ops.exp(-a) * (1.0 - a_lo), 0


def ldexp(v, k, *, out=None):
    """v·2⁻ᵏ; ``k = 0`` (what ``exp_neg`` and ``gaussian`` return here) is free."""
    _no_out(out)
    if isinstance(k, int) and k == 0:
        return v
    # Two factors, each a normal power of two for |k| ≤ 2044 (a single 2⁻ᵏ would underflow);
    # operators only: keras.ops.floor would demote float64 to float32 on torch and jax.
    half = k * 0.5
    half = half - (half % 1.0)
    return v * (2.0 ** (-half)) * (2.0 ** (half - k))


def gaussian(x):
    """``(Φ(x), φ(x), 0)``: the normal CDF and density (see ``ndtr`` and ``normal_pdf``).

    The NumPy namespace returns them scaled by 2⁻ᵏ where φ is subnormal; here k = 0 always.
    x must be finite (the catalog clips it).
    """
    return ndtr(x), normal_pdf(x), 0
