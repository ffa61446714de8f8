"""float64 exact GELU and Φ/φ on every Keras backend, written once against a small array namespace.

The backends' float64 ``erfc`` is not float64-accurate (measured against mpmath: XLA's, which jax
and tensorflow's ``jit_compile`` run, 8 ulp at 0.84, 30 near 7, 120 beyond 11, 240 beyond 16,
doubling where z² crosses a power of 2: it rounds z² inside e^(−z²); TensorFlow's own kernel
~7 ulp near −1.9), so exact GELU built on it was 125 ulp off at x ≈ −19 (jax, and tensorflow
under ``jit_compile``), 11.7 at x ≈ −1.4 (tensorflow), and the Mills-ratio series that replaced
it below −20 cost up to 4.6 ulp (f′ 4.6, tensorflow in a ``tf.function``). Nothing here calls
``erfc``: with t = |x|,
Φ(−t) = e^(−t²/2)·Q(t), Q(t) = Φ(−t)·e^(t²/2) the Mills ratio over √(2π), and

- Q(t) = F(u)/(t + c), c = √(2/π), u = (t − 4)/(t + 4): F = Q·(t + c) lies in [0.399, 0.47] on
  [0, ∞) and is a polynomial of degree 24 in u (``_MILLS``, Chebyshev interpolant on t ∈ [0, 40],
  4e-18 off); the division is corrected to double-double (Dekker's exact product), and so is
  t + c (c's double-double constant);
- e^(−t²/2) = (m + m_lo)·2ⁿ from its exact argument (t² = p + e, two-product): n = round(a/ln 2),
  r = a − n·ln 2 (Cody–Waite, exact), e^r from its Taylor series (``_exp_neg_half_square``);
  2ⁿ is applied last, as two normal factors, so nothing underflows before the result does;
- GELU's value and derivative (``gelu``): x·Φ(x) = x·m·Q·2ⁿ for x ≤ 0 and x − x·Φ(−x) above;
  f′(x) = Φ(x) + x·φ(x) = m·(Q − t/√(2π))·2ⁿ for x ≤ 0 and 1 minus that above
  (f′(x) + f′(−x) = 1), each product exact (two-product) up to one rounding at the end;
- Φ and φ for the generic namespace (``gaussian``, ``_ops.gaussian``'s float64): Φ(x) =
  (m·Q)·2ⁿ and φ(x) = (m/√(2π))·2ⁿ, returned scaled (k = −n) for x ≤ 0 and as 1 − Φ(−x),
  unscaled, above.

Measured against mpmath on 38,000 points of [−40, 10] (20,000 of them in [−40, −3]), through
relukit.keras' exact GELU: value 1.13 ulp, derivative 1.01 (in units of its terms where it
crosses zero) on jax (eager and jitted) and on tensorflow (in a ``tf.function``, with and without
``jit_compile``; eagerly 1.13 and 1.08). ``tests/test_keras_jax_fast.py`` regenerates
``_MILLS`` and measures the core; ``tests/test_keras.py`` measures GELU on every backend.

What compilers do to float arithmetic matters here. XLA's algebraic simplifier (jax,
tensorflow's ``jit_compile``) rewrites (c + s) − c as s for a constant c, so Fast2Sum's error term
would vanish: every sum with a constant goes through ``two_sum(s, c)`` (Knuth's, the constant
second), which it leaves alone. XLA's CPU code contracts a·b + c into a fused multiply-add where
the product has one use: that only makes such a sum more accurate, and the two-products' partial
products are exact either way (each split's c = 134217729·a has two uses). TensorFlow's grappler
(a ``tf.function`` without ``jit_compile``) pushes constants together, (c₁ − y) + c₂ into
(c₁ + c₂) − y, which drops the double-double constants' low parts (2.2 ulp measured): tensorflow
runs the core inside a graph as its own XLA computation (``_tf_fast``), eagerly op by op.

The math is written once against ``ArrayOps`` (abs, clip, where, floor, round, and 2ⁿ from the
exponent's bits), which ``array_ops`` builds for jax, tensorflow and torch (``_ops.gaussian`` runs
on torch's); everything else is operators, so it traces under ``jax.jit`` and ``tf.function``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

from .._catalog import _dd


class ArrayOps(NamedTuple):
    """What the float64 core needs beyond operators, for one backend's float64 tensors."""

    abs: Callable[[Any], Any]
    clip: Callable[[Any, float, float], Any]  # NaN stays NaN
    where: Callable[[Any, Any, Any], Any]  # a Python float takes the tensor's dtype
    floor: Callable[[Any], Any]
    round: Callable[[Any], Any]  # to an integer (ties either way)
    pow2: Callable[[Any], Any]  # 2ⁿ for float64 n holding an integer in [−1022, 1023]


