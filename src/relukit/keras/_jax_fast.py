"""jax fast paths: float64 cores for float32 inputs, and for float64 exact GELU.

``_functions._jax_custom`` computes the smooth entries' float32 (and half) inputs in float64,
inside a ``jax.enable_x64`` scope when jax runs without ``JAX_ENABLE_X64``. The catalog's
generic composition is exact there but slow on XLA's CPU backend, whose float64 special
functions cost far more than their float32 ones: on 1e6 elements, one thread, ``erfc`` took
6.7 ms (float32: 1.0), ``expm1`` 1.6 (1.0), where ``exp`` took 0.9 (0.45). The entries here need
only float32's accuracy from their float64 arithmetic (one rounding at the end), so they are
written with ``exp`` and a polynomial, and XLA fuses each into one loop:

- ELU: e = exp(min(x, 0)); the value is x for x > 0, α·(e − 1) below, α·x·(1 + x/2) for the
  tiny negatives (|x| < 2⁻²⁵, where e − 1 would have cancelled); the derivative 1 or α·e.
- GELU (exact): Φ(x) = ½·e^(−x²/2)·erfcx(|x|/√2) for x ≤ 0, 1 − that above, with ``_erfcx``
  below (relative error under 2e-11) and e^(−x²/2) exact to float64 (x² is exact for a float32
  x); the value x·Φ(x), the derivative Φ(x) + x·φ(x), φ = e^(−x²/2)/√(2π), each accurate to
  ~1e-11 relative to its terms (the contract's cancellation-aware measure near f′'s zero).
- GELU (tanh): x·σ(2u) from one exp (``_gelu_tanh``), as ``_tf_fast`` computes it with
  TensorFlow's float64 sigmoid; the catalog's double-double argument is for float64 results.

float64 input (``JAX_ENABLE_X64``) has one core, exact GELU's (``_gelu_float64``): the generic
composition took Φ from XLA's float64 ``erfc``, which is not float64-accurate (measured against
mpmath: 8 ulp at 0.84, 30 near 7, 120 beyond 11, 240 beyond 16, doubling where z² crosses a power
of 2: it rounds z² inside e^(−z²)), so exact GELU was 125 ulp off at x ≈ −19 and 17 at x ≈ −6 (and
its Mills-ratio series below −20, 4.6 ulp, f′ 4.1). The core needs no ``erfc``: with t = |x|,
Φ(−t) = e^(−t²/2)·Q(t), Q(t) = Φ(−t)·e^(t²/2) the Mills ratio over √(2π), and

- Q(t) = F(u)/(t + c), c = √(2/π), u = (t − 4)/(t + 4): F = Q·(t + c) lies in [0.399, 0.47] on
  [0, ∞) and is a polynomial of degree 24 in u (``_MILLS``, Chebyshev interpolant on t ∈ [0, 40],
  4e-18 off); the division is corrected to double-double (Dekker's exact product), and so is
  t + c (c's double-double constant);
- e^(−t²/2) = (m + m_lo)·2ⁿ from its exact argument (t² = p + e, two-product): n = round(a/ln 2),
  r = a − n·ln 2 (Cody–Waite, exact), e^r from its Taylor series (``_exp_neg_half_square``);
  2ⁿ is applied last, as two normal factors, so nothing underflows before the result does;
- value and derivative: x·Φ(x) = x·m·Q·2ⁿ for x ≤ 0 and x − x·Φ(−x) above; f′(x) = Φ(x) + x·φ(x)
  = m·(Q − t/√(2π))·2ⁿ for x ≤ 0 and 1 minus that above (f′(x) + f′(−x) = 1), each product
  exact (two-product) up to one rounding at the end.

Measured against mpmath on 38,000 points of [−40, 10] (the dense tail included): value 1.2 ulp,
derivative 1.05 (in units of its terms where f′ crosses zero); ``tests/test_keras_jax_fast.py``
regenerates ``_MILLS`` and measures the core. Two things XLA does to float arithmetic matter
here. Its algebraic simplifier rewrites (c + s) − c as s for a constant c, so Fast2Sum's error
term would vanish: every sum with a constant goes through ``two_sum(s, c)`` (Knuth's, the
constant second), which it leaves alone. Its CPU code contracts a·b + c into a fused multiply-add
where the product has one use: that only makes such a sum more accurate, and the two-products'
partial products are exact either way (each split's c = 134217729·a has two uses).

A core maps x (float64, finite or not) to ``(value, derivative)`` in float64 (the derivative
``None`` when ``derivative=False``); NaN gives NaN in both, ±inf its limits. Everything else
returns ``None`` from ``get`` and runs the generic composition.
``tests/test_keras_jax_fast.py`` checks these against mpmath and the generic path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._catalog import _dd

Core = Callable[..., tuple[Any, Any]]
_MAKERS: dict[str, Callable[[dict[str, Any], str], Core | None]] = {}


def register(name: str):
    """Register ``maker(params, dtype) -> core | None`` as entry ``name``'s jax fast path."""

    def deco(maker):
        _MAKERS[name] = maker
        return maker

    return deco


