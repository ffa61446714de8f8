"""relukit.keras: what is Keras-specific, for every catalog entry and case.

Values and gradients against the NumPy reference, the kink rule and specials, Keras' own ops as
oracles, layers (config, saving, mixed precision, integer inputs, weights), symbolic calls and
``activation=``, compiled training, and the model verbs ``discover``/``watch``. Everything is
parametrized over ``relukit.catalog`` and ``tests/cases.py``; the only per-activation data is the
oracle table below.

Runs on the Keras backend named by KERAS_BACKEND (conftest.py defaults it to torch);
``tests/test_keras_backends.py`` reruns this file under jax and tensorflow.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

try:
    import keras
except ImportError as err:  # Keras missing, or the backend KERAS_BACKEND names is not installed
    pytest.skip(f"Keras is not importable: {err}", allow_module_level=True)

from cases import CASE_IDS, CASES, TOLERANCES, ULPS, default_case, sample_points
from helpers import mpmath_reference
from helpers import ulp_error as mp_ulp_error

import relukit
import relukit.keras as rk
from relukit._catalog import Namespace
from relukit.keras import _facts, _ops
from relukit.keras._layers import ActivationLayer

BACKEND = keras.backend.backend()
HALF = ("float16", "bfloat16")
FLOATS = ("float32", "float64", *HALF)
ENTRIES = list(relukit.catalog)
ENTRY_IDS = [a.name for a in ENTRIES]
WEIGHTED = [a for a in ENTRIES if any(p.kind == "weight" for p in a.params)]
DEFAULT_CASES = [default_case(a.name) for a in ENTRIES]

# Keras' torch backend converts tensors with np.array(tensor) (predict, fit, convert_to_numpy);
# NumPy 2 warns because torch's Tensor.__array__ takes no copy= keyword. Not relukit's doing.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

# --- backend-neutral helpers ------------------------------------------------------------------


def to_numpy(t) -> np.ndarray:
    """A backend tensor as NumPy, half types widened to float32 (exactly)."""
    if keras.backend.standardize_dtype(t.dtype) in HALF:
        t = keras.ops.cast(t, "float32")
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.stop_gradient(t)))


def tensor(x, dtype: str):
    return keras.ops.convert_to_tensor(np.asarray(x), dtype=dtype)


def vjp(fn, inputs, upstream):
    """``(fn(*inputs), the gradients of sum(upstream·fn) with respect to each input)``."""
    if BACKEND == "torch":
        import torch

        ts = [t.detach().clone().requires_grad_(True) for t in inputs]
        y = fn(*ts)
        grads = torch.autograd.grad(y, ts, grad_outputs=upstream.to(y.dtype))
        return y.detach(), list(grads)
    if BACKEND == "jax":
        import jax

        y, pull = jax.vjp(fn, *inputs)
        return y, list(pull(keras.ops.cast(upstream, y.dtype)))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for t in inputs:
                tape.watch(t)
            y = fn(*inputs)
        grads = tape.gradient(y, inputs, output_gradients=tf.cast(upstream, y.dtype))
        return y, list(grads)
    pytest.skip(f"no gradients on the {BACKEND} backend")


def value_and_grad(fn, x, upstream=None):
    upstream = keras.ops.ones_like(x) if upstream is None else upstream
    y, (g,) = vjp(fn, [x], upstream)
    return y, g


def rounded(x, dtype: str) -> np.ndarray:
    """x rounded to ``dtype`` and back to a NumPy float array (float32 for half types)."""
    return to_numpy(tensor(np.asarray(x, np.float32 if dtype in HALF else dtype), dtype))


def flushes_subnormals(dtype: str) -> bool:
    """Whether the backend computes in ``dtype`` with subnormals flushed to zero (XLA's CPU
    runtime, as jax and tensorflow use it, sets FTZ/DAZ): a subnormal x then counts as 0."""
    cdtype = rk.compute_dtype(dtype)
    tiny = np.finfo(cdtype).smallest_subnormal
    return not bool(to_numpy(tensor([tiny], cdtype) > 0)[0])


def as_computed(x: np.ndarray, dtype: str) -> np.ndarray:
    """x as the backend sees it in the compute dtype: subnormals are ±0 where it flushes them."""
    if not flushes_subnormals(dtype):
        return x
    tiny = np.finfo(rk.compute_dtype(dtype)).tiny
    return np.where(np.abs(x) < tiny, np.copysign(0.0, x), x).astype(x.dtype)


def reference(case, x: np.ndarray, dtype: str, derivative: bool = False) -> np.ndarray:
    """The NumPy reference on x (already rounded to ``dtype``) in ``dtype`` (bfloat16: float32)."""
    fn = case.numpy_fn()
    fn = fn.derivative if derivative else fn
    xd = as_computed(x.astype(np.float32 if dtype == "bfloat16" else dtype), dtype)
    return np.asarray(fn(xd, **case.params), dtype=np.float64)


def call(case, x):
    return getattr(rk, case.name)(x, **case.params)


def make_layer(case, **kwargs):
    """The layer of ``case``: its values as arguments, a weight as a constant initializer."""
    activation = case.activation
    for k, v in case.params.items():
        if activation.param(k).kind == "weight":
            key = _facts.weight_name(activation, k)
            kwargs[f"{key}_initializer"] = keras.initializers.Constant(v)
        else:
            kwargs[k] = v
    return rk.layer(activation)(**kwargs)


def assert_close(actual, expected, dtype: str, msg: str = ""):
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=msg
    )


def ulp_error(actual, expected, dtype: str, floor: float, scale=None) -> float:
    """max |actual − expected| in ulps of ``scale`` (default: expected), over scale ≥ floor."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    s = np.abs(e) if scale is None else np.asarray(scale, np.float64)
    m = np.isfinite(e) & (s >= floor)
    spacing = np.spacing(s[m].astype(dtype)).astype(np.float64)
    return float(np.max(np.abs(a[m] - e[m]) / spacing, initial=0.0))


@pytest.fixture
def policy(request):
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_dtype_policy("float32")


def skip_dtype(dtype: str):
    if dtype == "float64" and BACKEND == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("jax computes float64 as float32 unless jax_enable_x64 is set")


def same(a, b) -> bool:
    """Equal, or both NaN (the sign of a zero is not part of the contract)."""
    return bool(a == b or (np.isnan(a) and np.isnan(b)))


# --- import hygiene -------------------------------------------------------------------------


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_import_relukit_imports_no_keras():
    r = _python("import sys, relukit; assert 'keras' not in sys.modules, 'keras imported'")
    assert r.returncode == 0, r.stderr


def test_import_without_keras_names_the_extra():
    r = _python("import sys; sys.modules['keras'] = None; import relukit.keras")
    assert r.returncode != 0
    assert 'pip install "relukit[keras]"' in r.stderr


