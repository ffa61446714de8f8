"""relukit.keras: values and gradients against the NumPy reference, layers, saving, mixed precision.

Runs on the Keras backend named by KERAS_BACKEND (tests/conftest.py defaults it to torch);
``test_other_backend`` reruns this file under jax and tensorflow when they are installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

try:
    import keras
except ImportError as err:  # Keras missing, or the backend KERAS_BACKEND names is not installed
    pytest.skip(f"Keras is not importable: {err}", allow_module_level=True)

from cases import CASES, TOLERANCES, sample_points

import relukit
import relukit.keras as rk
from relukit.keras import _ops

BACKEND = keras.backend.backend()
HALF = ("float16", "bfloat16")
FLOATS = ("float32", "float64", *HALF)
ROOT = Path(__file__).resolve().parents[1]

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


def reference(case, x: np.ndarray, dtype: str, derivative: bool = False) -> np.ndarray:
    """The NumPy reference on x (already rounded to ``dtype``) in ``dtype`` (bfloat16: float32)."""
    fn = case.numpy_fn()
    fn = fn.derivative if derivative else fn
    xd = x.astype(np.float32 if dtype == "bfloat16" else dtype)
    return np.asarray(fn(xd, **case.params), dtype=np.float64)


def call(case, x):
    return getattr(rk, case.name)(x, **case.params)


def assert_close(actual, expected, dtype: str, msg: str = ""):
    rtol, atol = TOLERANCES[dtype]
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=msg
    )


def ulp_error(actual, expected, dtype: str, floor: float) -> float:
    """max |actual − expected| in ulps of expected's dtype, over |expected| ≥ floor."""
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    m = np.isfinite(e) & (np.abs(e) >= floor)
    spacing = np.spacing(np.abs(e[m]).astype(dtype)).astype(np.float64)
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
    assert "ImportError" in r.stderr
    assert 'pip install "relukit[keras]"' in r.stderr


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_import_with_a_missing_backend_says_so(backend):
    if importlib.util.find_spec(backend) is not None:
        pytest.skip(f"{backend} is installed")
    r = _python("import relukit.keras", KERAS_BACKEND=backend)
    assert r.returncode != 0
    assert "KERAS_BACKEND" in r.stderr


@pytest.mark.parametrize("backend", ["jax", "tensorflow", "torch"])
def test_other_backend(backend):
    """This file again under another Keras backend, where that backend is installed."""
    if backend == BACKEND:
        pytest.skip("this is the running backend")
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
         "-k", "not other_backend"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": backend},
        timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


# --- the namespace --------------------------------------------------------------------------


def test_namespace_provides_what_the_numpy_one_does():
    """Every operation the NumPy namespace offers the catalog exists in the Keras one."""
    from relukit import _numpy_ns

    numpy_ns = getattr(_numpy_ns, "EXACT", _numpy_ns)  # a namespace object, or the module
    public = {
        n
        for n in dir(numpy_ns)
        if not n.startswith("_")
        and (callable(getattr(numpy_ns, n)) or n == "exact")
        and not isinstance(getattr(numpy_ns, n), type)
        and getattr(getattr(numpy_ns, n), "__module__", "relukit") not in ("builtins",)
    }
    public -= {
        "annotations",
        "for_dtype",
        "functools",
        "json",
        "math",
        "np",
        "resources",
        "special",
    }
    missing = sorted(n for n in public if not hasattr(_ops, n))
    assert not missing, f"relukit.keras._ops lacks {missing}"


@pytest.mark.parametrize(("dtype", "ulps"), [("float32", 2.0), ("float64", 3.0)])
def test_ndtr_and_normal_pdf_accuracy(dtype, ulps):
    """Φ (erfc-based, argument rounding corrected) and φ against mpmath, left tail included."""
    skip_dtype(dtype)
    import mpmath

    lo = -13.0 if dtype == "float32" else -37.0
    x = np.linspace(lo, 8.0, 2001).astype(dtype)
    with mpmath.workdps(40):
        cdf = np.array([float(mpmath.ncdf(mpmath.mpf(float(v)))) for v in x])
        pdf = np.array([float(mpmath.npdf(mpmath.mpf(float(v)))) for v in x])
    floor = float(np.finfo(dtype).tiny)
    assert ulp_error(to_numpy(_ops.ndtr(tensor(x, dtype))), cdf, dtype, floor) <= ulps
    assert ulp_error(to_numpy(_ops.normal_pdf(tensor(x, dtype))), pdf, dtype, floor) <= 3.0
    gaussian = _ops.gaussian(tensor(x, dtype))
    assert gaussian[2] == 0
    np.testing.assert_array_equal(to_numpy(gaussian[0]), to_numpy(_ops.ndtr(tensor(x, dtype))))


