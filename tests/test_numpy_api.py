"""The NumPy API against independent references: mpmath (values, ulp), finite differences (f'),
the kink rule exactly, special values, dtype and ``out=`` conventions, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from cases import BUILT_FOR, CASE_IDS, CASES, ULPS, call, default_case
from helpers import numpy_worst_ulps
from hypothesis import given
from hypothesis import strategies as st

import relukit
from relukit._numpy_api import compute_dtype

FLOATS = (np.float16, np.float32, np.float64)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("which", ["value", "derivative"])
@pytest.mark.parametrize("index", range(len(CASES)), ids=CASE_IDS)
def test_within_ulps_of_mpmath(index, which, dtype):
    worst, at = numpy_worst_ulps(index, dtype, which)
    assert worst <= ULPS[np.dtype(dtype).name], f"{worst:.2f} ulp at x = {at!r}"


def test_every_catalog_entry_has_cases():
    assert {a.name for a in relukit.catalog} == BUILT_FOR
    assert {c.name for c in CASES} == BUILT_FOR


def test_every_catalog_entry_has_a_numpy_function():
    for activation in relukit.catalog:
        fn = getattr(relukit, activation.name)
        assert fn.activation is activation
        assert activation.formula in fn.__doc__


# --- the seed's examples, verbatim -----------------------------------------------------------


def test_seed_example():
    np.testing.assert_array_equal(
        relukit.relu(np.array([-3, -0.7, 0, 1.2, 5])), np.array([0, 0, 0, 1.2, 5])
    )


def test_seed_print(capsys):
    print(relukit.relu(np.array([-3, -0.5, 0, 1, 2])))
    assert capsys.readouterr().out == "[0. 0. 0. 1. 2.]\n"


# --- special values and the kink rule, exactly ---------------------------------------------


def _same(got, expected) -> bool:
    return bool(np.isnan(got)) if np.isnan(expected) else bool(got == expected)


@pytest.mark.parametrize("dtype", FLOATS, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_special_values(case, dtype):
    xs = np.array([s[0] for s in case.specials], dtype=dtype)
    f = case.numpy_fn()
    value, deriv = call(case, f, xs), call(case, f.derivative, xs)
    cdtype = compute_dtype(case.activation, np.dtype(dtype)).type
    for (x, fx, dfx), got_f, got_d in zip(case.specials, value, deriv, strict=True):
        # A slope or alpha appears rounded to the compute dtype, then to the result's dtype.
        assert _same(got_f, dtype(cdtype(fx))), f"f({x}) = {got_f}, expected {fx}"
        assert _same(got_d, dtype(cdtype(dfx))), f"f'({x}) = {got_d}, expected {dfx}"


@pytest.mark.parametrize("case", [c for c in CASES if c.kinks], ids=lambda c: c.id)
def test_kink_rule_exact(case):
    f = case.numpy_fn()
    for x, d in case.kink_points:
        assert call(case, f.derivative, np.float64(x)) == d, x
        g = call(case, f.backward, np.array([3.0]), np.array([x]))
        g = g[0] if isinstance(g, tuple) else g
        assert g[0] == 3.0 * d, x


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_nan_propagates_through_backward(case):
    g = call(case, case.numpy_fn().backward, np.ones(3), np.array([1.0, np.nan, -1.0]))
    g = g[0] if isinstance(g, tuple) else g
    assert np.isnan(g[1]) and np.isfinite(g[[0, 2]]).all()
    g0 = call(case, case.numpy_fn().backward, 1.0, np.nan)  # 0-d too
    assert np.isnan(g0[0] if isinstance(g0, tuple) else g0)


# --- derivatives against central finite differences in float64 ----------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_derivative_matches_finite_differences(case):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 3, 400), rng.uniform(-40, 40, 100)])
    x = x[np.abs(x) > 1e-3]  # away from the kink
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    f = case.numpy_fn()
    fd = (call(case, f, x + h) - call(case, f, x - h)) / (2 * h)
    np.testing.assert_allclose(call(case, f.derivative, x), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_backward_is_grad_times_derivative(case):
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(2, 257))
    f = case.numpy_fn()
    got = call(case, f.backward, g, x)
    got = got[0] if isinstance(got, tuple) else got
    np.testing.assert_array_equal(got, g * call(case, f.derivative, x))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_textbook_formula_agrees_in_the_bulk(case):
    # The benchmarks' baselines compute the same function where they are accurate.
    x = np.linspace(-3, 3, 601)
    np.testing.assert_allclose(
        call(case, case.numpy_fn(), x), case.textbook(x, **case.params), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        call(case, case.numpy_fn().derivative, x[x != 0]),
        case.textbook_derivative(x[x != 0], **case.params),
        rtol=1e-12,
        atol=1e-15,
    )


def test_gelu_tanh_gap_is_as_documented():
    from relukit._catalog._gelu import TANH_MAX_ABS_ERROR, TANH_MAX_ERROR_AT

    x = np.linspace(-6, 6, 120001)
    gap = np.abs(relukit.gelu(x) - relukit.gelu(x, approximate="tanh"))
    assert gap.max() == pytest.approx(TANH_MAX_ABS_ERROR, rel=0.01)
    assert x[np.argmax(gap)] == pytest.approx(TANH_MAX_ERROR_AT, abs=0.01)


# --- PReLU: weights along an axis, and its weight gradient ---------------------------------


def test_prelu_per_channel_equals_leaky_per_channel():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3, 5))
    w = np.array([0.25, -0.1, 2.0])
    y = relukit.prelu(x, w)
    for c in range(3):
        np.testing.assert_array_equal(y[:, c], relukit.leaky_relu(x[:, c], w[c]))
    y_last = relukit.prelu(np.moveaxis(x, 1, -1), w, axis=-1)
    np.testing.assert_array_equal(np.moveaxis(y_last, -1, 1), y)


def test_prelu_weight_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    x, g = rng.normal(size=(2, 6, 3, 4))
    w = np.array([0.25, -0.1, 2.0])
    _, gw = relukit.prelu.backward(g, x, w)
    assert gw.shape == w.shape
    for c in range(3):
        e = np.zeros(3)
        e[c] = 1e-6
        fd = (np.sum(g * relukit.prelu(x, w + e)) - np.sum(g * relukit.prelu(x, w - e))) / 2e-6
        assert gw[c] == pytest.approx(fd, rel=1e-7)
    _, gw_s = relukit.prelu.backward(g, x, 0.25)
    assert np.ndim(gw_s) == 0
    assert gw_s == pytest.approx(np.sum(g * np.minimum(x, 0)))


def test_prelu_bad_weight():
    x = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match=r"weight has 4 slopes but x has 3 channels"):
        relukit.prelu(x, np.ones(4))
    with pytest.raises(ValueError, match="weight must be a scalar or 1-D"):
        relukit.prelu(x, np.ones((3, 1)))
    with pytest.raises(ValueError, match="axis 1 is out of range"):
        relukit.prelu(np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match="weight must hold real numbers"):
        relukit.prelu(x, "a")


# --- NumPy conventions ------------------------------------------------------------------------


@pytest.mark.parametrize("activation", relukit.catalog, ids=lambda a: a.name)
def test_dtypes(activation):
    f = default_case(activation.name)
    fn = f.numpy_fn()
    for dtype in FLOATS:
        assert call(f, fn, np.ones(3, dtype)).dtype == dtype
        assert call(f, fn.derivative, np.ones(3, dtype)).dtype == dtype
    for dtype in (np.int8, np.int64, np.uint16, np.bool_):
        x = np.array([-1, 0, 1]).astype(dtype)
        expected = dtype if activation.name == "relu" else np.float64
        assert call(f, fn, x).dtype == expected
        np.testing.assert_array_equal(call(f, fn, x), call(f, fn, x.astype(np.float64)))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_scalars_zero_d_empty_and_strided(case):
    fn = case.numpy_fn()
    scalar = call(case, fn, -0.5)
    assert isinstance(scalar, np.floating) and np.ndim(scalar) == 0
    assert call(case, fn, np.float32(-0.5)).dtype == np.float32
    assert call(case, fn, np.empty((0, 3))).shape == (0, 3)
    x = np.random.default_rng(4).normal(size=(6, 8))
    np.testing.assert_array_equal(call(case, fn, x[::2, ::3]), call(case, fn, x)[::2, ::3])
    np.testing.assert_array_equal(call(case, fn, x.T), call(case, fn, x).T)
    assert call(case, fn, [[-1.0, 2.0]]).shape == (1, 2)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("size", [7, 100_000])  # small, and above the blocked-evaluation size
def test_out_and_no_mutation(case, size):
    fn = case.numpy_fn()
    for dtype in (np.float32, np.float64):
        x = np.random.default_rng(5).normal(0, 4, size).astype(dtype)
        before = x.copy()
        expected = call(case, fn, x)
        np.testing.assert_array_equal(x, before)  # never changes the caller's data
        buf = np.empty_like(x)
        assert call(case, fn, x, out=buf) is buf
        np.testing.assert_array_equal(buf, expected)
        assert call(case, fn, x, out=x) is x  # in place when asked
        np.testing.assert_array_equal(x, expected)
        d = np.empty_like(before)
        np.testing.assert_array_equal(
            call(case, fn.derivative, before, out=d), call(case, fn.derivative, before)
        )


def test_out_errors():
    x = np.ones(3)
    with pytest.raises(ValueError, match=r"out must have shape \(3,\)"):
        relukit.relu(x, out=np.empty(4))
    with pytest.raises(TypeError, match="out must have dtype float64"):
        relukit.elu(x, out=np.empty(3, np.float32))
    with pytest.raises(TypeError, match=r"out must be a numpy\.ndarray"):
        relukit.gelu(x, out=[0, 0, 0])


@pytest.mark.parametrize(
    "bad",
    [
        np.array([1 + 2j]),
        np.array(["a"]),
        np.array([object()]),
        "abc",
        np.array(["2020-01-01"], dtype="datetime64[D]"),
    ],
)
@pytest.mark.parametrize("activation", relukit.catalog, ids=lambda a: a.name)
def test_refuses_non_real_arrays(activation, bad):
    case = default_case(activation.name)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        call(case, case.numpy_fn(), bad)


def test_parameter_errors_name_the_argument():
    x = np.ones(2)
    with pytest.raises(ValueError, match="approximate must be one of 'none', 'tanh'; got 'erf'"):
        relukit.gelu(x, approximate="erf")
    for bad in (math.inf, math.nan):
        with pytest.raises(ValueError, match="negative_slope must be a finite real"):
            relukit.leaky_relu(x, negative_slope=bad)
        with pytest.raises(ValueError, match="alpha must be a finite real"):
            relukit.elu(x, alpha=bad)
    for bad in (1j, "0.1", True, None, np.array([0.1, 0.2])):
        with pytest.raises(TypeError, match="negative_slope must be a finite real"):
            relukit.leaky_relu(x, bad)
    with pytest.raises(TypeError, match="unexpected parameter"):
        relukit.relu(x, alpha=1.0)
    with pytest.raises(TypeError, match="at most 2 positional"):
        relukit.elu(x, 1.0, 2.0)
    with pytest.raises(ValueError, match=r"grad_output must have the shape of x"):
        relukit.relu.backward(np.ones(3), x)


def test_get_and_catalog():
    assert relukit.get("gelu") is next(a for a in relukit.catalog if a.name == "gelu")
    assert relukit.get(relukit.catalog[0]) is relukit.catalog[0]
    with pytest.raises(KeyError, match="unknown activation 'swish'; known: relu, leaky_relu"):
        relukit.get("swish")


@pytest.mark.slow  # a subprocess
def test_import_relukit_imports_no_framework():
    import subprocess
    import sys

    code = (
        "import sys, relukit; relukit.gelu(1.0); "
        "print(sorted(m for m in ('torch', 'keras', 'jax', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- properties ---------------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@given(x=st.floats(1e-300, 1e300))
def test_identity_for_positive_inputs(case, x):
    # Every member is the identity on large x; the smooth ones only once Φ(x) or σ(x) rounds to 1.
    if x < case.identity_above:
        return
    assert call(case, case.numpy_fn(), x) == x


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@given(x=finite, h=st.floats(1e-9, 1e-4))
def test_continuity(case, x, h):
    f = case.numpy_fn()
    lip = case.lipschitz or max(
        [1.0, *(abs(v) for v in case.params.values() if isinstance(v, float))]
    )
    lip *= 1.2
    assert abs(call(case, f, x + h) - call(case, f, x)) <= lip * h * (1 + 1e-9) + 1e-12


@pytest.mark.parametrize("case", [c for c in CASES if c.monotone], ids=lambda c: c.id)
@given(a=finite, b=finite)
def test_monotone(case, a, b):
    f = case.numpy_fn()
    lo, hi = min(a, b), max(a, b)
    assert call(case, f, lo) <= call(case, f, hi)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.lower_bound is not None], ids=lambda c: c.id
)
@given(x=st.floats(-1e300, 1e300))
def test_bounded_below(case, x):
    assert call(case, case.numpy_fn(), x) >= case.lower_bound