def test_import_with_a_missing_backend_says_so():
    """The backend KERAS_BACKEND names is missing (hidden here): the error says what to do."""
    r = _python("import sys; sys.modules['jax'] = None; import relukit.keras", KERAS_BACKEND="jax")
    assert r.returncode != 0
    assert "KERAS_BACKEND" in r.stderr


def test_public_namespace_is_generated_from_the_catalog():
    names = [a.name for a in ENTRIES] + [a.class_name for a in ENTRIES]
    verbs = ["function", "layer", "discover", "watch", "compute_dtype", "result_dtype"]
    assert set(rk.__all__) == {*names, *verbs, "Unit", "Watch", "DeadUnitCallback"}
    for a in ENTRIES:
        fn, cls = getattr(rk, a.name), getattr(rk, a.class_name)
        assert fn is rk.function(a) is rk.function(a.name)
        assert cls is rk.layer(a) and cls.relukit_activation is a and cls.__name__ == a.class_name
        assert keras.saving.get_registered_object(f"relukit>{a.name}") is fn
        assert keras.saving.get_registered_name(cls) == f"relukit>{a.class_name}"
        weights = [p.name for p in a.params if p.kind == "weight"]
        assert list(inspect.signature(fn).parameters) == [
            "x",
            *(p.name for p in a.params),
            *(["axis"] if weights else []),
        ]


# --- the namespace --------------------------------------------------------------------------


def test_namespace_is_a_catalog_namespace():
    """``_ops`` has every member of ``relukit._catalog.Namespace`` with its parameters."""
    members = [
        n for n in vars(Namespace) if not n.startswith("_") and callable(getattr(Namespace, n))
    ]
    assert _ops.exact is True and members
    for name in members:
        want = list(inspect.signature(getattr(Namespace, name)).parameters.values())[1:]
        got = list(inspect.signature(getattr(_ops, name)).parameters.values())
        assert [(p.name, p.kind) for p in got] == [(p.name, p.kind) for p in want], name


