"""Special functions several activations share, written once against the array namespace.

- ``scaled_sigmoid``: σ(t) and 1 − σ(t) without cancellation or overflow, kept scaled by 2⁻ᵏ so
  a product rounds into the subnormal range once (GELU's tanh form: σ(2u); SiLU: σ(x)).
- ``scaled_cdf``: the *reference tier* of Φ, N(t) = Φ(t)·e^{t²/2} tabulated and Taylor-expanded
  (NumPy; ~1 ulp), which ``relukit._numpy_ns.NumpyNamespace.gaussian`` combines with scaled
  exponentials into Φ and φ within ~3 ulp in float64.
- ``ndtr`` and ``normal_pdf``: the *traceable tier* of Φ and φ (no tables, no data-dependent
  Python), for namespaces that compile or trace (Keras' ``keras.ops``, torch's generic path).
  Both tiers are reached through ``ns.gaussian``; the tests check both against mpmath.
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from typing import Any

import numpy as np

from ._spec import Namespace

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TAYLOR_TERMS = 9  # |h| ≤ 1/128: the 10th term is below 1e-18 relative at every node
# 1/√2 as a double-double (hi, lo).
_INV_SQRT2 = (0.7071067811865476, -4.833646656726457e-17)


def scaled_sigmoid(ns: Namespace, t: Any, t_lo: Any = 0.0) -> tuple[Any, Any, Any]:
    """``(s_m, k, 1 − s)`` with s = σ(t + t_lo) = s_m·2⁻ᵏ, without cancellation or overflow.

    With e = exp(−|t|) ≤ 1, σ(t) and 1 − σ(t) are each e/(1+e) or 1/(1+e). e = m·2⁻ᵏ is kept
    scaled (k > 0 only where e is subnormal, in namespaces that scale) so that callers multiply
    first and round into the subnormal range once, with ``ns.ldexp``. ``t_lo`` is the low part
    of a double-double argument (a plain 0 otherwise).
    """
    positive = t >= 0
    # exp(-|hi + lo|) = exp(-(|hi| + sign(hi)·lo)).
    lo = ns.select(positive, t_lo, -t_lo) if ns.exact and not _is_zero(t_lo) else 0.0
    m, k = ns.exp_neg(ns.abs(t), lo)
    e = ns.ldexp(m, k)
    r = 1.0 / (1.0 + e)
    # Branch-free exact selections, written with the namespace's select (torch and Keras refuse
    # arithmetic on boolean masks).
    s_m = r * ns.select(positive, 1.0, m)
    k_s = k if isinstance(k, int) else ns.select(positive, 0.0, k)
    return s_m, k_s, r * ns.select(positive, e, 1.0)


def _is_zero(v: Any) -> bool:
    return isinstance(v, (int, float)) and v == 0


def ndtr(ns: Namespace, x: Any, erfc: Any) -> Any:
    """Φ(x) = ½·erfc(−x/√2) over the whole real line, traceable (the traceable tier).

    Never ½·(1 + erf(x/√2)), which loses all relative precision below x ≈ −5. For x ≤ −1 the
    argument a = fl(|x|·(1/√2)) carries a rounding error a_lo that erfc amplifies by ~2a²
    (≈ 400 ulp at x = −20); a_lo is known exactly (the namespace's two-product, which rounds
    the constant to the tensor's dtype and keeps the rest, plus the constant's own low part),
    and Φ = ½·erfc(a) − a_lo·e^(−a²)/√π removes it to first order, since d erfc(a)/da =
    −2e^(−a²)/√π. ``erfc`` is the backend's.
    """
    s_hi, s_lo = _INV_SQRT2
    # Clipping keeps the splitter and exp finite; beyond −40, Φ underflows in float64.
    ax = -ns.clip(x, -40.0, -1.0)
    a, a_lo = ns.two_prod(ax, s_hi)
    a_lo = a_lo + ax * s_lo
    corrected = 0.5 * erfc(a) - a_lo * (ns.exp(-(a * a)) * _INV_SQRT_PI)
    # For x > −1 the argument's rounding is not amplified (|d ln erfc/da| ≤ 2 there).
    plain = 0.5 * erfc(x * (-s_hi))
    return ns.select(x <= -1.0, corrected, plain)


def normal_pdf(ns: Namespace, x: Any) -> Any:
    """φ(x) = e^(−x²/2)/√(2π), x² as p + e (two-product): e^(−(p+e)/2) = e^(−p/2)·(1 − e/2).

    x must be finite (the catalog clips before calling).
    """
    p, e = ns.two_prod(x, x)
    return ns.exp(-0.5 * p) * (1.0 - 0.5 * e) * _INV_SQRT_2PI


@functools.cache
def _gaussian_table() -> tuple[int, np.ndarray, np.ndarray]:
    """(nodes per unit, N_hi, N_lo): N(−j/step) as double-double; see make_gaussian_table.py."""
    path = resources.files("relukit") / "_data" / "gaussian_table.json"
    data = json.loads(path.read_text())
    return data["step"], np.array(data["hi"]), np.array(data["lo"])


def scaled_cdf(t: np.ndarray) -> np.ndarray:
    """N(t) = Φ(t)·exp(t²/2) for −40 ≤ t ≤ 0, within ~1 ulp.

    N is entire and slowly varying (N ≈ 1/(|t|√(2π)) in the tail), with N' = t·N + 1/√(2π).
    From the tabulated N at the nearest node t₀ = −j/64 the Taylor coefficients eₙ = N⁽ⁿ⁾(t₀)/n!
    follow by recurrence, e₁ = t₀e₀ + 1/√(2π), eₙ₊₁ = (eₙ₋₁ + t₀eₙ)/(n + 1), and
    N(t) = Σ eₙhⁿ with h = t − t₀ exact and |h| ≤ 1/128.
    """
    step, n_hi, n_lo = _gaussian_table()
    j = np.rint(t * -step)
    idx = j.astype(np.intp)
    t0 = j * (-1.0 / step)
    h = t - t0
    e0 = n_hi.take(idx)
    coeffs = [e0, t0 * e0 + _INV_SQRT_2PI]
    for n in range(1, _TAYLOR_TERMS):
        coeffs.append((coeffs[n - 1] + t0 * coeffs[n]) * (1.0 / (n + 1)))
    acc = coeffs[-1]
    for c in reversed(coeffs[1:-1]):
        acc = acc * h + c
    return e0 + (n_lo.take(idx) + acc * h)
