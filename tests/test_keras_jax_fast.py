"""relukit.keras's jax fast paths (``relukit/keras/_jax_fast.py``): float64 cores for float32
inputs, on exp and a polynomial instead of XLA's slow float64 erfc/expm1, and float64 exact GELU's
core for float64 inputs (``relukit/keras/_gelu64.py``, which tensorflow runs too), on exp, a
polynomial and double-double products instead of XLA's float64 erfc (8-240 ulp off).

The polynomials (erfcx, and the Mills ratio of the float64 core) are regenerated here from their
definitions and measured against mpmath; each float32 core's float64 value and derivative,
rounded once to float32, lie within the contract's 1 ulp of mpmath on a dense grid, in the
tails and next to the formula's switch points, and the float64 core within 2 ulp (the contract
allows 4) on a dense grid of [−40, 10]; the special values (NaN, ±inf, the sign of zero, the
kink) are the NumPy reference's. The end-to-end runs (jax with and without JAX_ENABLE_X64) are
tests/test_keras.py's, through tests/test_keras_backends.py; the cores need jax (not Keras' jax
backend) and run anywhere.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from cases import CASES, ULPS, default_case

import relukit

pytest.importorskip("keras")
from relukit.keras import _gelu64, _jax_fast


def _chebyshev_monomials(f, n: int, lo=-1, hi=1) -> list:
    """Monomial coefficients in u (mpmath values, lowest first) of f's interpolant at the n
    Chebyshev nodes of u ∈ [lo, hi]: the derivation _jax_fast._ERFCX and _gelu64._MILLS state.
    Call within ``mp.workdps``."""
    lo, hi = mp.mpf(lo), mp.mpf(hi)
    angles = [mp.pi * (i + mp.mpf(1) / 2) / n for i in range(n)]
    values = [f((lo + hi) / 2 + (hi - lo) / 2 * mp.cos(a)) for a in angles]
    cheb = [2 * mp.fsum(v * mp.cos(j * a) for v, a in zip(values, angles, strict=True)) / n
            for j in range(n)]  # fmt: skip
    cheb[0] /= 2
    powers = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]  # T_j(s) in powers of s
    for _ in range(2, n):
        t = [mp.mpf(0)] + [2 * v for v in powers[-1]]
        for i, v in enumerate(powers[-2]):
            t[i] -= v
        powers.append(t)
    in_s = [mp.fsum(cheb[j] * powers[j][i] for j in range(i, n)) for i in range(n)]
    a, b = 2 / (hi - lo), -(hi + lo) / (hi - lo)  # s = a·u + b maps [lo, hi] onto [−1, 1]
    return [mp.fsum(in_s[i] * mp.binomial(i, j) * a**j * b ** (i - j) for i in range(j, n))
            for j in range(n)]  # fmt: skip


def _chebyshev_erfcx_coefficients(k: float, degree: int) -> list[float]:
    """erfcx(z)·(k + z) interpolated at Chebyshev nodes in u = (z − k)/(z + k), as monomial
    coefficients of u (the derivation _jax_fast._ERFCX states)."""
    with mp.workdps(50):
        k = mp.mpf(k)

        def f(u):
            z = k * (1 + u) / (1 - u)
            return mp.exp(z * z) * mp.erfc(z) * (k + z)

        return [float(v) for v in _chebyshev_monomials(f, degree + 1)]


def test_erfcx_polynomial_is_the_stated_interpolant_and_accurate():
    coefficients = _chebyshev_erfcx_coefficients(_jax_fast._ERFCX_K, len(_jax_fast._ERFCX) - 1)
    np.testing.assert_allclose(_jax_fast._ERFCX, coefficients, rtol=1e-13, atol=1e-20)
    z = np.unique(np.concatenate([np.linspace(0, 12, 1201), np.logspace(-12, 4, 400), [0.0]]))
    got = _jax_fast._erfcx(z)  # arithmetic only: NumPy arrays in, float64 out
    with mp.workdps(30):
        ref = np.array([float(mp.exp(mp.mpf(v) ** 2) * mp.erfc(mp.mpf(v))) for v in z])
    assert np.max(np.abs(got / ref - 1)) < 2e-11


def _float32_points() -> np.ndarray:
    tiny = 2.0**-25 * np.array([0.25, 0.999, 1.0, 1.001, 4.0])
    x = np.concatenate(
        [np.linspace(-14, 14, 4001), -np.logspace(-30, 1.5, 300), np.logspace(-30, 1.5, 300),
         -tiny, tiny, np.linspace(-87, -15, 73), [-0.75179, -0.7518, 1e-30]]
    )  # fmt: skip
    return np.unique(x.astype(np.float32))


CORES = [("gelu", {"approximate": "none"}), ("gelu", {"approximate": "tanh"})]
CORES += [("elu", {"alpha": a}) for a in (1.0, 0.5, 2.0, -0.5)]


def _run(name, params, x, dtype="float32"):
    """The core's (value, derivative) on x, rounded to ``dtype`` (the core computes in float64)."""
    jax = pytest.importorskip("jax")
    t = np.dtype(dtype).type
    core = _jax_fast.get(name, {k: float(t(v)) if isinstance(v, float) else v
                                for k, v in params.items()}, dtype)  # fmt: skip
    with jax.enable_x64(True):
        w = jax.numpy.asarray(np.asarray(x, np.float64))
        # Compiled, as _functions runs it: XLA rewrites some float arithmetic (it folds (c + s) − c
        # into s, and contracts a·b + c into one fused multiply-add where the product has one
        # use), and eager jax would not show it. The value alone (another fusion) may differ by
        # such a contraction: within 2 ulp of the result's dtype.
        jitted = jax.jit(core, static_argnames="derivative")
        y, d = (np.asarray(v).astype(dtype) for v in jitted(w))
        y_only, none = jitted(w, derivative=False)
        assert none is None
        info = np.finfo(dtype)
        np.testing.assert_allclose(np.asarray(y_only).astype(dtype), y, rtol=2 * info.eps,
                                   atol=info.smallest_subnormal)  # fmt: skip
        return y, d