# Φ and φ in ulps against mpmath over x ∈ [−13, 8] (float32) / [−37, 8] (float64), where Φ is
# at least the smallest normal, measured per backend. float32 is the catalog's erfc tier, so the
# backends' own erfc decides the tail: torch's is within ~1 ulp; XLA's float32 erfc (jax) loses
# ~a² ulp (63 ulp at a = 8, more where Φ nears float32's underflow, x < −12); tensorflow's
# float32 likewise below x = −12. (No relukit.keras function computes float32 GELU through it:
# they compute in float64 and round once.) float64 is ``_gelu64``'s on every backend, no erfc
# (jax's float64 erfc put Φ 125 ulp off near −18.7, tensorflow's 7 near −1.9): 0.93 ulp (Φ, at
# x = −22.6) and 0.66 (φ) against mpmath on each, where the allowance was 130 on jax; the bound
# adds the references' rounding to float64 (½ ulp).
GAUSSIAN_ULPS = {
    "torch": {"float32": (2.0, 3.0)},
    "jax": {"float32": (210.0, 3.0)},
    "tensorflow": {"float32": (210.0, 4.0)},
}
GAUSSIAN_FLOAT64_ULPS = (1.5, 1.5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gaussian_accuracy(dtype):
    """The traceable Φ and φ (``_ops.gaussian``) against mpmath, left tail included."""
    skip_dtype(dtype)
    import mpmath

    lo = -13.0 if dtype == "float32" else -37.0
    x = np.linspace(lo, 8.0, 2001).astype(dtype)
    with mpmath.workdps(40):
        cdf = np.array([float(mpmath.ncdf(mpmath.mpf(float(v)))) for v in x])
        pdf = np.array([float(mpmath.npdf(mpmath.mpf(float(v)))) for v in x])
    floor = float(np.finfo(dtype).tiny)
    if dtype == "float64":
        cdf_ulps, pdf_ulps = GAUSSIAN_FLOAT64_ULPS
    else:
        cdf_ulps, pdf_ulps = GAUSSIAN_ULPS.get(BACKEND, GAUSSIAN_ULPS["torch"])[dtype]
    got_cdf, got_pdf, k = _ops.gaussian(tensor(x, dtype))
    # float64 is scaled by 2**-k for x ≤ 0 (k = 0 above); float32 is never scaled
    scale = 1.0 if dtype == "float32" else 2.0 ** -to_numpy(k).astype(np.float64)
    assert dtype != "float32" or k == 0
    assert dtype != "float64" or np.all(to_numpy(k)[x > 0] == 0)
    assert ulp_error(to_numpy(got_cdf) * scale, cdf, dtype, floor) <= cdf_ulps
    assert ulp_error(to_numpy(got_pdf) * scale, pdf, dtype, floor) <= pdf_ulps


def test_namespace_refuses_out():
    with pytest.raises(TypeError, match="out="):
        _ops.add(tensor([1.0], "float32"), 1.0, out=tensor([0.0], "float32"))


def test_maximum_and_minimum_keep_float64():
    skip_dtype("float64")
    x = tensor([-1.5, np.nan, 2.0], "float64")
    for fn in (_ops.maximum, _ops.minimum):
        r = fn(x, 0)
        assert keras.backend.standardize_dtype(r.dtype) == "float64"
        assert np.isnan(to_numpy(r)[1])


# --- values and gradients against the NumPy reference ---------------------------------------


def _points(dtype: str) -> np.ndarray:
    base = sample_points(np.float32 if dtype == "bfloat16" else dtype, n=120)
    return np.unique(rounded(base, dtype))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_values_and_gradients_match_numpy(case, dtype):
    skip_dtype(dtype)
    x = _points(dtype)
    y, g = value_and_grad(lambda t: call(case, t), tensor(x, dtype))
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    assert keras.backend.standardize_dtype(g.dtype) == dtype
    assert_close(to_numpy(y), reference(case, x, dtype), dtype, f"{case.id} value")
    assert_close(to_numpy(g), reference(case, x, dtype, True), dtype, f"{case.id} gradient")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_backward_with_an_upstream_gradient(case, dtype):
    skip_dtype(dtype)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, 500).astype(dtype)
    up = rng.normal(0, 1, 500).astype(dtype)
    _, g = value_and_grad(lambda t: call(case, t), tensor(x, dtype), tensor(up, dtype))
    expected = case.numpy_fn().backward(up, x, **case.params)
    expected = expected[0] if isinstance(expected, tuple) else expected
    assert_close(to_numpy(g), expected, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_special_values_and_kinks_exactly(case, dtype):
    skip_dtype(dtype)
    points = [(x, f, d) for x, f, d in case.specials]
    points += [(k, None, d) for k, d in case.kink_points]
    x = rounded([p[0] for p in points], dtype)
    y, g = value_and_grad(lambda t: call(case, t), tensor(x, dtype))
    y, g = to_numpy(y), to_numpy(g)
    for i, (xi, f, d) in enumerate(points):
        if f is not None:
            f = rounded([f], dtype)[0]  # SELU's λα, Softplus' log(2)/β in the input's dtype
            assert same(y[i], f), f"{case.id}: f({xi}) = {y[i]}, not {f}"
        d = rounded([d], dtype)[0]  # the slope in the input's dtype, as the reference has it
        assert same(g[i], d), f"{case.id}: f'({xi}) = {g[i]}, not {d}"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_layers_follow_the_kink_rule(case):
    """The layers' gradient at ±0 is the kink derivative (Keras: leaky'(0) = 1 on jax, PReLU's
    f'(0) = 0), and NaN stays NaN."""
    if not case.kinks:
        pytest.skip("no kink")
    layer = make_layer(case)
    points = case.kink_points
    x = keras.ops.reshape(tensor([*(k for k, _ in points), np.nan], "float32"), (-1, 1))
    _, g = value_and_grad(layer, x)
    g = to_numpy(g)[:, 0]
    np.testing.assert_array_equal(g[:-1], np.float32([d for _, d in points]))
    assert np.isnan(g[-1])


SMOOTH_CASES = [c for c in CASES if not c.activation.piecewise_linear]


@pytest.mark.parametrize("case", SMOOTH_CASES, ids=lambda c: c.id)
def test_float32_accuracy(case):
    import mpmath

    x = np.linspace(-14, 14, 8001).astype(np.float32)
    y, g = value_and_grad(lambda t: call(case, t), tensor(x, "float32"))
    x64 = x.astype(np.float64)
    # Keras computes float32 with its parameters rounded to float32 (CELU's alpha = 0.1 is
    # 1.5e-8 off, which e^{x/alpha} amplifies to ~17 ulp at x = −7): the reference takes them so.
    params = {
        k: float(np.float32(v)) if isinstance(v, float) else v for k, v in case.params.items()
    }
    ref = case.numpy_fn()(x64, **params)
    dref = case.numpy_fn().derivative(x64, **params)
    # The contract's float32 bound on every backend (jax without x64 too: _jax_custom's float64
    # scope); derivatives in units of the terms f' sums where it crosses zero.
    value_ulps = grad_ulps = ULPS["float32"]
    assert ulp_error(to_numpy(y), ref, "float32", 1e-30) <= value_ulps
    tiny = np.abs(ref) < 1e-30
    assert np.max(np.abs(to_numpy(y) - ref)[tiny], initial=0.0) <= value_ulps * np.spacing(
        np.float32(1e-30)
    )
    scale = None
    if case.derivative_scale is not None:
        with mpmath.workdps(30):
            scale = [float(case.derivative_scale(mpmath.mpf(float(v)), **case.params)) for v in x]
    assert ulp_error(to_numpy(g), dref, "float32", 1e-30, scale) <= grad_ulps


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float64_accuracy(case):
    """float64 values and gradients within the contract's 4 ulp of mpmath on the contract's
    sample points (the whole real line: GELU's left tail down to where it underflows, 0.17
    apart on [−40, 40]), as benchmarks/keras_ulp_report.py measures: relative to
    max(|f|, 1e-300), f′ in units of its terms where it crosses zero; subnormal inputs and
    results are left out (XLA's CPU runtime flushes them). jax's float64 erfc put exact GELU
    120.8 ulp off on these points (x ≈ −17.4), which the NumPy-relative tolerances above let
    through."""
    skip_dtype("float64")
    index = CASES.index(case)
    x = sample_points(np.float64, n=60)
    y, g = value_and_grad(lambda t: call(case, t), tensor(x, "float64"))
    tiny = float(np.finfo(np.float64).tiny)
    for which, got in (("value", to_numpy(y)), ("derivative", to_numpy(g))):
        xs, refs, scales = mpmath_reference(index, "float64", which)
        assert np.array_equal(xs, x)
        errors = [
            0.0
            if 0 < abs(v) < tiny or 0 < s < tiny
            else mp_ulp_error(a, r, max(s, 1e-300), np.float64)
            for v, a, r, s in zip(xs, got, refs, scales, strict=True)
        ]
        worst = int(np.argmax(errors))
        assert errors[worst] <= ULPS["float64"], (which, errors[worst], xs[worst])


def _dense_gelu_points() -> np.ndarray:
    """1,900 float64 points of [−40, 10], 1,200 of them in the left tail [−40, −3]."""
    rng = np.random.default_rng(12)
    return np.unique(np.concatenate([rng.uniform(-40, -3, 1200), rng.uniform(-3, 3, 600),
                                     rng.uniform(3, 10, 100)]))  # fmt: skip


def _dense_gelu_worst(case, x, y, g) -> dict[str, tuple[float, float]]:
    """(worst ulps, where) of exact GELU's value and f′ against mpmath, measured as
    test_float64_accuracy does (subnormal results left out)."""
    import mpmath

    tiny = float(np.finfo(np.float64).tiny)
    worst = {"value": (0.0, 0.0), "derivative": (0.0, 0.0)}
    with mpmath.workdps(30):
        for v, a, d in zip(x, to_numpy(y), to_numpy(g), strict=True):
            t = mpmath.mpf(float(v))
            value = case.value(t)
            for which, got, ref, scale in (
                ("value", a, value, abs(value)),
                ("derivative", d, case.derivative(t), case.derivative_scale(t)),
            ):
                if scale < tiny:
                    continue
                e = mp_ulp_error(got, ref, max(scale, 1e-300), np.float64)
                if e > worst[which][0]:
                    worst[which] = (e, float(v))
    return worst


def test_float64_exact_gelu_on_dense_points():
    """Exact GELU in float64 within the contract's 4 ulp on 1,900 points of [−40, 10] (the
    contract's sample points are 0.17 apart: tensorflow's erfc composition passed them at
    3.44 ulp while it was 11.7 ulp off at x = −1.40 and its Mills-ratio tail 4.1 at −22.0 (f′
    4.6 at −24.7 in a tf.function), measured on 38,000 points; here it fails at 6.7 ulp).
    jax and tensorflow run ``_gelu64``'s core (1.16 and 0.86 here), held to 1.5 ulp, on
    tensorflow also in a ``tf.function`` with and without ``jit_compile``: without it, grappler
    pushed the core's double-double constants together (1.84 / 1.90 here) until the core ran
    as its own XLA computation. torch runs relukit.torch (2.84 / 3.21 here)."""
    skip_dtype("float64")
    case = next(c for c in CASES if c.name == "gelu" and c.params["approximate"] == "none")
    x = _dense_gelu_points()
    runs = {"eager": lambda t: value_and_grad(lambda u: call(case, u), t)}
    if BACKEND == "tensorflow":
        import tensorflow as tf

        runs["tf.function"] = tf.function(runs["eager"])
        runs["jit_compile"] = tf.function(runs["eager"], jit_compile=True)
    for run, fn in runs.items():
        y, g = fn(tensor(x, "float64"))
        worst = _dense_gelu_worst(case, x, y, g)
        bound = ULPS["float64"] if BACKEND == "torch" else 1.5
        for which, (error, where) in worst.items():
            assert error <= bound, (run, which, error, where)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_agrees_with_keras_own_away_from_kinks(case):
    """Keras' own op or layer (every parameter explicit) on [−4, 4] away from 0. (Below −4,
    Keras' tanh-GELU gradient on jax and tensorflow is 0 where the true one is −1.5e-6.)"""
    oracle = case.keras_oracle(keras, **case.params)
    x = np.linspace(-4, 4, 2001).astype(np.float32)
    for k in (0.0, *case.kinks):
        x = x[np.abs(x - k) > 1e-3]
    ours_y, ours_g = value_and_grad(lambda t: call(case, t), tensor(x, "float32"))
    theirs_y, theirs_g = value_and_grad(oracle, tensor(x, "float32"))
    rtol, atol = TOLERANCES["float32"]
    atol = max(atol, case.keras_oracle_atol)
    for ours, theirs in ((ours_y, theirs_y), (ours_g, theirs_g)):
        np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=rtol, atol=atol)


