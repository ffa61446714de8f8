"""The NumPy array namespace the catalog's math runs on (floor 2's only numerics).

Everything here is elementwise on float arrays of the compute dtype chosen by ``_numpy_api``.
Two functions carry the accuracy work: ``ndtr`` (Φ within a few float64 ulp over the whole line)
and ``normal_pdf`` (φ with x² carried in double-double).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

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


# --- exponentials that stay exact into the subnormal range --------------------------------------

_LN2_HI = 6.93147180369123816490e-01  # fdlibm's Cody–Waite split: k·_LN2_HI is exact for |k| < 2¹¹
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.4426950408889634
_EXP_NORMAL_LIMIT = 700.0  # exp(-a) is normal (> 2.2e-308) for a < 708.4


def exp_neg(a, a_lo=0.0):
    """exp(−(a + a_lo)) as ``(m, k)`` with the value m·2⁻ᵏ.

    Where exp(−a) is normal, k = 0 (a plain ``0`` when it is 0 everywhere, so callers skip the
    scaling). Beyond, a = k·ln 2 + r exactly (Cody–Waite) and m = exp(−r) stays normal: a result
    that multiplies m by other factors and scales by 2⁻ᵏ last rounds once into the subnormal
    range, instead of multiplying a subnormal that has already lost its relative precision (which
    cost up to ~600 subnormal steps in GELU's float64 tail). ``a_lo`` (|a_lo| ≪ 1) is applied to
    first order: exp(−(a + a_lo)) = exp(−a)·(1 − a_lo).
    """
    m = np.exp(-a) * (1.0 - a_lo)
    big = a > _EXP_NORMAL_LIMIT
    if not big.any():
        return m, 0
    k = np.zeros(np.shape(a))
    ab = a[big]
    kb = np.rint(ab * _INV_LN2)
    r = (ab - kb * _LN2_HI) - kb * _LN2_LO
    lo = a_lo[big] if isinstance(a_lo, np.ndarray) else a_lo
    m[big] = np.exp(-r) * (1.0 - lo)
    k[big] = kb
    return m, k


def ldexp(v, k, *, out=None):
    """v·2⁻ᵏ, rounding once; ``k = 0`` (``exp_neg``'s scalar for normal ranges) costs nothing."""
    if isinstance(k, int) and k == 0:
        if out is None:
            return v
        np.copyto(out, v)
        return out
    return np.ldexp(v, -k.astype(np.int32), out=out)


# --- the standard normal distribution, accurate in float64 --------------------------------------

_INV_SQRT_2PI = 0.3989422804014327
_TAYLOR_TERMS = 9  # |h| ≤ 1/128: the 10th term is below 1e-18 relative at every node


@functools.cache
def _gaussian_table() -> tuple[int, np.ndarray, np.ndarray]:
    """(nodes per unit, N_hi, N_lo): N(−j/step) as double-double; see make_gaussian_table.py."""
    path = resources.files("relukit") / "_data" / "gaussian_table.json"
    data = json.loads(path.read_text())
    return data["step"], np.array(data["hi"]), np.array(data["lo"])


def _scaled_cdf(t):
    """N(t) = Φ(t)·exp(t²/2) for −40 ≤ t ≤ 0, within ~1 ulp.

    N is entire and slowly varying (N ≈ 1/(|t|√(2π)) in the tail), with N' = t·N + 1/√(2π).
    From the tabulated N at the nearest node t₀ = −j/64 the Taylor coefficients eₙ = N⁽ⁿ⁾(t₀)/n!
    follow by recurrence, e₁ = t₀e₀ + 1/√(2π), eₙ₊₁ = (eₙ₋₁ + t₀eₙ)/(n + 1), and
    N(t) = Σ eₙhⁿ with h = t − t₀ exact and |h| ≤ 1/128.
    """
    step, n_hi, n_lo = _gaussian_table()
    j = np.rint(t * -step)
    idx = j.astype(np.intp)
    t0 = j / -step
    h = t - t0
    e0 = n_hi[idx]
    coeffs = [e0, t0 * e0 + _INV_SQRT_2PI]
    for n in range(1, _TAYLOR_TERMS):
        coeffs.append((coeffs[n - 1] + t0 * coeffs[n]) / (n + 1))
    acc = coeffs[-1]
    for c in reversed(coeffs[1:-1]):
        acc = acc * h + c
    return e0 + (n_lo[idx] + acc * h)


def gaussian(x):
    """``(Φ_m, φ_m, k)``: Φ(x) = Φ_m·2⁻ᵏ and φ(x) = φ_m·2⁻ᵏ, each within ~2 ulp in float64.

    Φ(x) = exp(−x²/2)·N(x) with N from ``_scaled_cdf`` and x² carried in double-double (SciPy's
    ``ndtr`` is off by up to ~1800 ulp in the left tail, and by 5–10 ulp near x = −1.2 even with
    its argument roundings corrected); for x > 0, Φ(x) = 1 − Φ(−x). x must be finite and within
    [−40, 40] (the catalog clips). k is 0 except where φ(x) is subnormal on the left, so callers
    multiply first and scale once with ``ldexp``.
    """
    p, e = _dd.two_prod(x, x)
    m, k = exp_neg(0.5 * p, 0.5 * e)  # exp(-x²/2) = m·2^-k
    # fmin keeps the table index valid for NaN and |x| > 40 (Φ(-40)·e^800 is N's last node); a NaN
    # still propagates through m.
    left = m * _scaled_cdf(-np.fmin(np.abs(x), 40.0))  # Φ(-|x|)·2^k
    phi = m * _INV_SQRT_2PI
    positive = x > 0
    if isinstance(k, np.ndarray):
        # Right tail: Φ = 1 − (subnormal) and φ only ever adds to it, so it is unscaled there.
        right = positive & (k > 0)
        shift = -k[right].astype(np.int32)
        left[right] = np.ldexp(left[right], shift)
        phi[right] = np.ldexp(phi[right], shift)
        k[right] = 0
    return np.where(positive, 1.0 - left, left), phi, k