BACKENDS = ("jax", "tensorflow", "torch")


@functools.cache
def array_ops(backend: str) -> ArrayOps:
    """``ArrayOps`` on ``backend``'s own tensors ("jax", "tensorflow" or "torch"): 2ⁿ is built
    from its bits (exact; a ``pow`` may be computed as exp(n·ln 2))."""
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def pow2(n: Any) -> Any:
            bits = (n.astype(jnp.int64) + 1023) << 52
            return jax.lax.bitcast_convert_type(bits, jnp.float64)

        return ArrayOps(jnp.abs, jnp.clip, jnp.where, jnp.floor, jnp.round, pow2)
    if backend == "tensorflow":
        import tensorflow as tf

        def where(c: Any, a: Any, b: Any) -> Any:
            # tf.where takes no Python float beside a float64 tensor
            a = a if tf.is_tensor(a) else tf.constant(a, b.dtype)
            return tf.where(c, a, b if tf.is_tensor(b) else tf.constant(b, a.dtype))

        def pow2(n: Any) -> Any:
            bits = tf.bitwise.left_shift(tf.cast(n, tf.int64) + 1023, tf.constant(52, tf.int64))
            return tf.bitcast(bits, tf.float64)

        return ArrayOps(tf.abs, tf.clip_by_value, where, tf.floor, tf.round, pow2)
    if backend == "torch":
        import torch

        def pow2(n: Any) -> Any:
            return ((n.to(torch.int64) + 1023) << 52).view(torch.float64)

        return ArrayOps(torch.abs, torch.clamp, torch.where, torch.floor, torch.round, pow2)
    raise ValueError(f"no float64 GELU core for the {backend!r} backend")


_CLIP = 40.0  # Φ(−40) and φ(40) are 0 in float64: the limits, never inf·0

# F(u) = Φ(−t)·e^(t²/2)·(t + √(2/π)), u = (t − 4)/(t + 4), as a polynomial of degree 24 in u: the
# Chebyshev interpolant on t ∈ [0, 40] (u ∈ [−1, 0.82]) at 25 nodes (mpmath, 50 digits), in
# monomial form, a₀ as a double-double; 4e-18 off (tests/test_keras_jax_fast.py regenerates and
# measures it). F runs from 0.399 (t = 0 and t → ∞) to 0.47, so Σ|aₖ| ≈ 0.63 costs Horner nothing.
_MILLS_K = 4.0
_MILLS = (0.4529713582782141, -0.06226346699756862, -0.011139333095483123, 0.0430935381812974,
          -0.03843609086572497, 0.019652481088023453, -0.005104964723701511,
          -0.00041473724474981366, 0.0007327299457795881, -8.522286411890874e-05,
          -9.364352123044502e-05, 2.031369714082896e-05, 1.449692583872693e-05,
          -3.2636562789854883e-06, -2.7471384025639428e-06, 3.606075345166772e-07,
          5.716375081551661e-07, 1.5785805387450526e-08, -1.1296334210295756e-07,
          -2.6066120418731437e-08, 1.6922591807190116e-08, 8.86639202672308e-09,
          -7.225701923085441e-10, -1.3987608521028012e-09, -2.7944876650334036e-10)  # fmt: skip