def test_namespace_refuses_out():
    with pytest.raises(TypeError, match="out="):
        _ops.exp(tensor([1.0], "float32"), out=tensor([0.0], "float32"))


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
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_values_and_gradients_match_numpy(case, dtype):
    skip_dtype(dtype)
    x = _points(dtype)
    y, g = value_and_grad(lambda t: call(case, t), tensor(x, dtype))
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    assert keras.backend.standardize_dtype(g.dtype) == dtype
    assert_close(to_numpy(y), reference(case, x, dtype), dtype, f"{case.id} value")
    assert_close(to_numpy(g), reference(case, x, dtype, True), dtype, f"{case.id} gradient")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_backward_with_an_upstream_gradient(case, dtype):
    skip_dtype(dtype)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, 500).astype(dtype)
    up = rng.normal(0, 1, 500).astype(dtype)
    _, g = value_and_grad(lambda t: call(case, t), tensor(x, dtype), tensor(up, dtype))
    fn = case.numpy_fn()
    expected = fn.backward(up, x, **case.params)
    expected = expected[0] if isinstance(expected, tuple) else expected
    assert_close(to_numpy(g), expected, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_special_values_and_kinks_exactly(case, dtype):
    skip_dtype(dtype)
    points = [(x, f, d) for x, f, d in case.specials]
    points += [(k, None, case.kink_derivative) for k in case.kinks]
    x = rounded([p[0] for p in points], dtype)
    y, g = value_and_grad(lambda t: call(case, t), tensor(x, dtype))
    y, g = to_numpy(y), to_numpy(g)
    for i, (xi, f, d) in enumerate(points):
        if f is not None:
            assert same(y[i], f), f"{case.id}: f({xi}) = {y[i]}, not {f}"
        d = rounded([d], dtype)[0]  # the slope in the input's dtype, as the reference has it
        assert same(g[i], d), f"{case.id}: f'({xi}) = {g[i]}, not {d}"


def same(a, b) -> bool:
    """Equal, or both NaN (the sign of a zero is not part of the contract)."""
    return bool(a == b or (np.isnan(a) and np.isnan(b)))


def test_kink_rule_where_keras_differs():
    """leaky'(0) = slope and prelu'(0) = a (Keras: 1 on jax; PReLU layer: 0)."""
    x = tensor([0.0, -0.0], "float32")
    _, g = value_and_grad(lambda t: rk.leaky_relu(t, negative_slope=0.3), x)
    np.testing.assert_array_equal(to_numpy(g), np.float32([0.3, 0.3]))
    layer = rk.PReLU()
    _, g = value_and_grad(layer, keras.ops.reshape(x, (2, 1)))
    np.testing.assert_array_equal(to_numpy(g), [[0.25], [0.25]])
    _, g = value_and_grad(lambda t: rk.relu(t), tensor([0.0, np.nan], "float32"))
    assert to_numpy(g)[0] == 0 and np.isnan(to_numpy(g)[1])


@pytest.mark.parametrize(
    ("approximate", "value_ulps", "grad_ulps"), [("none", 3, 4), ("tanh", 4, 6)]
)
def test_float32_gelu_accuracy(approximate, value_ulps, grad_ulps):
    """GELU in float32 is computed in float32; measured bounds against the NumPy reference.

    The reference is float64 rounded once (≤ 0.5 ulp). Ulps are counted for |f| ≥ 1e-30; below,
    an intermediate is subnormal and the error is absolute (≤ 1e-36). The derivative's ulps are
    those of the size of the terms it sums (it crosses zero near x ≈ −0.75).
    """
    from scipy import special

    x = np.linspace(-14, 14, 100001).astype(np.float32)
    y, g = value_and_grad(lambda t: rk.gelu(t, approximate=approximate), tensor(x, "float32"))
    x64 = x.astype(np.float64)
    ref = relukit.gelu(x64, approximate=approximate)
    assert ulp_error(to_numpy(y), ref, "float32", 1e-30) <= value_ulps
    assert np.max(np.abs(to_numpy(y) - ref)[np.abs(ref) < 1e-30]) <= 1e-36
    if approximate == "none":
        scale = special.ndtr(x64) + np.abs(x64) * np.exp(-0.5 * x64 * x64) / np.sqrt(2 * np.pi)
    else:
        k = np.sqrt(2 / np.pi)
        s = special.expit(2 * k * (x64 + 0.044715 * x64**3))
        scale = s + np.abs(x64 * s * (1 - s) * 2 * k * (1 + 3 * 0.044715 * x64 * x64))
    spacing = np.spacing(scale.astype(np.float32)).astype(np.float64)
    err = np.abs(to_numpy(g) - relukit.gelu.derivative(x64, approximate=approximate)) / spacing
    assert np.max(err[scale >= 1e-30]) <= grad_ulps


# --- against keras.ops, away from the kinks -------------------------------------------------


def _keras_counterpart(case):
    p = case.params
    if case.name == "relu":
        return keras.ops.relu
    if case.name == "leaky_relu":
        return lambda t: keras.ops.leaky_relu(t, negative_slope=p["negative_slope"])
    if case.name == "prelu":
        layer = keras.layers.PReLU(
            alpha_initializer=keras.initializers.Constant(p["weight"]), shared_axes=[1]
        )
        return lambda t: layer(keras.ops.reshape(t, (-1, 1)))[:, 0]
    if case.name == "elu":
        return lambda t: keras.ops.elu(t, alpha=p["alpha"])
    if case.name == "gelu":
        return lambda t: keras.ops.gelu(t, approximate=p["approximate"] == "tanh")
    raise AssertionError(f"no Keras counterpart listed for {case.name}: add one")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_agrees_with_keras_ops_away_from_kinks(case):
    x = np.linspace(-5, 5, 2001).astype(np.float32)
    x = x[np.abs(x) > 1e-3]
    ours_y, ours_g = value_and_grad(lambda t: call(case, t), tensor(x, "float32"))
    theirs_y, theirs_g = value_and_grad(_keras_counterpart(case), tensor(x, "float32"))
    assert_close(to_numpy(ours_y), to_numpy(theirs_y), "float32")
    assert_close(to_numpy(ours_g), to_numpy(theirs_g), "float32")


# --- integer inputs -------------------------------------------------------------------------


def test_integer_inputs_follow_the_contract():
    x = np.array([-3, 0, 2], dtype=np.int32)
    y = rk.relu(x)
    assert keras.backend.standardize_dtype(y.dtype) == "int32"
    np.testing.assert_array_equal(to_numpy(y), [0, 0, 2])
    for case in CASES:
        y = call(case, x)
        assert keras.backend.standardize_dtype(y.dtype) in ("int32", keras.config.floatx())
        assert_close(to_numpy(y), reference(case, x.astype(np.float32), "float32"), "float32")


def test_integer_inputs_to_layers():
    x = np.array([[-3, 0, 2]], dtype=np.int32)
    assert keras.backend.standardize_dtype(rk.ReLU()(x).dtype) == "int32"
    for layer, ref in [
        (rk.LeakyReLU(negative_slope=0.5), relukit.leaky_relu(x, 0.5)),
        (rk.ELU(), relukit.elu(x)),
        (rk.GELU(), relukit.gelu(x)),
        (rk.PReLU(), relukit.prelu(x, 0.25)),
    ]:
        y = layer(x)
        assert keras.backend.standardize_dtype(y.dtype) == "float32"
        assert_close(to_numpy(y), ref, "float32")


# --- layers ---------------------------------------------------------------------------------

LAYERS = [
    (rk.ReLU, {}),
    (rk.LeakyReLU, {"negative_slope": -0.5}),
    (rk.ELU, {"alpha": 2.0}),
    (rk.GELU, {"approximate": "tanh"}),
    (rk.PReLU, {"shared_axes": [1], "alpha_regularizer": "l2", "alpha_constraint": "non_neg"}),
]


@pytest.mark.parametrize(("cls", "kwargs"), LAYERS, ids=[c.__name__ for c, _ in LAYERS])
def test_layer_config_round_trip(cls, kwargs):
    layer = cls(name="act", **kwargs)
    config = layer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    for key, value in kwargs.items():
        if key in ("negative_slope", "alpha", "approximate", "shared_axes"):
            assert config[key] == value
    assert layer.compute_output_shape((None, 5, 3)) == (None, 5, 3)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is cls


def test_layer_defaults_are_the_catalogs():
    assert rk.LeakyReLU().negative_slope == relukit.get("leaky_relu").defaults["negative_slope"]
    assert rk.ELU().alpha == relukit.get("elu").defaults["alpha"]
    assert rk.GELU().approximate == relukit.get("gelu").defaults["approximate"]


def test_leaky_relu_accepts_keras_alpha_spelling():
    with pytest.warns(UserWarning, match="alpha"):
        layer = rk.LeakyReLU(alpha=0.2)
    assert layer.negative_slope == 0.2
    assert "alpha" not in layer.get_config()


def test_save_and_load_every_layer_without_custom_objects(tmp_path):
    inputs = keras.Input((6,))
    h = keras.layers.Dense(6)(inputs)
    for cls, kwargs in LAYERS:
        h = cls(**{k: v for k, v in kwargs.items() if k != "alpha_constraint"})(h)
    h = keras.layers.Dense(4, activation=rk.gelu)(h)
    h = keras.layers.Dense(4, activation=rk.leaky_relu)(h)
    model = keras.Model(inputs, h)
    prelu = next(layer for layer in model.layers if isinstance(layer, rk.PReLU))
    prelu.alpha.assign(np.full(prelu.alpha.shape, -0.3, np.float32))
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
    types = [type(layer) for layer in loaded.layers]
    assert all(cls in types for cls, _ in LAYERS)


@pytest.mark.parametrize(("cls", "kwargs"), LAYERS, ids=[c.__name__ for c, _ in LAYERS])
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
def test_layers_under_mixed_precision(cls, kwargs, policy):
    half = policy.removeprefix("mixed_")
    layer = cls(**kwargs)
    assert layer.compute_dtype == half
    x = np.random.default_rng(2).normal(0, 3, (16, 3)).astype(np.float32)
    x[0, :] = [0.0, -np.inf, np.inf]
    y, g = value_and_grad(layer, tensor(x, "float32"))
    assert keras.backend.standardize_dtype(y.dtype) == half
    xr = rounded(x, half)  # what the layer computes on
    if cls is rk.PReLU:
        assert keras.backend.standardize_dtype(layer.alpha.dtype) == "float32"
        ref = relukit.prelu(xr, np.float32(0.25))
        dref = relukit.prelu.derivative(xr, np.float32(0.25))
    else:
        name = relukit.get(cls._activation).name
        params = {k: v for k, v in kwargs.items()}
        ref = getattr(relukit, name)(xr, **params)
        dref = getattr(relukit, name).derivative(xr, **params)
    assert_close(to_numpy(y), rounded(ref, half), half)
    assert_close(to_numpy(g), rounded(dref, half), half)


def test_mixed_precision_model_trains():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(8),
                rk.PReLU(),
                keras.layers.Dense(8, activation=rk.gelu),
                rk.ELU(),
                keras.layers.Dense(1, dtype="float32"),
            ]
        )
        model.compile(optimizer="adam", loss="mse")
        x = np.random.default_rng(3).normal(size=(64, 4)).astype(np.float32)
        history = model.fit(x, x[:, :1], epochs=2, batch_size=32, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))
    finally:
        keras.config.set_dtype_policy("float32")


