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

float64 input (``JAX_ENABLE_X64``) has one core, exact GELU's (``_gelu_float64``): ``_gelu64``'s,
which tensorflow runs too (the generic composition took Φ from XLA's float64 ``erfc``, 125 ulp
off at x ≈ −19; ``_gelu64`` has the method and the measurements).

A core maps x (float64, finite or not) to ``(value, derivative)`` in float64 (the derivative
``None`` when ``derivative=False``); NaN gives NaN in both, ±inf its limits. Everything else
returns ``None`` from ``get`` and runs the generic composition.
``tests/test_keras_jax_fast.py`` checks these against mpmath and the generic path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import _gelu64

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


def _gelu_float64(w: Any, derivative: bool = True) -> tuple[Any, Any]:
    """Exact GELU and its derivative for float64 x: ``_gelu64.gelu`` on jax.numpy."""
    return _gelu64.gelu(_gelu64.array_ops("jax"), w, derivative)