# --- integer inputs -------------------------------------------------------------------------


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda c: c.id)
def test_integer_inputs_follow_the_contract(case):
    x = np.array([[-3, 0, 2]], dtype=np.int32)
    want = "int32" if case.activation.keeps_integers else keras.config.floatx()
    ref = reference(case, x.astype(np.float32), "float32")
    for y in (call(case, x), make_layer(case)(x)):
        assert keras.backend.standardize_dtype(y.dtype) == want
        assert_close(to_numpy(y), ref, "float32")


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda c: c.id)
def test_bool_inputs_follow_the_contract(case):
    """Bools are integers: ReLU keeps them (tensorflow has no comparison of bools: computed
    through uint8), the others compute in floatx."""
    x = np.array([[True, False, True]])
    want = "bool" if case.activation.keeps_integers else keras.config.floatx()
    ref = reference(case, x.astype(np.float32), "float32")
    for y in (call(case, x), call(case, keras.ops.convert_to_tensor(x)), make_layer(case)(x)):
        assert keras.backend.standardize_dtype(y.dtype) == want
        assert_close(to_numpy(keras.ops.cast(y, "float32")), ref, "float32")


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda c: c.id)
def test_variables_and_zero_dimensional_inputs(case):
    """A keras.Variable is read as a tensor (tf.custom_gradient refuses captured variables);
    a 0-d x keeps its shape, also with a one-slope weight tensor (PReLU's gave shape (1,))."""
    x = np.array([-1.5, 0.5, 2.0], np.float32)
    ref = reference(case, x, "float32")
    assert_close(to_numpy(call(case, keras.Variable(x))), ref, "float32")
    for v, want in zip(x, ref, strict=True):
        y = call(case, np.float32(v))
        assert tuple(y.shape) == ()
        assert_close(to_numpy(y), want, "float32")
    for a in WEIGHTED:
        y = rk.function(a)(np.float32(-2.0), tensor([0.25], "float32"))
        assert tuple(y.shape) == () and to_numpy(y)[()] == -0.5


def test_numpy_bfloat16_and_float8_arrays():
    """ml_dtypes' NumPy bfloat16 is a floating dtype relukit computes; float8 is refused."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.array([-2.0, 0.5], ml_dtypes.bfloat16)
    y = rk.gelu(x)
    assert keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    want = reference(default_case("gelu"), x.astype(np.float32), "bfloat16")
    assert_close(to_numpy(y), want, "bfloat16")
    with pytest.raises(TypeError, match=r"x must hold real numbers.*float8_e4m3fn"):
        rk.gelu(np.array([1.0], ml_dtypes.float8_e4m3fn))


# --- layers ---------------------------------------------------------------------------------

# One layer per entry with non-default parameters where the entry has some (config round trips
# must carry them), and the weight layer with Keras' options.
LAYER_CASES = [
    next((c for c in CASES if c.name == a.name and c is not default_case(a.name)), None)
    or default_case(a.name)
    for a in ENTRIES
]


def _layer_kwargs(case) -> dict:
    """Keras' options of a weight layer, not their defaults (config round trips carry them)."""
    if case.activation not in WEIGHTED:
        return {}
    key = _weight_key(case.activation)
    return {
        "shared_axes": [1],
        f"{key}_regularizer": "l2",
        f"{key}_constraint": "non_neg",
    }


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c.id)
def test_layer_config_round_trip(case):
    layer = make_layer(case, name="act", **_layer_kwargs(case))
    config = layer.get_config()
    cls = type(layer)
    clone = cls.from_config(config)
    assert clone.get_config() == config
    for key, value in case.params.items():
        if case.activation.param(key).kind != "weight":
            assert config[key] == value
    assert layer.compute_output_shape((None, 5, 3)) == (None, 5, 3)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is cls and restored.get_config() == config


@pytest.mark.parametrize("activation", ENTRIES, ids=ENTRY_IDS)
def test_layer_defaults_and_positional_arguments_are_the_catalogs(activation):
    cls = rk.layer(activation)
    layer = cls()
    for k, v in activation.defaults.items():
        assert getattr(layer, k) == v
    values = [p for p in activation.params if p.kind != "weight"]
    if values:  # positional, as Keras' layers take them
        assert getattr(cls(values[0].default), values[0].name) == values[0].default
    with pytest.raises(TypeError):
        cls(*range(len(inspect.signature(cls).parameters)))


@pytest.mark.parametrize(
    ("activation", "alias", "target"),
    [(a, k, v) for a in ENTRIES for k, v in _facts.facts(a).aliases.items()],
    ids=lambda v: getattr(v, "name", v),
)
def test_layers_accept_keras_deprecated_spellings(activation, alias, target):
    with pytest.warns(UserWarning, match=alias):
        layer = rk.layer(activation)(**{alias: 0.2})
    assert getattr(layer, target) == 0.2
    assert alias not in layer.get_config()


