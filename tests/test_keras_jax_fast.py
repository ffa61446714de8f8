"""relukit.keras's jax fast paths (``relukit/keras/_jax_fast.py``): float64 cores for float32
inputs, on exp and a polynomial instead of XLA's slow float64 erfc/expm1.

The polynomial for erfcx is regenerated here from its definition and measured against mpmath;
each core's float64 value and derivative, rounded once to float32, lie within the contract's
1 ulp of mpmath on a dense grid, in the tails and next to the formula's switch points, with the
special values (NaN, ±inf, the sign of zero, the kink) of the NumPy reference. The end-to-end
runs (jax with and without JAX_ENABLE_X64) are tests/test_keras.py's, through
tests/test_keras_backends.py; the cores need jax (not Keras' jax backend) and run anywhere.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from cases import CASES, ULPS, default_case

import relukit

pytest.importorskip("keras")
from relukit.keras import _jax_fast


def _chebyshev_erfcx_coefficients(k: float, degree: int) -> list[float]:
    """erfcx(z)·(k + z) interpolated at Chebyshev nodes in u = (z − k)/(z + k), as monomial
    coefficients of u (the derivation _jax_fast._ERFCX states)."""
    with mp.workdps(50):
        k = mp.mpf(k)
        n = degree + 1
        nodes = [mp.cos(mp.pi * (i + mp.mpf(1) / 2) / n) for i in range(n)]

        def f(u):
            z = k * (1 + u) / (1 - u)
            return mp.exp(z * z) * mp.erfc(z) * (k + z)

        values = [f(u) for u in nodes]
        cheb = [
            2
            * mp.fsum(values[i] * mp.cos(mp.pi * j * (i + mp.mpf(1) / 2) / n) for i in range(n))
            / n
            for j in range(n)
        ]
        cheb[0] /= 2
        powers = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]  # T_j(u) in powers of u
        for _ in range(2, n):
            t = [mp.mpf(0)] + [2 * v for v in powers[-1]]
            for i, v in enumerate(powers[-2]):
                t[i] -= v
            powers.append(t)
        mono = [mp.mpf(0)] * n
        for j in range(n):
            for i, v in enumerate(powers[j]):
                mono[i] += cheb[j] * v
        return [float(v) for v in mono]


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


def _run(name, params, x):
    jax = pytest.importorskip("jax")
    core = _jax_fast.get(name, {k: float(np.float32(v)) if isinstance(v, float) else v
                                for k, v in params.items()})  # fmt: skip
    with jax.enable_x64(True):
        w = jax.numpy.asarray(np.asarray(x, np.float64))
        y, d = core(w)
        y_only, none = core(w, derivative=False)
        assert none is None
        np.testing.assert_array_equal(np.asarray(y_only), np.asarray(y))
        return np.asarray(y).astype(np.float32), np.asarray(d).astype(np.float32)


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


def test_cores_exist_for_float32_smooth_entries_only():
    assert _jax_fast.get("gelu", default_case("gelu").params) is not None
    assert _jax_fast.get("gelu", {"approximate": "tanh"}) is not None
    assert _jax_fast.get("elu", {"alpha": 1.0}) is not None
    assert _jax_fast.get("relu", {}) is None