@pytest.mark.parametrize(("name", "params"), CORES, ids=lambda v: str(v))
def test_cores_are_within_one_float32_ulp_of_mpmath(name, params):
    case = next((c for c in CASES if c.name == name and c.params == params), None)
    if case is None:
        pytest.skip(f"no case {name}{params}")
    x = _float32_points()
    y, d = _run(name, params, x)
    p32 = {k: float(np.float32(v)) if isinstance(v, float) else v for k, v in params.items()}
    worst = [0.0, 0.0]
    for i, v in enumerate(x.astype(np.float64)):
        with mp.workdps(30):
            t = mp.mpf(v)
            for which, (got, ref_fn) in enumerate(((y[i], case.value), (d[i], case.derivative))):
                ref = ref_fn(t, **p32)
                scale = abs(ref)
                if which and case.derivative_scale is not None:
                    scale = max(scale, abs(case.derivative_scale(t, **p32)))
                if scale < np.finfo(np.float32).tiny:  # subnormal results: the platform flushes
                    continue
                spacing = float(np.spacing(np.float32(float(scale))))
                worst[which] = max(worst[which], abs(float(got) - float(ref)) / spacing)
    assert worst[0] <= ULPS["float32"], worst
    assert worst[1] <= ULPS["float32"], worst


@pytest.mark.parametrize(("name", "params"), CORES, ids=lambda v: str(v))
def test_cores_special_values_are_the_references(name, params):
    """NaN, ±inf and ±0 (the kink): values and derivatives bit for bit the NumPy reference's,
    the sign of a zero value included, so the fast path and the generic composition agree."""
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], np.float32)
    y, d = _run(name, params, x)
    fn = getattr(relukit, name)
    for got, want in ((y, np.asarray(fn(x, **params))), (d, fn.derivative(x, **params))):
        want = np.asarray(want, np.float32)
        np.testing.assert_array_equal(got, want)  # NaN where NaN
    zeros = np.asarray(fn(x, **params)) == 0
    np.testing.assert_array_equal(
        np.signbit(y[zeros]), np.signbit(np.asarray(fn(x, **params))[zeros])
    )


def test_cores_exist_for_float32_smooth_entries_and_float64_exact_gelu_only():
    assert _jax_fast.get("gelu", default_case("gelu").params, "float32") is not None
    assert _jax_fast.get("gelu", {"approximate": "tanh"}, "float32") is not None
    assert _jax_fast.get("elu", {"alpha": 1.0}, "float32") is not None
    assert _jax_fast.get("relu", {}, "float32") is None
    assert _jax_fast.get("gelu", default_case("gelu").params, "float64") is not None
    assert _jax_fast.get("gelu", {"approximate": "tanh"}, "float64") is None
    assert _jax_fast.get("elu", {"alpha": 1.0}, "float64") is None
    assert _jax_fast.get("relu", {}, "float64") is None


# --- float64 exact GELU ------------------------------------------------------------------------


def _mills_coefficients(k: float, degree: int, t_max: float) -> list:
    """F(t) = Φ(−t)·e^(t²/2)·(t + √(2/π)) interpolated at Chebyshev nodes of u = (t − k)/(t + k)
    on t ∈ [0, t_max], as monomial coefficients of u (mpmath values: the derivation
    _gelu64._MILLS states)."""
    with mp.workdps(50):
        k, c = mp.mpf(k), mp.sqrt(2 / mp.pi)

        def f(u):
            t = k * (1 + u) / (1 - u)
            return mp.ncdf(-t) * mp.exp(t * t / 2) * (t + c)

        return _chebyshev_monomials(f, degree + 1, -1, (t_max - k) / (t_max + k))