def test_save_and_load_every_layer_and_function_without_custom_objects(tmp_path):
    inputs = keras.Input((6,))
    h = keras.layers.Dense(6)(inputs)
    for case in LAYER_CASES:
        h = make_layer(case, **_layer_kwargs(case))(h)
    for a in ENTRIES:
        if a not in WEIGHTED:
            h = keras.layers.Dense(4, activation=rk.function(a))(h)
    model = keras.Model(inputs, h)
    for layer in model.layers:
        for w in layer.trainable_weights if isinstance(layer, ActivationLayer) else ():
            w.assign(np.full(w.shape, -0.3, np.float32))
    path = tmp_path / "m.keras"
    model.save(path)
    x = np.random.default_rng(1).normal(size=(8, 6)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    # A fresh interpreter: only `import relukit.keras` registers the classes and functions.
    code = (
        "import sys, numpy as np, keras, relukit.keras\n"
        f"m = keras.models.load_model({str(path)!r})\n"
        f"np.save(sys.argv[1], m.predict(np.load(sys.argv[2]), verbose=0))\n"
    )
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, str(tmp_path / "y.npy"),
         str(tmp_path / "x.npy")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    types = {type(layer) for layer in loaded.layers}
    assert all(rk.layer(a) in types for a in ENTRIES)


@pytest.mark.parametrize("case", LAYER_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
def test_layers_under_mixed_precision(case, policy):
    half = policy.removeprefix("mixed_")
    layer = make_layer(case, **_layer_kwargs(case))
    assert layer.compute_dtype == half
    x = np.random.default_rng(2).normal(0, 3, (16, 3)).astype(np.float32)
    x[0, :] = [0.0, -np.inf, np.inf]
    y, g = value_and_grad(layer, tensor(x, "float32"))
    assert keras.backend.standardize_dtype(y.dtype) == half
    assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
    xr = rounded(x, half)  # what the layer computes on
    params = {k: _float32_weight(case, k, v) for k, v in case.params.items()}
    fn = case.numpy_fn()
    assert_close(to_numpy(y), rounded(fn(xr, **params), half), half)
    assert_close(to_numpy(g), rounded(fn.derivative(xr, **params), half), half)


def _float32_weight(case, key, value):
    """A weight as the layer holds it (float32, also under mixed precision); values as they are."""
    return np.float32(value) if case.activation.param(key).kind == "weight" else value


def test_mixed_precision_model_trains():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layers = [make_layer(c) for c in DEFAULT_CASES]
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(8),
                *layers,
                keras.layers.Dense(1, dtype="float32"),
            ]
        )
        model.compile(optimizer="adam", loss="mse")
        x = np.random.default_rng(3).normal(size=(64, 4)).astype(np.float32)
        history = model.fit(x, x[:, :1], epochs=2, batch_size=32, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))
    finally:
        keras.config.set_dtype_policy("float32")


# --- layers with a weight (PReLU) -----------------------------------------------------------


def _weight_key(activation) -> str:
    (p,) = [p for p in activation.params if p.kind == "weight"]
    return _facts.weight_name(activation, p.name)


@pytest.mark.parametrize("activation", WEIGHTED, ids=[a.name for a in WEIGHTED])
@pytest.mark.parametrize(
    ("kwargs", "input_shape", "shape"),
    [
        ({}, (2, 5), (5,)),
        ({}, (2, 4, 4, 3), (1, 1, 3)),
        ({"channel_axis": 1}, (2, 3, 4, 4), (3, 1, 1)),
        ({"channel_axis": None}, (2, 4, 3), (1, 1)),
        ({"shared_axes": [1, 2]}, (2, 4, 4, 3), (1, 1, 3)),
        ({"shared_axes": 1, "channel_axis": None}, (2, 4, 3), (1, 3)),
        ({"shared_axes": [1], "channel_axis": 1}, (2, 4, 3), (1, 3)),  # Keras' rule wins
        ({"shared_axes": [1]}, (2, 4, 4, 3), (1, 4, 3)),
    ],
)
def test_weight_layout(activation, kwargs, input_shape, shape):
    layer = rk.layer(activation)(**kwargs)
    layer.build(input_shape)
    w = getattr(layer, _weight_key(activation))
    assert tuple(w.shape) == shape
    (p,) = [p for p in activation.params if p.kind == "weight"]
    np.testing.assert_array_equal(to_numpy(w.value), np.full(shape, p.initial))


