"""The NumPy array namespaces the catalog's math runs on (floor 2's only numerics).

``EXACT`` serves float64 results: double-double arguments and an own Φ keep them within 4 ulp.
``WIDE`` serves float32/float16 results computed in float64: plain float64 formulas are already
~1e-13 relative, far below half a float32 ulp, so the double-double work is skipped.

Selections avoid ``np.where``: on random signs it mispredicts a branch per element and costs
3.6 ms per 1e6 float32 elements against 0.2 ms for a multiply (measured here), so exact
arithmetic selects (a lookup table, or a·m + b·(1 − m) with m ∈ {0, 1}) take its place.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ._catalog import _dd, _special

_LN2_HI = 6.93147180369123816490e-01  # fdlibm's Cody–Waite split: k·_LN2_HI is exact for |k| < 2¹¹
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.4426950408889634
_EXP_NORMAL_LIMIT = 700.0  # exp(-a) is normal (> 2.2e-308) for a < 708.4
_INV_SQRT_2PI = 0.3989422804014327


class NumpyNamespace:
    """The elementwise operations the catalog's math is written against, for NumPy arrays.

    Args:
        exact: carry double-double arguments and scaled exponentials (float64 results); when
            false, plain float64 arithmetic (results rounded to float32 or narrower).
    """

    abs = staticmethod(np.abs)
    add = staticmethod(np.add)
    clip = staticmethod(np.clip)
    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    log1p = staticmethod(np.log1p)
    tanh = staticmethod(np.tanh)
    multiply = staticmethod(np.multiply)

    @staticmethod
    def maximum(x, b, *, out=None):
        """``np.maximum``; against a scalar, ``np.clip`` with bounds of x's own float dtype.

        That clip takes NumPy's vectorised loop: 51 GB/s against 28 GB/s for ``np.maximum`` on
        1e7 float32 (``np.copyto``: 55 GB/s), measured here. NaN propagates in both.
        """
        if np.ndim(b) == 0 and isinstance(x, np.ndarray) and x.dtype.kind == "f":
            t = x.dtype.type
            return np.clip(x, t(b), t(np.inf), out=out)
        return np.maximum(x, b, out=out)

    @staticmethod
    def minimum(x, b, *, out=None):
        """``np.minimum``; against a scalar, the fast ``np.clip`` (see ``maximum``)."""
        if np.ndim(b) == 0 and isinstance(x, np.ndarray) and x.dtype.kind == "f":
            t = x.dtype.type
            return np.clip(x, t(-np.inf), t(b), out=out)
        return np.minimum(x, b, out=out)

    def __init__(self, exact: bool):
        self.exact = exact

    def __repr__(self) -> str:
        return f"NumpyNamespace(exact={self.exact})"

    @staticmethod
    def scale(a, v):
        """a·v, with a zero slope's limit where a is 0: a·clip(v, −1, 1), a signed 0 (±inf·0
        would be NaN); NaN stays NaN.

        Slopes are few (a scalar or one per channel): the fix-up runs only when one is 0.
        """
        r = np.multiply(a, v)
        zero = np.asarray(a) == 0
        if zero.any():
            r = np.where(zero, np.multiply(a, np.clip(v, -1.0, 1.0)), r).astype(r.dtype)
        return r

    # --- selection: the kink rule lives here ---------------------------------------------------

    @staticmethod
    def select(cond, a, b, *, out=None):
        """``a`` where ``cond`` else ``b``, exactly, for finite ``a`` and ``b``: a·m + b·(1 − m).

        With m ∈ {0, 1} one product is exactly ±0 and the other exactly the chosen value, so the
        sum is exact; 5× faster than ``np.where`` on random conditions.
        """
        dtype = np.result_type(a, b, np.float32 if cond.dtype == bool else cond.dtype)
        if np.ndim(a) == 0 and np.ndim(b) == 0 and b == 0:
            return np.multiply(cond, dtype.type(a), out=out, dtype=dtype)
        m = cond.astype(dtype)  # a fresh array: it may become the result
        # A derivative's "1 for x > 0" is m itself: one pass saved.
        r = m if np.ndim(a) == 0 and a == 1 else np.multiply(a, m)
        r += b * (1 - m)  # the right side is evaluated before r (possibly m) changes
        if out is None:
            return r
        np.copyto(out, r)
        return out

    def select_positive(self, x, positive, nonpositive, *, out=None):
        """``positive`` where ``x > 0``, ``nonpositive`` where ``x ≤ 0``, NaN where x is NaN.

        The kink rule in one place: a kink at 0 takes its left (``x ≤ 0``) branch. Scalars must
        be finite (an exact arithmetic select); an array ``nonpositive`` (a branch's values,
        possibly infinite) is taken as it is and ``positive`` copied over it where x > 0.
        """
        if isinstance(nonpositive, np.ndarray) and nonpositive.shape == np.shape(x):
            r = nonpositive if out is None else out
            if out is not None:
                np.copyto(out, nonpositive)
            np.copyto(r, positive, where=x > 0)
            return self.propagate_nan(x, r)
        return self.propagate_nan(x, self.select(x > 0, positive, nonpositive, out=out))

    @staticmethod
    def propagate_nan(x, r):
        """``r`` with NaN wherever ``x`` is NaN (a comparison sends NaN down the x ≤ 0 branch).

        One read-only reduction finds out whether there is any NaN (``min`` propagates it, at
        0.03 ms per 1e6 float32 against 0.12 ms for a sum, measured here); the masked fix-up
        runs only then.
        """
        if x.size and np.isnan(np.minimum.reduce(x, axis=None)):
            r[np.broadcast_to(np.isnan(x), r.shape)] = np.nan
        return r

    # --- exponentials that stay exact into the subnormal range ----------------------------------

    def exp_neg(self, a, a_lo=0.0):
        """exp(−(a + a_lo)) as ``(m, k)`` with the value m·2⁻ᵏ.

        Where exp(−a) is normal, k = 0 (a plain ``0`` when it is 0 everywhere, so callers skip
        the scaling). Beyond, a = k·ln 2 + r exactly (Cody–Waite) and m = exp(−r) stays normal:
        a result that multiplies m by other factors and scales by 2⁻ᵏ last rounds once into the
        subnormal range, instead of multiplying a subnormal that has already lost its relative
        precision (which cost up to ~600 subnormal steps in GELU's float64 tail). ``a_lo``
        (|a_lo| ≪ 1) is applied to first order: exp(−(a + a_lo)) = exp(−a)·(1 − a_lo).
        """
        m = np.exp(-a)
        if not self.exact:
            return m, 0
        m *= 1.0 - a_lo
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

    @staticmethod
    def ldexp(v, k, *, out=None):
        """v·2⁻ᵏ, rounding once; ``k = 0`` (``exp_neg``'s scalar for normal ranges) is free."""
        if isinstance(k, int) and k == 0:
            if out is None:
                return v
            np.copyto(out, v)
            return out
        return np.ldexp(v, -k.astype(np.int32), out=out)

    # --- the standard normal distribution -------------------------------------------------------

    def gaussian(self, x):
        """``(Φ_m, φ_m, k)``: Φ(x) = Φ_m·2⁻ᵏ and φ(x) = φ_m·2⁻ᵏ; x finite, |x| ≤ 40.

        Exact namespace: Φ(x) = exp(−x²/2)·N(x) with N from ``_scaled_cdf`` and x² carried in
        double-double, each within ~3 ulp in float64 (SciPy's ``ndtr`` is off by up to ~1800 ulp
        in the left tail, and by 5–10 ulp near x = −1.2 even with its argument roundings
        corrected); Φ(x) = 1 − Φ(−x) for x > 0. k is 0 except where φ(x) is subnormal on the
        left, so callers multiply first and scale once with ``ldexp``.
        Wide namespace: SciPy's ``ndtr`` and a plain exp, ~1e-13 relative, and k = 0.
        """
        if not self.exact:
            return special.ndtr(x), np.exp(-0.5 * x * x) * _INV_SQRT_2PI, 0
        p, e = self.two_prod(x, x)
        m, k = self.exp_neg(0.5 * p, 0.5 * e)  # exp(-x²/2) = m·2^-k
        # fmin keeps the table index valid for NaN (a NaN still propagates through m).
        left = m * _special.scaled_cdf(-np.fmin(np.abs(x), 40.0))  # Φ(-|x|)·2^k
        phi = m * _INV_SQRT_2PI
        positive = x > 0
        if isinstance(k, np.ndarray):
            # Right tail: Φ = 1 − (subnormal) and φ only ever adds to it: unscaled there.
            right = positive & (k > 0)
            shift = -k[right].astype(np.int32)
            left[right] = np.ldexp(left[right], shift)
            phi[right] = np.ldexp(phi[right], shift)
            k[right] = 0
        return self.select(positive, 1.0 - left, left), phi, k

    # --- double-double arithmetic (plain arithmetic in the wide namespace) ----------------------

    def two_prod(self, a, b, b_split=None):
        """``a·b = p + e`` exactly (Dekker); the wide namespace returns ``(a·b, 0.0)``."""
        if not self.exact:
            return a * b, 0.0
        return _dd.two_prod(a, b, b_split)

    def two_sum(self, a, b):
        """``a + b = s + e`` exactly (Knuth); the wide namespace returns ``(a + b, 0.0)``."""
        if not self.exact:
            return a + b, 0.0
        return _dd.two_sum(a, b)


EXACT = NumpyNamespace(exact=True)
WIDE = NumpyNamespace(exact=False)


def for_dtype(result_dtype: np.dtype) -> NumpyNamespace:
    """The namespace whose precision suits results of ``result_dtype``."""
    return EXACT if np.dtype(result_dtype).itemsize >= 8 else WIDE