def get(name: str, params: dict[str, Any], dtype: str) -> Core | None:
    """The float64 core of entry ``name`` for inputs of ``dtype`` ("float32", which half types
    are computed in, or "float64") and ``params`` rounded to it, or ``None``."""
    maker = _MAKERS.get(name)
    return maker(params, dtype) if maker is not None else None


# erfcx(z) = e^(z²)·erfc(z) for z ≥ 0 is (3 + z)⁻¹·P(u), u = (z − 3)/(z + 3) ∈ [−1, 1), P of
# degree 15: the Chebyshev interpolant of erfcx(z)·(3 + z) in u at 16 nodes (mpmath, 50 digits;
# Schonfelder's variable for erfc expansions), in monomial form (Σ|aₖ| ≈ 3, so Horner loses
# nothing). Relative error under 2e-11 over all z ≥ 0 (tests/test_keras_jax_fast.py regenerates
# and measures it), where float32 needs ~1e-8.
_ERFCX_K = 3.0
_ERFCX = (1.0740069070958356, -0.8833944531669075, 0.5902283561435275, -0.31046726228226057,
          0.11952778157604878, -0.026827226529915222, -0.0012125807627115322,
          0.003033995998518692, -0.0005476527270504485, -0.0002765101183091382,
          0.00010611631357520737, 2.979587753941141e-05, -1.566921641495335e-05,
          -3.967940451207335e-06, 1.5333575806649737e-06, 4.199380454359218e-07)  # fmt: skip


def _erfcx(z: Any) -> Any:
    """erfcx(z) for float64 z ≥ 0 (finite), to ~2e-11 relative."""
    r = 1.0 / (z + _ERFCX_K)
    u = (z - _ERFCX_K) * r
    p = _ERFCX[-1]
    for a in reversed(_ERFCX[:-1]):
        p = p * u + a
    return p * r


_INV_SQRT2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_CLIP = 40.0  # Φ(−40) and φ(40) are 0 in float64: the limits, never inf·0


_TWO_K = 2 * math.sqrt(2 / math.pi)  # 2u = 2√(2/π)(x + 0.044715x³)
_CUBIC = 0.044715


@register("gelu")
def _gelu(params: dict[str, Any], dtype: str) -> Core | None:
    if dtype == "float64":  # the tanh form: the catalog's double-double composition
        return _gelu_float64 if params["approximate"] == "none" else None
    if params["approximate"] == "tanh":
        return _gelu_tanh

    def core(w: Any, derivative: bool = True) -> tuple[Any, Any]:
        import jax.numpy as jnp

        c = jnp.clip(w, -_CLIP, _CLIP)  # NaN stays NaN
        e = jnp.exp(-0.5 * (c * c))  # e^(−x²/2): c² is exact for a float32 c
        q = 0.5 * e * _erfcx(jnp.abs(c) * _INV_SQRT2)  # Φ(−|x|)
        cdf = jnp.where(c > 0, 1.0 - q, q)
        # x·Φ(x), with −40 for −inf (0·(−inf) would be NaN): f(−inf) = −0.
        y = jnp.maximum(w, -_CLIP) * cdf
        return y, (cdf + c * (e * _INV_SQRT_2PI) if derivative else None)

    return core


def _gelu_tanh(w: Any, derivative: bool = True) -> tuple[Any, Any]:
    """x·σ(2u) and its derivative σ(2u)·(1 + x·(1 − σ(2u))·2u'), from one exp: with
    e = e^(−|2u|), σ and 1 − σ are 1/(1 + e) and e/(1 + e) (neither cancels). In float64 the
    argument's rounding (|2u|·2⁻⁵³) is far below float32's resolution of σ."""
    import jax.numpy as jnp

    c = jnp.clip(w, -_CLIP, _CLIP)
    t = _TWO_K * (c + _CUBIC * (c * c * c))
    e = jnp.exp(-jnp.abs(t))
    big = 1.0 / (1.0 + e)
    small = e * big
    s = jnp.where(t >= 0, big, small)  # σ(2u)
    y = jnp.maximum(w, -_CLIP) * s
    if not derivative:
        return y, None
    not_s = jnp.where(t >= 0, small, big)  # 1 − σ(2u)
    return y, s * (1.0 + c * not_s * (_TWO_K * (1.0 + (3 * _CUBIC) * (c * c))))


# Below |x| = 2⁻²⁵ float32's rounding of expm1(x) = x·(1 + x/2 + …) is x itself, and of α·expm1(x)
# that of α·x·(1 + x/2); from there on e − 1 (e = exp(x) in float64) is within 2⁻²⁷ relative of
# expm1(x): float64 exp's error (≤ 2.2e-16) over |e − 1| ≥ 2⁻²⁵ (e − 1 is exact for e ≥ 0.5).
_ELU_TINY = 2.0**-25