def test_mills_polynomial_is_the_stated_interpolant_and_accurate():
    mills = _gelu64._MILLS
    coefficients = _mills_coefficients(_gelu64._MILLS_K, len(mills) - 1, 40.0)
    np.testing.assert_allclose(mills, [float(v) for v in coefficients], rtol=1e-13, atol=1e-20)
    with mp.workdps(50):
        assert float(coefficients[0] - mp.mpf(mills[0])) == _gelu64._MILLS_A0_LO
        for name in ("_SQRT_2_OVER_PI", "_INV_SQRT_2PI_DD"):
            hi, lo = getattr(_gelu64, name)
            exact = mp.sqrt(2 / mp.pi) if name == "_SQRT_2_OVER_PI" else 1 / mp.sqrt(2 * mp.pi)
            assert (hi, lo) == (float(exact), float(exact - mp.mpf(float(exact))))
        assert float(mp.log(2) - mp.mpf(_gelu64._LN2_HI)) == _gelu64._LN2_LO
        assert float(mp.mpf(_gelu64._LN2_HI) * 2**33) % 1 == 0  # 33 bits: n·_LN2_HI exact
        # the polynomial (its stored coefficients, exact arithmetic) against F
        k, worst = _gelu64._MILLS_K, mp.mpf(0)
        for t in [*np.linspace(0, 40, 161), *np.logspace(-8, 0, 17)]:
            t = mp.mpf(float(t))
            u = (t - k) / (t + k)
            p = mp.fsum(mp.mpf(a) * u**j for j, a in enumerate(mills)) + _gelu64._MILLS_A0_LO
            f = mp.ncdf(-t) * mp.exp(t * t / 2) * (t + mp.sqrt(2 / mp.pi))
            worst = max(worst, abs(p - f))
    assert worst < 1e-17  # F ≥ 0.399: 2.5e-17 relative, a fifth of float64's half-ulp


def _float64_points() -> np.ndarray:
    rng = np.random.default_rng(12)
    x = np.concatenate(
        [rng.uniform(-40, -3, 1500), rng.uniform(-3, 3, 600), rng.uniform(3, 10, 100),
         np.linspace(-40, 10, 501), -np.logspace(-300, 0, 40), np.logspace(-300, 0, 40),
         [-4.0, 4.0, -np.nextafter(4.0, 0), np.nextafter(4.0, 0), -0.7517915241, 40.0, -40.0]]
    )  # fmt: skip
    return np.unique(x)


def test_float64_gelu_core_within_two_ulp_of_mpmath():
    """Value and derivative on a dense grid of [−40, 10] (the left tail down to where GELU
    underflows, the polynomial's switch at |x| = 4, tiny |x|): measured 1.17 and 1.05 ulp (the
    derivative in units of its terms where it crosses zero), relative to max(|f|, 1e-300) as
    benchmarks/keras_ulp_report.py measures; subnormal results are flushed on XLA's CPU."""
    case = default_case("gelu")
    x = _float64_points()
    y, d = _run("gelu", case.params, x, "float64")
    worst = {"value": (0.0, 0.0), "derivative": (0.0, 0.0)}
    tiny = float(np.finfo(np.float64).tiny)
    with mp.workdps(30):
        for i, v in enumerate(x):
            t = mp.mpf(float(v))
            for which, got, ref, scale in (
                ("value", y[i], case.value(t), abs(case.value(t))),
                ("derivative", d[i], case.derivative(t), case.derivative_scale(t)),
            ):
                if scale < tiny:  # XLA's CPU runtime flushes subnormal intermediates
                    continue
                spacing = float(np.spacing(max(float(scale), 1e-300)))
                error = float(abs(mp.mpf(float(got)) - ref)) / spacing
                if error > worst[which][0]:
                    worst[which] = (error, float(v))
    assert worst["value"][0] <= 2.0, worst
    assert worst["derivative"][0] <= 2.0, worst


def test_float64_gelu_core_special_values():
    """NaN, ±inf and ±0: bit for bit the NumPy reference's (float64), the sign of zero too."""
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -1e300, 39.0, -39.0])
    y, d = _run("gelu", {"approximate": "none"}, x, "float64")
    want, want_d = relukit.gelu(x), relukit.gelu.derivative(x)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(d, want_d)
    zeros = want == 0
    np.testing.assert_array_equal(np.signbit(y[zeros]), np.signbit(want[zeros]))