@pytest.mark.parametrize("activation", WEIGHTED, ids=[a.name for a in WEIGHTED])
def test_weight_layer_matches_keras_layout_and_reference_gradients(activation):
    """Same weights as Keras' layer of that name with shared_axes=[1, 2]; gradients for x and
    for the weight, through the function with the stored (1, 1, C) layout."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    x[0, 0, 0] = 0.0
    ours = rk.layer(activation)()
    theirs = getattr(keras.layers, activation.class_name)(shared_axes=[1, 2])
    ours.build(x.shape)
    theirs.build(x.shape)
    w = rng.normal(size=(1, 1, 4)).astype(np.float32)
    theirs.set_weights([w])
    ours.set_weights(theirs.get_weights())
    assert_close(to_numpy(ours(x)), to_numpy(theirs(x)), "float32")
    up = rng.normal(size=x.shape).astype(np.float32)
    numpy_fn = relukit.function(activation)
    gx, gw = numpy_fn.backward(up, x, w.reshape(4), axis=-1)
    fn = rk.function(activation)
    _, (got_gx, got_gw) = vjp(
        lambda t, a: fn(t, a), [tensor(x, "float32"), tensor(w, "float32")], tensor(up, "float32")
    )
    assert_close(to_numpy(got_gx), gx, "float32")
    assert_close(to_numpy(got_gw).reshape(4), gw, "float32")
    assert to_numpy(got_gw).shape == (1, 1, 4)


@pytest.mark.parametrize("activation", WEIGHTED, ids=[a.name for a in WEIGHTED])
def test_training_moves_the_weight_by_its_gradient(activation):
    """One SGD step on the mean absolute error: Δa = −Σ sign(y)·∂f/∂a / N."""
    x = np.array([[-2.0, 3.0], [0.0, -1.0]], dtype=np.float32)
    layer = rk.layer(activation)()
    model = keras.Sequential([keras.Input((2,)), layer])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mae")
    w = getattr(layer, _weight_key(activation))
    before = to_numpy(w.value).copy()
    model.train_on_batch(x, np.zeros_like(x))
    numpy_fn = relukit.function(activation)
    y = numpy_fn(x, before, axis=-1)
    _, gw = numpy_fn.backward(np.sign(y) / x.size, x, before, axis=-1)
    assert_close(to_numpy(w.value), before - gw, "float32")


@pytest.mark.parametrize("activation", WEIGHTED, ids=[a.name for a in WEIGHTED])
def test_function_weight_forms(activation):
    fn, ref_fn = rk.function(activation), relukit.function(activation)
    x = np.array([[-2.0, 4.0], [-1.0, -3.0]], dtype=np.float32)
    ref = ref_fn(x, np.array([0.25, 0.5]), axis=-1)
    assert_close(to_numpy(fn(x, np.array([0.25, 0.5], np.float32))), ref, "float32")
    assert_close(to_numpy(fn(x, [[0.25, 0.5]])), ref, "float32")
    assert_close(to_numpy(fn(x, 0.25)), ref_fn(x, 0.25), "float32")
    ref0 = ref_fn(x, np.array([0.25, 0.5]), axis=0)
    assert_close(to_numpy(fn(x, np.array([0.25, 0.5]), axis=0)), ref0, "float32")
    with pytest.raises(ValueError, match="has 3 slopes"):
        fn(x, np.array([0.1, 0.2, 0.3]))
    with pytest.raises(TypeError, match="axis"):
        fn(x, 0.25, axis=1.0)
    with pytest.raises(TypeError, match="missing"):
        fn(x)


@pytest.mark.parametrize("activation", WEIGHTED, ids=[a.name for a in WEIGHTED])
def test_weight_layer_bad_options(activation):
    cls, key = rk.layer(activation), _weight_key(activation)
    for kwargs, name in [
        ({"shared_axes": [0]}, "shared_axes"),
        ({"shared_axes": [1.5]}, "shared_axes"),
        ({"channel_axis": "last"}, "channel_axis"),
        ({f"{key}_initializer": "no_such_initializer"}, f"{key}_initializer"),
    ]:
        with pytest.raises(ValueError, match=name):
            cls(**kwargs)
    with pytest.raises(ValueError, match="channel_axis"):
        cls(channel_axis=3).build((2, 4))
    with pytest.raises(ValueError, match="shared_axes"):
        cls(shared_axes=[3]).build((2, 4, 3))
    with pytest.raises(ValueError, match="unknown sizes"):
        cls().build((2, None))


# --- bad input ------------------------------------------------------------------------------

BAD = {"real": [float("nan"), float("inf"), "0.1", True, None], "choice": ["fast", True, None]}
VALUE_PARAMS = [(a, p) for a in ENTRIES for p in a.params if p.kind in BAD]


@pytest.mark.parametrize(
    ("activation", "param"), VALUE_PARAMS, ids=[f"{a.name}-{p.name}" for a, p in VALUE_PARAMS]
)
def test_bad_parameters_are_refused_naming_them(activation, param):
    fn, cls = rk.function(activation), rk.layer(activation)
    # Outside a parameter's domain too: 0 where it divides (Softplus' beta), ≤ 0 where it must
    # be positive (CELU's alpha).
    domain = [0.0] if param.nonzero else [0.0, -0.5] if param.positive else []
    for bad in BAD[param.kind] + domain:
        if _facts.from_keras(param.name, bad) is not bad:
            continue  # Keras' spelling of a value (GELU(approximate=True)): accepted
        with pytest.raises(ValueError, match=param.name):  # layers: ValueError, as Keras'
            cls(**{param.name: bad})
        with pytest.raises((TypeError, ValueError), match=param.name):
            fn(np.ones(2, np.float32), **{param.name: bad})
    with pytest.raises(TypeError, match="unexpected"):
        fn(np.ones(2, np.float32), no_such_parameter=1.0)
    if param.kind == "real":  # any finite real, negative too (Keras' LeakyReLU refuses them)
        value = 0.5 if param.positive else -0.5
        x = np.array([-2.0, 1.0], np.float32)
        ref = relukit.function(activation)(x, **{param.name: value})
        assert_close(to_numpy(cls(**{param.name: value})(x)), ref, "float32")


# --- activation= and functional models ------------------------------------------------------


def test_functions_as_activation_arguments_and_symbolic_calls(tmp_path):
    inputs = keras.Input((3,))
    h = inputs
    for case in DEFAULT_CASES:
        if case.activation in WEIGHTED:  # a weight is then a constant of the graph
            weights = {k: np.full(4, v, np.float32) for k, v in case.params.items()}
            h = rk.function(case.activation)(h, **weights)
        else:
            h = keras.layers.Dense(4, activation=rk.function(case.activation))(h)
            h = call(case, h)  # a function on a symbolic tensor
    model = keras.Model(inputs, h)
    x = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "f.keras")
    loaded = keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)


def test_compiled_training_equals_eager_training():
    """The custom gradients trace under the backend's compiler (XLA on jax and tensorflow;
    torch runs eagerly): one epoch compiled and one eager give the same weights."""
    x = np.random.default_rng(6).normal(size=(32, 3)).astype(np.float32)
    y = np.random.default_rng(7).normal(size=(32, 4)).astype(np.float32)
    weights = []
    for eager in (False, True):
        keras.utils.set_random_seed(0)
        layers = [make_layer(c) for c in DEFAULT_CASES]
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), *layers])
        model.compile(optimizer="sgd", loss="mse", jit_compile="auto", run_eagerly=eager)
        history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
        assert np.isfinite(history.history["loss"][0])
        weights.append([to_numpy(w.value) for w in model.weights])
    assert len(weights[0]) > 2
    for compiled, eager in zip(*weights, strict=True):
        np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(BACKEND != "jax", reason="jax's 64-bit mode")
def test_jax_float64_stays_inside_relukit():
    """On jax the smooth entries compute float32 in float64 inside a ``jax.enable_x64`` scope
    around relukit's own forward and backward (``_functions._jax_custom``), also without
    JAX_ENABLE_X64 (tests/test_keras_backends.py runs this file both ways): values, gradients
    and weights stay float32, the traced graph outside relukit's calls holds no float64, and
    the caller's x64 setting is the same afterwards."""
    import jax

    x64 = bool(jax.config.jax_enable_x64)
    x = tensor(np.linspace(-9, 9, 64), "float32")
    w = tensor([0.25], "float32")
    for case in [*SMOOTH_CASES, default_case("prelu")]:
        weighted = any(p.kind == "weight" for p in case.activation.params)
        params = {k: v for k, v in case.params.items() if case.activation.param(k).kind != "weight"}

        def loss(t, a, case=case, params=params, weighted=weighted):
            y = getattr(rk, case.name)(t, a, **params) if weighted else call(case, t)
            return keras.ops.sum(y * y)

        for fn in (jax.grad(loss, (0, 1)), jax.jit(jax.grad(loss, (0, 1)))):
            gx, gw = fn(x, w)
            assert (gx.dtype, gw.dtype) == (np.float32, np.float32), case.id
        jaxpr = jax.make_jaxpr(jax.value_and_grad(loss, (0, 1)))(x, w).jaxpr
        dtypes = {str(v.aval.dtype) for e in jaxpr.eqns for v in (*e.invars, *e.outvars)
                  if hasattr(v, "aval")}  # fmt: skip
        assert dtypes <= {"float32", "int32", "bool"}, (case.id, dtypes)
        assert call(case, x).dtype == np.float32
        assert bool(jax.config.jax_enable_x64) == x64