@register("elu")
def _elu(params: dict[str, Any], dtype: str) -> Core | None:
    if dtype == "float64":  # XLA's float64 expm1 is accurate (keras_ulp.md): the generic path
        return None
    alpha = params["alpha"]

    def core(w: Any, derivative: bool = True) -> tuple[Any, Any]:
        import jax.numpy as jnp

        e = jnp.exp(jnp.minimum(w, 0.0))  # e^x for x ≤ 0, 1 for x > 0, NaN for NaN
        em1 = jnp.where(w > -_ELU_TINY, w * (1.0 + 0.5 * w), e - 1.0)  # −0 stays −0
        # x ≤ 0 (and NaN) take α·expm1(x): the kink's value α·(−0) keeps the sign rule.
        y = jnp.where(w > 0, w, alpha * em1)
        return y, (jnp.where(w > 0, 1.0, alpha * e) if derivative else None)

    return core


# --- float64 exact GELU ------------------------------------------------------------------------

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


def _pow2(n: Any) -> Any:
    """2ⁿ for float64 n holding an integer in [−1022, 1023], from its bits."""
    import jax
    import jax.numpy as jnp

    bits = (n.astype(jnp.int64) + 1023) << 52
    return jax.lax.bitcast_convert_type(bits, jnp.float64)


def _exp_neg_half_square(t: Any) -> tuple[Any, Any, Any]:
    """e^(−t²/2) = (m + m_lo)·2ⁿ for float64 t ≥ 0 (finite, ≤ 40), m + m_lo within 0.35 ulp of
    m's. t² = p + e exactly; a = −p/2 is exact, r = a − n·ln 2 too (Cody–Waite), and −e/2 and
    n·_LN2_LO join r as its low part."""
    import jax.numpy as jnp

    p, e = _dd.two_prod(t, t)
    a = -0.5 * p
    n = jnp.round(a * _INV_LN2)
    r, r_lo = _dd.two_sum(a - n * _LN2_HI, -0.5 * e - n * _LN2_LO)
    s = r + (r * r * _two_horners(_EXP_T, r) + r_lo * (1.0 + r))  # e^(r + r_lo) − 1, r_lo² dropped
    m, m_lo = _dd.two_sum(s, 1.0)
    return m, m_lo, n


def _gelu_float64(w: Any, derivative: bool = True) -> tuple[Any, Any]:
    """Exact GELU and its derivative for float64 x (the module's docstring has the method)."""
    import jax.numpy as jnp

    x = jnp.clip(w, -_CLIP, _CLIP)  # NaN stays NaN; beyond ±40 the limits, never inf·0
    t = jnp.abs(x)
    # Q = Φ(−t)·e^(t²/2) = F(u)/(t + c) as q + q_lo
    r = 1.0 / (t + _MILLS_K)
    # u = 2t/(t + 4) − 1 below 4: near −1 its rounding error is then 2⁻⁵³ absolute, not relative
    # to the two roundings of r (F′(−1)·δu would cost 1 ulp of F there)
    u = jnp.where(t < _MILLS_K, (2.0 * t) * r - 1.0, (t - _MILLS_K) * r)
    big, big_lo = _dd.two_sum(_two_horners(_MILLS[1:], u) * u, _MILLS[0])
    big_lo = big_lo + _MILLS_A0_LO
    s, s_lo = _dd.two_sum(t, _SQRT_2_OVER_PI[0])
    s_lo = s_lo + _SQRT_2_OVER_PI[1]
    inv_s = 1.0 / s
    q = big * inv_s
    qs, qs_lo = _dd.two_prod(q, s)
    q_lo = (((big - qs) - qs_lo) + (big_lo - q * s_lo)) * inv_s  # the residual over t + c
    m, m_lo, n = _exp_neg_half_square(t)
    half = jnp.floor(0.5 * n)
    scale1, scale2 = _pow2(half), _pow2(n - half)  # 2ⁿ in two normal factors (n ≥ −1155)
    # Φ(−t) = (h + h_lo)·2ⁿ
    h, h_lo = _dd.two_prod(m, q)
    h_lo = h_lo + (m * q_lo + m_lo * q)
    negative = x <= 0
    v, v_lo = _dd.two_prod(x, h)
    # x ≤ 0: x·Φ(−t), rounded once, then scaled; x > 0: x − x·Φ(−x) (x·Φ(−x) ≤ x/2), +inf kept
    y = jnp.where(negative, ((v + (v_lo + x * h_lo)) * scale1) * scale2,
                  w - x * (((h + h_lo) * scale1) * scale2))  # fmt: skip
    y = jnp.where(x == 0, w, y)  # ±0 keep their sign
    if not derivative:
        return y, None
    # f′(−t) = m·(Q − t/√(2π))·2ⁿ; f′(t) = 1 − f′(−t)
    tc, tc_lo = _dd.two_prod(t, _INV_SQRT_2PI_DD[0], _INV_SQRT_2PI_SPLIT)
    tc_lo = tc_lo + t * _INV_SQRT_2PI_DD[1]
    d, d_lo = _dd.two_sum(q, -tc)
    d_lo = d_lo + (q_lo - tc_lo)
    g, g_lo = _dd.two_prod(m, d)
    left = ((g + (g_lo + (m * d_lo + m_lo * d))) * scale1) * scale2
    return y, jnp.where(x == 0, 0.5, jnp.where(negative, left, 1.0 - left))