_MILLS_A0_LO = -1.7360115824339445e-17  # a₀ − fl(a₀)
_SQRT_2_OVER_PI = (0.7978845608028654, -4.98465440455546e-17)  # √(2/π) as hi + lo
_INV_SQRT_2PI_DD = (0.3989422804014327, -2.49232720227773e-17)  # 1/√(2π) as hi + lo
_INV_SQRT_2PI_SPLIT = _dd.split(_INV_SQRT_2PI_DD[0])
# Cody–Waite: ln 2 = _LN2_HI + _LN2_LO with _LN2_HI's 33 bits, so n·_LN2_HI is exact for
# |n| < 2²⁰ (fdlibm's split); e^r on |r| ≤ ln(2)/2 from its Taylor series, 1 + r + r²·T(r),
# T's 12 terms leave 5e-18.
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_INV_LN2 = 1 / math.log(2)
_EXP_T = tuple(1 / math.factorial(j + 2) for j in range(12))


def _horner(coefficients: tuple[float, ...], u: Any) -> Any:
    p = coefficients[-1]
    for a in reversed(coefficients[:-1]):
        p = p * u + a
    return p


def _two_horners(coefficients: tuple[float, ...], u: Any) -> Any:
    """Σ aₖuᵏ as two Horner chains joined by u^h (h = half the terms): half the dependent
    multiply-adds in a row, which XLA's vectorised loop runs ~10% faster (measured), within
    the same error."""
    h = (len(coefficients) + 1) // 2
    power, base, e = None, u, h
    while e:
        if e & 1:
            power = base if power is None else power * base
        e >>= 1
        if e:
            base = base * base
    return _horner(coefficients[:h], u) + _horner(coefficients[h:], u) * power


def _exp_neg_half_square(xp: ArrayOps, t: Any) -> tuple[Any, Any, Any]:
    """e^(−t²/2) = (m + m_lo)·2ⁿ for float64 t ≥ 0 (finite, ≤ 40), m + m_lo within 0.35 ulp of
    m's. t² = p + e exactly; a = −p/2 is exact, r = a − n·ln 2 too (Cody–Waite), and −e/2 and
    n·_LN2_LO join r as its low part."""
    p, e = _dd.two_prod(t, t)
    a = -0.5 * p
    n = xp.round(a * _INV_LN2)
    r, r_lo = _dd.two_sum(a - n * _LN2_HI, -0.5 * e - n * _LN2_LO)
    s = r + (r * r * _two_horners(_EXP_T, r) + r_lo * (1.0 + r))  # e^(r + r_lo) − 1, r_lo² dropped
    m, m_lo = _dd.two_sum(s, 1.0)
    return m, m_lo, n


def _normal_tail(xp: ArrayOps, t: Any) -> tuple[Any, Any, Any, Any, Any]:
    """``(q, q_lo, m, m_lo, n)`` for float64 t ∈ [0, 40]: Q(t) = q + q_lo (the Mills ratio over
    √(2π)) and e^(−t²/2) = (m + m_lo)·2ⁿ, so Φ(−t) = (m + m_lo)·(q + q_lo)·2ⁿ."""
    r = 1.0 / (t + _MILLS_K)
    # u = 2t/(t + 4) − 1 below 4: near −1 its rounding error is then 2⁻⁵³ absolute, not relative
    # to the two roundings of r (F′(−1)·δu would cost 1 ulp of F there)
    u = xp.where(t < _MILLS_K, (2.0 * t) * r - 1.0, (t - _MILLS_K) * r)
    big, big_lo = _dd.two_sum(_two_horners(_MILLS[1:], u) * u, _MILLS[0])
    big_lo = big_lo + _MILLS_A0_LO
    s, s_lo = _dd.two_sum(t, _SQRT_2_OVER_PI[0])
    s_lo = s_lo + _SQRT_2_OVER_PI[1]
    inv_s = 1.0 / s
    q = big * inv_s
    qs, qs_lo = _dd.two_prod(q, s)
    q_lo = (((big - qs) - qs_lo) + (big_lo - q * s_lo)) * inv_s  # the residual over t + c
    m, m_lo, n = _exp_neg_half_square(xp, t)
    return q, q_lo, m, m_lo, n