@pytest.mark.skipif(BACKEND != "jax", reason="jax's 64-bit mode")
@pytest.mark.parametrize("jit_compile", [True, False])
def test_jax_training_in_float32_compiles_once(jit_compile):
    """``model.fit`` with relukit's smooth and weighted layers on jax, compiled and eager: the
    second epoch and prediction compile and trace nothing new (no retracing from the float64
    scope), weights and predictions stay float32, and the x64 setting is unchanged."""
    import logging

    import jax

    x64 = bool(jax.config.jax_enable_x64)
    x = np.random.default_rng(6).normal(size=(32, 3)).astype(np.float32)
    y = np.random.default_rng(7).normal(size=(32, 4)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((3,)), keras.layers.Dense(4), rk.GELU(), rk.ELU(), rk.PReLU(),
        rk.layer("silu")(), rk.GELU(approximate="tanh"), rk.LeakyReLU(), rk.ReLU(),
    ])  # fmt: skip
    model.compile(optimizer="adam", loss="mse", jit_compile=jit_compile)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.predict(x, verbose=0)
    compiled: list[str] = []

    class Record(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if message.startswith(("Compiling", "Finished tracing")):
                compiled.append(message)

    handler = Record()
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles(True):
            history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
            predicted = model.predict(x, verbose=0)
    finally:
        logger.removeHandler(handler)
    assert compiled == []
    assert np.isfinite(history.history["loss"][0])
    assert predicted.dtype == np.float32
    assert {keras.backend.standardize_dtype(w.dtype) for w in model.weights} == {"float32"}
    assert bool(jax.config.jax_enable_x64) == x64


# --- discover and watch -------------------------------------------------------------------


def _keras_own_layers():
    """Keras' own activation layers that share a catalog class name, with the case's params."""
    out = []
    for case in DEFAULT_CASES:
        cls = getattr(keras.layers, case.activation.class_name, None)
        if cls is None:
            continue
        kwargs = {}
        for k, v in case.params.items():
            if case.activation.param(k).kind == "weight":
                key = _facts.weight_name(case.activation, k)
                kwargs[f"{key}_initializer"] = keras.initializers.Constant(v)
            else:
                kwargs[k] = v
        out.append((case, cls(**kwargs)))
    return out


def test_discover_finds_every_kind_of_unit():
    cases = DEFAULT_CASES
    own = _keras_own_layers()
    keras_fns = [c for c in cases if c.name in dir(keras.activations)]
    inner = keras.Sequential([keras.layers.Dense(3, name="d"), make_layer(cases[0], name="act")])
    layers = [
        *(make_layer(c, name=f"rk_{c.name}") for c in cases),
        *(layer for _, layer in own),
        *(keras.layers.Activation(c.name, name=f"act_{c.name}") for c in keras_fns),
        *(
            keras.layers.Dense(3, activation=rk.function(c.activation), name=f"dense_{c.name}")
            for c in cases
            if c.activation not in WEIGHTED
        ),
        keras.layers.Dense(3, name="linear"),
        keras.layers.ReLU(max_value=6.0, name="relu6"),  # not the catalog's ReLU
        inner,
    ]
    model = keras.Sequential([keras.Input((3,)), *layers], name="m")
    model(np.zeros((2, 3), np.float32))  # builds the weights
    units = {u.name: u for u in rk.discover(model)}
    for c in cases:
        u = units[f"rk_{c.name}"]
        assert u.activation is c.activation and isinstance(u.layer, rk.layer(c.activation))
        np.testing.assert_equal(
            u.params, {k: _float32_weight(c, k, v) for k, v in c.params.items()}
        )
    for c, layer in own:
        u = units[layer.name]
        assert u.activation is c.activation and u.layer is layer
        for k, v in c.params.items():
            np.testing.assert_allclose(np.asarray(u.params[k], np.float64), v, rtol=1e-7)
    for c in keras_fns:  # Keras' functions' own defaults (keras.activations.leaky_relu: 0.2)
        u = units[f"act_{c.name}"]
        fn = keras.activations.get(c.name)
        defaults = {
            k: _facts.from_keras(k, p.default)
            for k, p in inspect.signature(fn).parameters.items()
            if k in c.activation.defaults
        }
        assert u.activation is c.activation and u.params == {**c.activation.defaults, **defaults}
    for c in cases:
        if c.activation not in WEIGHTED:
            assert units[f"dense_{c.name}"].params == c.activation.defaults
    assert "linear" not in units and "relu6" not in units
    assert units[f"{inner.name}/act"].layer is inner.layers[1]
    expected = len(cases) * 2 - len(WEIGHTED) + len(own) + len(keras_fns) + 1
    assert len(units) == expected


def test_watch_sees_every_unit_output_and_removes_itself():
    layers = [make_layer(c, name=c.name) for c in DEFAULT_CASES]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, name="d"), *layers])
    x = np.random.default_rng(8).normal(size=(4, 3)).astype(np.float32)
    expected, h = {}, to_numpy(model.layers[0](x))
    for c in DEFAULT_CASES:
        h = to_numpy(model.get_layer(c.name)(h))
        expected[c.name] = h
    seen = []
    with rk.watch(model, lambda unit, out: seen.append((unit.name, to_numpy(out)))) as w:
        assert [u.name for u in w.units] == [c.name for c in DEFAULT_CASES]
        y = to_numpy(model(x))
    assert [name for name, _ in seen] == [c.name for c in DEFAULT_CASES]
    for name, out in seen:
        np.testing.assert_array_equal(out, expected[name])
    np.testing.assert_array_equal(y, expected[DEFAULT_CASES[-1].name])
    model(x)
    assert len(seen) == len(DEFAULT_CASES)  # removed: no more calls
    assert all("call" not in vars(layer) for layer in layers)


# --- the seed's example ---------------------------------------------------------------------


