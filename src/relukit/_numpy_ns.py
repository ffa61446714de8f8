"""The NumPy array namespace the catalog's math runs on (floor 2's only numerics).

Everything here is elementwise on float arrays of the compute dtype chosen by ``_numpy_api``.
Two functions carry the accuracy work: ``ndtr`` (Φ within a few float64 ulp over the whole line)
and ``normal_pdf`` (φ with x² carried in double-double).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ._catalog import _dd

abs = np.abs
add = np.add
clip = np.clip
exp = np.exp
expm1 = np.expm1
maximum = np.maximum
minimum = np.minimum
multiply = np.multiply


def where(cond, a, b, *, out=None):
    """``np.where`` with an ``out=`` (NumPy's has none)."""
    if out is None:
        return np.where(cond, a, b)
    np.copyto(out, np.where(cond, a, b))
    return out


def select_positive(x, positive, nonpositive, *, out=None):
    """``positive`` where ``x > 0``, ``nonpositive`` where ``x ≤ 0``, NaN where x is NaN.

    This is the kink rule in one place: a kink at 0 takes its left (``x ≤ 0``) branch.
    ``positive``/``nonpositive`` are scalars or arrays that broadcast against ``x``.
    """
    dtype = np.result_type(x.dtype, *(v for v in (positive, nonpositive) if _is_array(v)))
    r = np.where(x > 0, _cast(positive, dtype), _cast(nonpositive, dtype))
    # A NaN in x would silently pick the x ≤ 0 branch. One read-only reduction finds out whether
    # there is any (a sum is NaN iff some term is NaN or +inf meets -inf); the masked fix-up runs
    # only then, so NaN-free inputs pay ~0.3 of a pass instead of an isnan pass and a where.
    if np.isnan(np.add.reduce(x, axis=None)):
        nan = np.isnan(x)
        if r.shape != nan.shape:  # broadcast operand larger than x: spread the mask over it
            nan = np.broadcast_to(nan, r.shape)
        r[nan] = np.nan
    if out is None:
        return r
    np.copyto(out, r)
    return out


def _is_array(v) -> bool:
    return isinstance(v, np.ndarray)


def _cast(v, dtype):
    return v.astype(dtype, copy=False) if _is_array(v) else dtype.type(v)


# --- Gaussian CDF and density, accurate in float64 -------------------------------------------

_SQRT_HALF = _dd.const(0.7071067811865476, -4.833646656726457e-17)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 0.3989422804014327
_TINY = np.finfo(np.float64).tiny


def ndtr(x):
    """Φ(x), the standard normal CDF, within ~3 ulp in float64 over the whole real line.

    SciPy's ``ndtr`` (cephes) evaluates Φ(x) = ½·erfc(a) for x ≤ −1 as ½·exp(−fl(a²))·R(a) with
    a = fl(|x|/√2); the two roundings, of a and of a², are amplified by ~2a² and reach ~400 ulp
    at x = −20 (measured against mpmath). We know both rounding errors exactly (Dekker's
    two-product), so one first-order correction restores full precision:

        Φ = y·(1 − z_lo − a_lo·exp(−a²)/(√π·y)),   y = ndtr(x), a_lo = |x|/√2 − a, z_lo = a² − fl(a²),

    since d ln erfc(a)/da = −2·exp(−a²)/(√π·erfc(a)). For x > −1 the rounding is not amplified.
    """
    y = special.ndtr(x)
    # Only x ≤ -1 needs it; clipping keeps the splitter and the exp finite everywhere else.
    ax = -np.clip(x, -40.0, -1.0)
    s_hi, s_lo, s_split = _SQRT_HALF
    a, a_lo = _dd.two_prod(ax, s_hi, s_split)
    a_lo += ax * s_lo
    z, z_lo = _dd.two_prod(a, a)
    ratio = np.exp(-z) * _INV_SQRT_PI / np.maximum(y, _TINY)
    corrected = y - y * (z_lo + a_lo * ratio)
    return np.where(x <= -1.0, corrected, y)


def normal_pdf(x):
    """φ(x) = exp(−x²/2)/√(2π) with x² in double-double (exp(−(p + e)/2) = exp(−p/2)·(1 − e/2))."""
    p, e = _dd.two_prod(x, x)
    return np.exp(-0.5 * p) * (1.0 - 0.5 * e) * _INV_SQRT_2PI