def _scales(xp: ArrayOps, n: Any) -> tuple[Any, Any]:
    """2ⁿ as two normal factors (|n| ≤ 2044; n ≥ −1155 here: e^(−t²/2) for t ≤ 40)."""
    half = xp.floor(0.5 * n)
    return xp.pow2(half), xp.pow2(n - half)


def ldexp(xp: ArrayOps, v: Any, n: Any) -> Any:
    """v·2ⁿ for float64 v and float64 n holding integers (|n| ≤ 2044), rounded once where
    v·2^⌊n/2⌋ is normal."""
    scale1, scale2 = _scales(xp, n)
    return (v * scale1) * scale2


def gelu(xp: ArrayOps, w: Any, derivative: bool = True) -> tuple[Any, Any]:
    """Exact GELU and its derivative for float64 x (finite or not): ``(value, derivative)``, the
    derivative ``None`` when ``derivative=False``. NaN gives NaN in both, ±inf their limits,
    ±0 keep their sign (the module's docstring has the method)."""
    x = xp.clip(w, -_CLIP, _CLIP)  # NaN stays NaN; beyond ±40 the limits, never inf·0
    t = xp.abs(x)
    q, q_lo, m, m_lo, n = _normal_tail(xp, t)
    scale1, scale2 = _scales(xp, n)
    # Φ(−t) = (h + h_lo)·2ⁿ
    h, h_lo = _dd.two_prod(m, q)
    h_lo = h_lo + (m * q_lo + m_lo * q)
    negative = x <= 0
    v, v_lo = _dd.two_prod(x, h)
    # x ≤ 0: x·Φ(−t), rounded once, then scaled; x > 0: x − x·Φ(−x) (x·Φ(−x) ≤ x/2), +inf kept
    y = xp.where(negative, ((v + (v_lo + x * h_lo)) * scale1) * scale2,
                 w - x * (((h + h_lo) * scale1) * scale2))  # fmt: skip
    y = xp.where(x == 0, w, y)  # ±0 keep their sign
    if not derivative:
        return y, None
    # f′(−t) = m·(Q − t/√(2π))·2ⁿ; f′(t) = 1 − f′(−t)
    tc, tc_lo = _dd.two_prod(t, _INV_SQRT_2PI_DD[0], _INV_SQRT_2PI_SPLIT)
    tc_lo = tc_lo + t * _INV_SQRT_2PI_DD[1]
    d, d_lo = _dd.two_sum(q, -tc)
    d_lo = d_lo + (q_lo - tc_lo)
    g, g_lo = _dd.two_prod(m, d)
    left = ((g + (g_lo + (m * d_lo + m_lo * d))) * scale1) * scale2
    return y, xp.where(x == 0, 0.5, xp.where(negative, left, 1.0 - left))


def gaussian(xp: ArrayOps, x: Any) -> tuple[Any, Any, Any]:
    """``(Φ_m, φ_m, k)`` for finite float64 x with |x| ≤ 40: Φ(x) = Φ_m·2⁻ᵏ, φ(x) = φ_m·2⁻ᵏ,
    each within ~1 ulp (k = −n for x ≤ 0, so that a product with them rounds into the subnormal
    range once; k = 0 above, where Φ(x) = 1 − Φ(−x)). k is a float64 tensor."""
    t = xp.abs(x)
    q, q_lo, m, m_lo, n = _normal_tail(xp, t)
    h, h_lo = _dd.two_prod(m, q)
    cdf_m = h + (h_lo + (m * q_lo + m_lo * q))
    c, c_lo = _dd.two_prod(m, _INV_SQRT_2PI_DD[0], _INV_SQRT_2PI_SPLIT)
    pdf_m = c + (c_lo + (m * _INV_SQRT_2PI_DD[1] + m_lo * _INV_SQRT_2PI_DD[0]))
    scale1, scale2 = _scales(xp, n)
    negative = x <= 0
    cdf = xp.where(negative, cdf_m, 1.0 - (cdf_m * scale1) * scale2)
    pdf = xp.where(negative, pdf_m, (pdf_m * scale1) * scale2)
    return cdf, pdf, xp.where(negative, -n, 0.0)