def test_seed_example_trains_saves_and_loads(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 10)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.float32)
    with pytest.warns(UserWarning, match="alpha"):  # the seed spells Keras' deprecated alpha=
        act = rk.LeakyReLU(alpha=0.01)
    model = keras.Sequential(
        [
            keras.Input((10,)),
            keras.layers.Dense(64),
            act,
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    loss = model.fit(x, y, epochs=5, batch_size=32, verbose=0).history["loss"]
    assert loss[-1] < loss[0]
    path = tmp_path / "seed.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[1], rk.LeakyReLU)
    assert loaded.layers[1].negative_slope == 0.01
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# --- API parity with keras.layers (issue #12 item 4) ----------------------------------------

RELU_ARGS = [
    {"max_value": 6.0},
    {"negative_slope": 0.1},
    {"threshold": 0.5},
    {"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5},
    {"max_value": 2.0, "negative_slope": 0.25},
]


@pytest.mark.parametrize(
    "kwargs", RELU_ARGS, ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items())
)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_relu_takes_keras_arguments_with_keras_meaning(kwargs, dtype):
    skip_dtype(dtype)
    x = np.array([-np.inf, -3, -0.5, 0, 0.25, 0.5, 0.75, 2, 3, 6, 7, np.inf, np.nan], dtype)
    layer = rk.ReLU(dtype=dtype, **kwargs)
    out = layer(tensor(x, dtype))
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    ours = to_numpy(out)
    finite = np.isfinite(x)
    # Keras computes float16 in float16 (we round once from float32), and on tensorflow rounds
    # a float64 slope to float32 (tf.nn.leaky_relu): compared with Keras in float32 only.
    if dtype == "float32":
        keras_value = to_numpy(keras.layers.ReLU(dtype=dtype, **kwargs)(tensor(x, dtype)))
        np.testing.assert_array_equal(ours[finite], keras_value[finite])
    assert np.isnan(ours[np.isnan(x)]).all()
    m = kwargs.get("max_value")
    s, t = kwargs.get("negative_slope", 0.0), kwargs.get("threshold", 0.0)
    xc = x.astype(rk.compute_dtype(dtype))
    c = np.dtype(xc.dtype).type
    with np.errstate(all="ignore"):
        lower = c(s) * (xc - c(t)) if s else np.zeros_like(xc)
        expect = np.where(xc > c(t), xc if m is None else np.minimum(xc, c(m)), lower)
    np.testing.assert_array_equal(ours[~np.isnan(x)], expect[~np.isnan(x)].astype(dtype))
    # f'(x): 1 inside, 0 from max_value on, the slope at and below threshold; NaN for NaN.
    _, g = value_and_grad(layer, tensor(x, dtype))
    g = to_numpy(g)
    inside = (x > t) & (True if m is None else x < m)
    slope = np.asarray(s, dtype)
    expect = np.where(x > t, np.where(inside, 1.0, 0.0), slope).astype(dtype)
    np.testing.assert_array_equal(g[~np.isnan(x)], expect[~np.isnan(x)])
    assert np.isnan(g[np.isnan(x)]).all()


def test_relu_keras_arguments_config_and_checks(tmp_path):
    layer = rk.ReLU(6.0, 0.1, 0.5)
    config = layer.get_config()
    assert (config["max_value"], config["negative_slope"], config["threshold"]) == (6.0, 0.1, 0.5)
    model = keras.Sequential([keras.Input((3,)), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.array([[-1.0, 0.5, 9.0]], np.float32)
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))
    # Integers compute in the layer's compute dtype once an argument is given (kept otherwise).
    assert keras.backend.standardize_dtype(rk.ReLU(max_value=2)(np.arange(4)).dtype) == "float32"
    assert "int" in keras.backend.standardize_dtype(rk.ReLU()(np.arange(4)).dtype)
    for bad in [{"max_value": float("inf")}, {"threshold": float("nan")}, {"negative_slope": True},
                {"max_value": "6"}, {"negative_slope": 1e39}]:  # fmt: skip
        with pytest.raises(ValueError, match=next(iter(bad))):
            rk.ReLU(**bad)
    assert rk.discover(keras.Sequential([keras.Input((2,)), rk.ReLU(max_value=6.0)])) == []


def test_gelu_takes_keras_boolean_approximate():
    x = np.linspace(-4, 4, 9).astype(np.float32)
    for flag, name in [(True, "tanh"), (False, "none")]:
        layer = rk.GELU(approximate=flag)
        assert layer.approximate == name and layer.get_config()["approximate"] == name
        np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(rk.GELU(name)(x)))
    with pytest.raises(ValueError, match="approximate"):
        rk.GELU(approximate=1)  # not a bool: not Keras' spelling
    with pytest.warns(UserWarning, match="alpha"):
        assert rk.LeakyReLU(alpha=0.2).negative_slope == 0.2


@pytest.mark.parametrize("activation", ENTRIES, ids=lambda a: a.name)
def test_string_activations_through_keras_registry(activation, tmp_path):
    name = f"relukit>{activation.name}"
    if any(p.kind == "weight" for p in activation.params):  # needs its weight: not an activation=
        assert keras.activations.get(name) is rk.function(activation)
        return
    assert keras.activations.get(name) is rk.function(activation)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation=name)])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].activation is rk.function(activation)
    x = np.linspace(-2, 2, 6).reshape(2, 3).astype(np.float32)
    np.testing.assert_array_equal(to_numpy(loaded(x)), to_numpy(model(x)))


@pytest.mark.parametrize("activation", ENTRIES, ids=lambda a: a.name)
def test_build_follows_keras_protocol(activation):
    cls = rk.layer(activation)
    calls = []

    class Sub(cls):
        def build(self, input_shape):
            calls.append(tuple(input_shape))
            super().build(input_shape)

    weighted = activation in WEIGHTED
    assert cls().built is not weighted  # stateless: built at construction, as Keras' ReLU
    layer = Sub()
    assert not layer.built
    layer(np.ones((2, 3), np.float32))
    assert calls == [(2, 3)] and layer.built
    assert len(layer.trainable_weights) == int(weighted)


def test_public_namespace_is_the_api():
    public = {n for n in dir(rk) if not n.startswith("_")}
    assert public == set(rk.__all__)


def test_symbolic_calls_have_readable_names_in_the_summary():
    inputs = keras.Input((4,))
    h = rk.gelu(keras.layers.Dense(4)(inputs))
    outputs = rk.gelu(rk.relu(h))
    model = keras.Model(inputs, outputs)
    names = [op.name for op in model.operations]
    assert "__symbolic_activation" not in " ".join(names)
    assert {"relu", "gelu"} <= {n.rsplit("_", 1)[0] if n[-1].isdigit() else n for n in names}


def test_functions_take_keras_spellings_of_values():
    x = np.array([-1.0, 1.0])
    for keras_value, ours in ((True, "tanh"), (False, "none")):
        want = np.asarray(rk.gelu(x, approximate=ours))
        np.testing.assert_array_equal(np.asarray(rk.gelu(x, approximate=keras_value)), want)
        np.testing.assert_array_equal(np.asarray(rk.gelu(x, keras_value)), want)
    with pytest.raises(ValueError, match="approximate must be one of"):
        rk.gelu(x, approximate=1)  # only a real bool is Keras' spelling


@pytest.mark.parametrize("dtype", FLOATS)
def test_empty_inputs_of_any_shape(dtype):
    """An empty batch ((0, 2), (2, 0), (0,)) gives an empty result of its shape and dtype, and an
    empty gradient (tensorflow's keras.ops.add once made a (0, 2) operand a BiasAdd bias)."""
    skip_dtype(dtype)
    for shape in ((0, 2), (2, 0), (0,)):
        x = np.zeros(shape, dtype=np.float32)
        for case in DEFAULT_CASES:
            y, g = value_and_grad(lambda t, case=case: call(case, t), tensor(x, dtype))
            assert tuple(y.shape) == shape and tuple(g.shape) == shape, (case.id, shape)
            assert keras.backend.standardize_dtype(y.dtype) == dtype