# --- PReLU ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "input_shape", "alpha_shape"),
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
def test_prelu_weight_layout(kwargs, input_shape, alpha_shape):
    layer = rk.PReLU(**kwargs)
    layer.build(input_shape)
    assert tuple(layer.alpha.shape) == alpha_shape
    np.testing.assert_array_equal(to_numpy(layer.alpha.value), np.full(alpha_shape, 0.25))


def test_prelu_matches_keras_layout_and_reference_gradients():
    """Same weights as keras.layers.PReLU(shared_axes=[1, 2]); gradients for x and alpha."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    x[0, 0, 0] = 0.0
    ours, theirs = rk.PReLU(), keras.layers.PReLU(shared_axes=[1, 2])
    ours.build(x.shape)
    theirs.build(x.shape)
    w = rng.normal(size=(1, 1, 4)).astype(np.float32)
    theirs.set_weights([w])
    ours.set_weights(theirs.get_weights())
    assert_close(to_numpy(ours(x)), to_numpy(theirs(x)), "float32")
    up = rng.normal(size=x.shape).astype(np.float32)
    gx, gw = relukit.prelu.backward(up, x, w.reshape(4), axis=-1)
    _, (got_gx, got_gw) = vjp(
        lambda t, a: rk.prelu(t, a), [tensor(x, "float32"), tensor(w, "float32")],
        tensor(up, "float32"),
    )  # fmt: skip
    assert_close(to_numpy(got_gx), gx, "float32")
    assert_close(to_numpy(got_gw).reshape(4), gw, "float32")
    assert to_numpy(got_gw).shape == (1, 1, 4)


def test_prelu_layer_weight_gradient_reaches_the_variable():
    """Training moves the slopes, with ∂L/∂a = Σ upstream·min(x, 0)."""
    x = np.array([[-2.0, 3.0], [0.0, -1.0]], dtype=np.float32)
    layer = rk.PReLU()
    layer.build(x.shape)
    model = keras.Sequential([keras.Input((2,)), layer])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mae")
    before = to_numpy(layer.alpha.value).copy()
    model.train_on_batch(x, np.zeros_like(x))
    after = to_numpy(layer.alpha.value)
    # mae: ∂L/∂y = sign(y)/N; y ≤ 0 where x ≤ 0 (a = 0.25): grad_a = Σ sign(y)·min(x, 0)/4.
    y = relukit.prelu(x, before)
    expected = before - (np.sign(y) * np.minimum(x, 0)).sum(axis=0) / x.size
    assert_close(after, expected, "float32")


def test_prelu_function_weight_forms():
    x = np.array([[-2.0, 4.0], [-1.0, -3.0]], dtype=np.float32)
    ref = relukit.prelu(x, np.array([0.25, 0.5]), axis=-1)
    assert_close(to_numpy(rk.prelu(x, np.array([0.25, 0.5], np.float32))), ref, "float32")
    assert_close(to_numpy(rk.prelu(x, [[0.25, 0.5]])), ref, "float32")
    ref0 = relukit.prelu(x, np.array([0.25, 0.5]), axis=0)
    assert_close(to_numpy(rk.prelu(x, np.array([0.25, 0.5]), axis=0)), ref0, "float32")
    with pytest.raises(ValueError, match="weight has 3 slopes"):
        rk.prelu(x, np.array([0.1, 0.2, 0.3]))


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: rk.LeakyReLU(negative_slope=float("nan")), "negative_slope"),
        (lambda: rk.LeakyReLU(negative_slope="0.1"), "negative_slope"),
        (lambda: rk.LeakyReLU(negative_slope=True), "negative_slope"),
        (lambda: rk.ELU(alpha=float("inf")), "alpha"),
        (lambda: rk.ELU(alpha=None), "alpha"),
        (lambda: rk.GELU(approximate="fast"), "approximate"),
        (lambda: rk.GELU(approximate=True), "approximate"),
        (lambda: rk.PReLU(shared_axes=[0]), "shared_axes"),
        (lambda: rk.PReLU(shared_axes=[1.5]), "shared_axes"),
        (lambda: rk.PReLU(channel_axis="last"), "channel_axis"),
        (lambda: rk.PReLU(alpha_initializer="no_such_initializer"), "alpha_initializer"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_prelu_bad_axes_at_build():
    with pytest.raises(ValueError, match="channel_axis"):
        rk.PReLU(channel_axis=3).build((2, 4))
    with pytest.raises(ValueError, match="shared_axes"):
        rk.PReLU(shared_axes=[3]).build((2, 4, 3))
    with pytest.raises(ValueError, match="unknown sizes"):
        rk.PReLU().build((2, None))


def test_negative_slopes_are_allowed():
    x = np.array([-2.0, 1.0], dtype=np.float32)
    np.testing.assert_array_equal(to_numpy(rk.LeakyReLU(negative_slope=-0.5)(x)), [1.0, 1.0])
    np.testing.assert_array_equal(to_numpy(rk.ELU(alpha=-1.0)(x))[1], 1.0)


def test_functions_check_parameters_with_the_catalog():
    with pytest.raises(ValueError, match="negative_slope"):
        rk.leaky_relu(np.ones(2), negative_slope=float("inf"))
    with pytest.raises(TypeError, match="unexpected"):
        rk.elu(np.ones(2), slope=1.0)
    with pytest.raises(ValueError, match="approximate"):
        rk.gelu(np.ones(2), "erf")


# --- activation= and functional models ------------------------------------------------------


def test_functions_as_activation_arguments_and_symbolic_calls(tmp_path):
    inputs = keras.Input((3,))
    h = keras.layers.Dense(4, activation=rk.elu)(inputs)
    h = rk.leaky_relu(h, negative_slope=0.2)  # a function on a symbolic tensor
    h = rk.prelu(h, np.full(4, 0.1, np.float32))
    model = keras.Model(inputs, keras.layers.Dense(2, activation=rk.relu)(h))
    x = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "f.keras")
    loaded = keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    assert keras.saving.get_registered_object("relukit>gelu") is rk.gelu
    assert keras.saving.get_registered_name(rk.LeakyReLU) == "relukit>LeakyReLU"


def test_jit_compiled_training_where_supported():
    """The custom gradients trace under the backend's compiler (jax/tf; torch runs eagerly)."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), rk.GELU(), rk.PReLU()])
    model.compile(optimizer="sgd", loss="mse", jit_compile="auto")
    x = np.random.default_rng(6).normal(size=(16, 3)).astype(np.float32)
    model.fit(x, np.zeros((16, 4), np.float32), epochs=1, verbose=0)


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
