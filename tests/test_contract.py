"""The contract under bad input and faults (issue #10): the same answer or a named error.

Regression tests for each probed failure, per backend where it applies. Hypothesis properties
over dtypes, shapes, strides, special values and parameters live in ``test_properties.py``.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from cases import CASE_IDS, CASES
from helpers import GELU_CASES, keras_value_and_grad, ulp_error

import relukit

# Cases with one real parameter (slopes, alpha): the overflow rule applies to them.
REAL = [c for c in CASES if [p.kind for p in c.activation.params] == ["real"]]


# --- NumPy: out= that aliases or overlaps x (#4, #5) --------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_numpy_derivative_into_its_own_input_keeps_the_nan_rule(case):
    x = np.array([np.nan, -1.0, 0.0, 2.0, -np.inf, np.inf])
    want = case.numpy_fn().derivative(x.copy(), **case.params)
    got = case.numpy_fn().derivative(x, **case.params, out=x)
    assert got is x
    np.testing.assert_array_equal(x, want)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("which", ["value", "derivative"])
def test_numpy_partially_overlapping_out_equals_a_fresh_result(case, which):
    rng = np.random.default_rng(0)
    buf = rng.standard_normal(40_001) * 3
    x, out = buf[:-1], buf[1:]
    fn = case.numpy_fn() if which == "value" else case.numpy_fn().derivative
    want = fn(x.copy(), **case.params)
    np.testing.assert_array_equal(fn(x, **case.params, out=out), want)


# --- NumPy: backward where f' = 0 under an infinite upstream gradient (#13) ----------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_numpy_backward_passes_nothing_through_a_flat_branch(case):
    x = np.array([-np.inf, -1.0, 0.0, 2.0, np.nan])
    fn = case.numpy_fn()
    d = fn.derivative(x, **case.params)
    for upstream in (np.inf, -np.inf, np.nan):
        g = np.full_like(x, upstream)
        gx = fn.backward(g, x, **case.params)
        gx = gx[0] if isinstance(gx, tuple) else gx
        flat = d == 0
        assert (gx[flat] == 0).all(), (upstream, gx)
        assert np.isnan(gx[np.isnan(x)]).all()


# --- NumPy: masked, big-endian and extended-precision inputs (#16, #17) -------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_numpy_masked_arrays_keep_their_mask(case):
    x = np.ma.masked_array([-1.0, 2.0, 3.0], mask=[False, True, False])
    for fn in (case.numpy_fn(), case.numpy_fn().derivative):
        y = fn(x, **case.params)
        assert isinstance(y, np.ma.MaskedArray)
        np.testing.assert_array_equal(np.ma.getmaskarray(y), [False, True, False])
        np.testing.assert_array_equal(y.compressed(), fn(np.array([-1.0, 3.0]), **case.params))


def test_numpy_big_endian_input_is_computed_and_extended_precision_refused():
    x = np.array([-1.0, 0.5, 2.0], dtype=">f8")
    np.testing.assert_array_equal(relukit.relu.backward(np.ones(3, ">f8"), x), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(relukit.gelu(x), relukit.gelu(x.astype("<f8")))
    with pytest.raises(TypeError, match=r"x has dtype float128.*cast to float64"):
        relukit.relu(np.ones(2, np.longdouble))


# --- parameters: finite, and finite in the compute dtype (#7, #8, #18) --------------------------


@pytest.mark.parametrize("case", REAL, ids=lambda c: c.id)
def test_numpy_parameters_that_overflow_the_compute_dtype_are_named(case):
    (name,) = case.params
    with pytest.raises(ValueError, match=rf"{name}=1e\+39 overflows float32"):
        case.numpy_fn()(np.float32([1.0]), **{name: 1e39})


def test_numpy_zero_slopes_give_zero_at_minus_infinity():
    x = np.array([-np.inf, -1.0, 2.0])
    assert relukit.prelu(x, 0.0).tolist() == [0.0, 0.0, 2.0]
    assert relukit.prelu(x.reshape(1, 3), np.array([0.0, 0.5, 0.0]), axis=1).tolist() == [
        [0.0, -0.5, 2.0]
    ]
    assert relukit.leaky_relu(x.astype(np.float32), 1e-300).tolist() == [0.0, 0.0, 2.0]


@pytest.mark.parametrize("weight", [math.nan, math.inf, -math.inf, [0.25, math.nan]])
def test_numpy_non_finite_prelu_weights_are_refused(weight):
    with pytest.raises(ValueError, match="weight must hold finite slopes"):
        relukit.prelu(np.ones((2, 2)), np.array(weight), axis=-1)


def test_numpy_bad_prelu_arguments_are_named():
    with pytest.raises(TypeError, match=r"weight must hold real slopes.*bool"):
        relukit.prelu(np.ones(2), True)
    with pytest.raises(TypeError, match="axis must be an int"):
        relukit.prelu(np.ones((2, 2)), 0.25, axis="1")


# --- PyTorch ------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
import relukit.torch as rt  # noqa: E402
from relukit.torch import functional as F  # noqa: E402


def _torch_call(case, x, **extra):
    wdtype = x.dtype if x.dtype in (torch.float64, torch.float32) else torch.float32
    params = {
        k: torch.tensor([v], dtype=wdtype) if case.activation.param(k).kind == "weight" else v
        for k, v in case.params.items()
    }
    return getattr(F, case.name)(x, **params, **extra)


def test_torch_zero_slopes_give_zero_at_minus_infinity():
    x = torch.tensor([-math.inf, -1.0, 2.0])
    assert F.leaky_relu(x, 1e-300).tolist() == [0.0, 0.0, 2.0]  # 1e-300 rounds to 0 in float32
    assert F.prelu(x, torch.tensor([0.0])).tolist() == [0.0, 0.0, 2.0]
    xg = x.clone().requires_grad_(True)
    y = F.prelu(xg, torch.tensor([0.0]))
    y.sum().backward()
    assert y.tolist() == [0.0, 0.0, 2.0] and xg.grad.tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("init", [math.nan, math.inf, "0.25", True])
def test_torch_prelu_refuses_non_finite_or_non_real_slopes(init):
    with pytest.raises(TypeError, match="init must be a finite real number"):
        rt.PReLU(init=init)
    if isinstance(init, float):
        with pytest.raises(ValueError, match="weight must hold finite slopes"):
            F.prelu(torch.ones(2, 3), torch.tensor([init]))


@pytest.mark.parametrize("case", REAL, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_torch_parameters_that_overflow_the_input_dtype_are_named(case, dtype):
    (name,) = case.params
    with pytest.raises(ValueError, match=rf"{name}=1e\+39 overflows float32"):
        getattr(F, case.name)(torch.ones(2, dtype=dtype), **{name: 1e39})


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_torch_gelu_near_float_max_on_every_path(dtype, approximate):
    big = torch.finfo(dtype).max
    x = torch.tensor([big, big / 2, -big], dtype=dtype)
    want = torch.tensor([big, big / 2, 0.0], dtype=dtype)
    for y in (
        F.gelu(x, approximate=approximate),
        torch.func.vmap(lambda v: F.gelu(v, approximate=approximate))(x),
    ):
        torch.testing.assert_close(y, want)


@pytest.mark.parametrize("alpha", [1.0, 2.0, -0.5, 0.0])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_elu_second_derivative_at_zero_follows_the_kink_rule(alpha, dtype):
    for inplace in (False, True):
        x = torch.tensor([0.0, -1.0, 1.0], dtype=dtype, requires_grad=True)
        h = x * 1.0 if inplace else x
        y = F.elu(h, alpha, inplace=inplace)
        (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = torch.autograd.grad(g.sum(), x)
        want = [alpha, alpha * math.exp(-1.0), 0.0]
        torch.testing.assert_close(gg, torch.tensor(want, dtype=dtype))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_the_sign_of_zero_is_the_formula_s_on_every_backend(case):
    """f(±0) = f'(0)·(±0): each zero follows its branch's formula (relu(−0) = −0, as IEEE max
    and ATen give), on NumPy, on torch with and without autograd, native or not; where f(0) ≠ 0
    (Softplus, Sigmoid) there is no zero to sign."""
    f0, d0 = next((f, d) for x, f, d in case.specials if x == 0.0)
    if f0 != 0:
        pytest.skip("f(0) is not 0")
    for zero in (0.0, -0.0):
        want = math.copysign(1.0, d0 * zero)
        got = case.numpy_fn()(np.array([zero]), **case.params)
        assert math.copysign(1.0, got[0]) == want, ("numpy", zero)
        for grad in (False, True):
            x = torch.tensor([zero], requires_grad=grad)
            y = _torch_call(case, x)
            assert math.copysign(1.0, y.item()) == want, ("torch", zero, grad)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_torch_float64_gelu_gradient_within_four_ulp(approximate):
    x = np.concatenate([np.linspace(-40, 40, 20_001), -np.logspace(-3, 1.5, 500)])
    xt = torch.from_numpy(x).requires_grad_(True)
    y = F.gelu(xt, approximate=approximate)
    (g,) = torch.autograd.grad(y.sum(), xt)
    want = relukit.gelu.derivative(x, approximate=approximate)  # ≤ 4 ulp of mpmath (tested)
    # f' = Φ + x·φ cancels near its zero (x ≈ −0.75): errors in units of the terms' size there.
    terms = np.abs(relukit.gelu(x, approximate=approximate) / np.where(x == 0, 1, x))
    scale = np.maximum(np.abs(want), terms + np.abs(x) * np.exp(-0.5 * x * x) * 0.4)
    # Both sides are within 4 ulp of mpmath, so they may differ by 8: where they differ by more
    # than 2, the torch result is checked against mpmath itself.
    case = CASES[GELU_CASES[approximate]]
    grad_ulps = np.abs(g.numpy() - want) / np.spacing(np.maximum(scale, 1e-300))
    for i in np.flatnonzero(grad_ulps > 2):
        xm = mp.mpf(float(x[i]))
        ref, size = case.derivative(xm), case.derivative_scale(xm)
        assert ulp_error(g[i].item(), ref, max(size, abs(ref)), np.float64) <= 4, x[i]
    value = relukit.gelu(x, approximate=approximate)
    ulps = np.abs(y.detach().numpy() - value) / np.spacing(np.maximum(np.abs(value), 1e-300))
    for i in np.flatnonzero(ulps > 2):
        ref = case.value(mp.mpf(float(x[i])))
        assert ulp_error(y[i].item(), ref, abs(ref), np.float64) <= 4, x[i]


def _bad_inputs():
    yield torch.ones(2, dtype=torch.float8_e4m3fn), "float8_e4m3fn"
    yield torch.ones(2, dtype=torch.uint16), "uint16"
    yield torch.ones(2, dtype=torch.complex64), "complex64"
    yield torch.eye(2).to_sparse(), "dense"
    yield torch.nested.nested_tensor([torch.ones(2), torch.ones(3)], layout=torch.jagged), "nested"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_unsupported_inputs_are_named(case):
    for x, word in _bad_inputs():
        with pytest.raises(TypeError, match=rf"{case.name}\(\): input must .*{word}"):
            _torch_call(case, x)


def test_torch_bad_arguments_are_named():
    with pytest.raises(TypeError, match="inplace must be True or False"):
        F.relu(torch.ones(2), inplace="False")
    with pytest.raises(ValueError, match="backward_bits"):
        F.gelu(torch.ones(2), backward_bits=2.0)
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        rt.convert(None)


# --- Keras (relukit.keras, on the backend KERAS_BACKEND names) ----------------------------------
#
# tests/test_keras_backends.py reruns this section (-k keras) under jax and tensorflow.

import re  # noqa: E402

try:
    import keras
except ImportError:  # Keras missing, or the backend KERAS_BACKEND names is not installed
    keras = None

needs_keras = pytest.mark.skipif(keras is None, reason="Keras is not importable")
if keras is not None:
    import relukit.keras as rk

    KERAS_BACKEND = keras.backend.backend()

KERAS_HALF = ("float16", "bfloat16")
# A layer's dtype policy that computes in each input dtype (half types: mixed, weights float32).
KERAS_POLICY = {
    "float16": "mixed_float16",
    "bfloat16": "mixed_bfloat16",
    "float32": "float32",
    "float64": "float64",
}


def _k_skip_float64(dtype):
    if dtype == "float64" and KERAS_BACKEND == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("jax computes float64 as float32 unless jax_enable_x64 is set")


def _k_tensor(x, dtype="float32"):
    return keras.ops.convert_to_tensor(
        np.asarray(x, np.float32 if dtype in KERAS_HALF else None), dtype
    )


def _k_numpy(t):
    """A backend tensor as NumPy, half types widened exactly (no torch __array__ warning)."""
    t = keras.ops.stop_gradient(t)
    if keras.backend.standardize_dtype(t.dtype) in KERAS_HALF:
        t = keras.ops.cast(t, "float32")
    if KERAS_BACKEND == "torch":
        return t.detach().cpu().numpy()
    return np.asarray(t)


def _k_value_and_grad(fn, x):
    """(fn(x), d sum(fn(x)) / dx) on the current backend."""
    return keras_value_and_grad(fn, x)


def _k_compiled(fn):
    """``fn`` under the backend's compiler (jax.jit, tf.function with XLA); None on torch,
    whose Keras calls run eagerly."""
    if KERAS_BACKEND == "jax":
        import jax

        return jax.jit(fn)
    if KERAS_BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    return None


def _k_layer(case, **kwargs):
    """The case's layer: its values as arguments, a weight as a constant initializer."""
    for k, v in case.params.items():
        if case.activation.param(k).kind == "weight":
            kwargs["alpha_initializer"] = keras.initializers.Constant(v)
        else:
            kwargs[k] = v
    return rk.layer(case.activation)(**kwargs)


def _k_call(case, x, **params):
    return getattr(rk, case.name)(x, **{**case.params, **params})


# item 6: a zero slope gives 0 at -inf (its limit), also after rounding, with a finite gradient


@needs_keras
def test_keras_zero_slopes_give_zero_at_minus_infinity():
    x = np.array([-math.inf, -1.0, 2.0], np.float32)
    col = x.reshape(3, 1)
    calls = {
        "leaky_relu(1e-300)": lambda t: rk.leaky_relu(t, 1e-300),  # rounds to 0 in float32
        "LeakyReLU(1e-300)": lambda t: rk.LeakyReLU(1e-300)(t),
        "prelu(0.0)": lambda t: rk.prelu(t, 0.0),
        "prelu(tensor 0)": lambda t: rk.prelu(t, _k_tensor([0.0])),
        "PReLU(zeros)": lambda t: keras.ops.reshape(
            rk.PReLU(alpha_initializer="zeros")(keras.ops.reshape(t, (3, 1))), (3,)
        ),
    }
    for name, fn in calls.items():
        y, g = _k_value_and_grad(fn, _k_tensor(x))
        assert _k_numpy(y).tolist() == [0.0, 0.0, 2.0], name
        assert _k_numpy(g).tolist() == [0.0, 0.0, 1.0], name
    assert _k_numpy(rk.PReLU(alpha_initializer="zeros")(col)).ravel().tolist() == [0, 0, 2]


# item 7: non-finite PReLU slopes are refused by name where their values are known


@needs_keras
@pytest.mark.parametrize("weight", [math.nan, math.inf, -math.inf, [0.25, math.nan]])
def test_keras_non_finite_prelu_weights_are_refused(weight):
    x = np.ones((2, 2), np.float32)
    for w in (weight, np.array(weight), _k_tensor(weight)):  # Python, NumPy, a backend tensor
        with pytest.raises(ValueError, match="weight must hold finite slopes in float32"):
            rk.prelu(x, w)
    with pytest.raises(ValueError, match=r"alpha must hold finite slopes; alpha_initializer"):
        rk.PReLU(alpha_initializer=keras.initializers.Constant(weight))(x)
    layer = rk.PReLU()
    layer.build(x.shape)
    layer.set_weights([np.broadcast_to(np.float32(weight), (2,))])  # eager: values are known
    with pytest.raises(ValueError, match="alpha must hold finite slopes in float32"):
        layer(x)


@needs_keras
def test_keras_a_finite_weight_that_overflows_the_compute_dtype_is_refused():
    x = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="weight must hold finite slopes in float32"):
        rk.prelu(x, 1e39)  # finite in float64, inf once rounded to float32
    _k_skip_float64("float64")
    assert _k_numpy(rk.prelu(-x.astype(np.float64), 1e39)).tolist() == [[-1e39, -1e39]] * 2


@needs_keras
def test_keras_non_finite_slopes_under_jit_are_not_inspected():
    """Under jit the slopes are traced values: not checked (documented); the formula's result
    comes back, NaN for x ≤ 0 with a NaN slope, nothing raised."""
    compiled = _k_compiled(lambda x, w: rk.prelu(x, w))
    if compiled is None:
        pytest.skip(f"Keras calls on {KERAS_BACKEND} run eagerly: the slopes are checked")
    x = _k_tensor([-1.0, 0.0, 2.0])
    y = _k_numpy(compiled(x, _k_tensor([math.nan])))
    assert np.isnan(y[:2]).all() and y[2] == 2.0


# item 8: a real parameter must be finite in the compute dtype (float32 for half types)


@needs_keras
@pytest.mark.parametrize("case", REAL, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int32"])
def test_keras_parameters_that_overflow_the_compute_dtype_are_named(case, dtype):
    (name,) = case.params
    fn, cls = rk.function(case.activation), rk.layer(case.activation)
    x = keras.ops.ones((1, 2), dtype=dtype)
    with pytest.raises(ValueError, match=rf"{name}=1e\+39 overflows float32"):
        fn(x, **{name: 1e39})
    if dtype == "float32":  # a symbolic input: refused when the graph is built
        with pytest.raises(ValueError, match=rf"{name}=1e\+39 overflows float32"):
            fn(keras.Input((2,)), **{name: 1e39})
    if dtype != "int32":  # layers: at construction, against the policy's compute dtype
        policy = KERAS_POLICY[dtype]
        pattern = rf"{cls.__name__}: {name}=1e\+39 overflows float32.*{policy}"
        with pytest.raises(ValueError, match=pattern):
            cls(**{name: 1e39}, dtype=policy)


@needs_keras
@pytest.mark.parametrize("case", REAL, ids=lambda c: c.id)
def test_keras_parameters_finite_in_float64_are_accepted_for_float64(case):
    _k_skip_float64("float64")
    (name,) = case.params
    x = np.array([-1.0, 2.0])
    want = case.numpy_fn()(x, **{name: 1e39})
    assert _k_numpy(rk.function(case.activation)(x, **{name: 1e39})).tolist() == want.tolist()
    layer = rk.layer(case.activation)(**{name: 1e39}, dtype="float64")
    assert _k_numpy(layer(x)).tolist() == want.tolist()


# item 10: complex inputs and weights are refused naming the dtype (Keras would drop the
# imaginary part, or fail in a comparison)


def _k_complex_inputs():
    yield np.array([1j, -2.0]), "complex128"
    yield keras.ops.convert_to_tensor(np.array([1j, -2.0], np.complex64)), "complex64"


@needs_keras
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_keras_complex_inputs_are_refused_naming_the_dtype(case):
    layer = _k_layer(case)
    for x, dtype in _k_complex_inputs():
        with pytest.raises(TypeError, match=rf"{case.name}\(\): x must hold real numbers.*{dtype}"):
            _k_call(case, x)
        pattern = rf"{type(layer).__name__}: the input must hold real numbers.*{dtype}"
        with pytest.raises(TypeError, match=pattern):
            layer(x)


@needs_keras
@pytest.mark.parametrize(
    ("weight", "word"),
    [(np.array([0.25 + 1j]), "complex128"), (True, "bool"), (np.array([True]), "bool"),
     ("0.25", "<U4")],
)  # fmt: skip
def test_keras_prelu_weights_must_hold_real_slopes(weight, word):
    pattern = rf"weight must hold real slopes \(float or int\), got dtype {re.escape(word)}"
    with pytest.raises(TypeError, match=pattern):
        rk.prelu(np.ones(2, np.float32), weight)
    if isinstance(weight, np.ndarray):  # the same as a backend tensor
        with pytest.raises(TypeError, match=rf"weight must hold real slopes.*{word}"):
            rk.prelu(np.ones(2, np.float32), keras.ops.convert_to_tensor(weight))


# item 14: the sign of zero, f(±0) = f'(0)·(±0), on every backend, dtype, path


@needs_keras
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_keras_sign_of_zero_is_the_formula_s(case, dtype):
    """Function (with and without a gradient, and compiled where the backend compiles) and
    layer (in the dtype policy that computes in ``dtype``)."""
    _k_skip_float64(dtype)
    f0, d0 = next((f, d) for x, f, d in case.specials if x == 0.0)
    if f0 != 0:
        pytest.skip("f(0) is not 0")
    want = [math.copysign(1.0, d0 * z) < 0 for z in (0.0, -0.0)]
    x = _k_tensor([0.0, -0.0], dtype)
    results = {
        "function": _k_call(case, x),
        "with gradient": _k_value_and_grad(lambda t: _k_call(case, t), x)[0],
        "layer": _k_layer(case, dtype=KERAS_POLICY[dtype])(keras.ops.reshape(x, (2, 1))),
    }
    compiled = _k_compiled(lambda t: _k_call(case, t))
    if compiled is not None:
        results["compiled"] = compiled(x)
    for path, y in results.items():
        assert keras.backend.standardize_dtype(y.dtype) == dtype, path
        assert np.signbit(_k_numpy(y).ravel()).tolist() == want, (path, _k_numpy(y))


# item 16: masked arrays are refused (a backend tensor carries no mask; NumPy's keeps it)


@needs_keras
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_keras_masked_arrays_are_refused_saying_why(case):
    x = np.ma.masked_array([-1.0, 2.0, 3.0], mask=[False, True, False])
    with pytest.raises(TypeError, match=r"x is a numpy\.ma\.MaskedArray.*carry no mask"):
        _k_call(case, x)
    with pytest.raises(TypeError, match=r"the input is a numpy\.ma\.MaskedArray.*getdata"):
        _k_layer(case)(x.reshape(3, 1))


# item 17: strings, None, objects (and other unsupported inputs) name x and what is accepted


def _k_bad_inputs():
    yield "abc", "got str"
    yield None, "got NoneType"
    yield object(), "got dtype object"
    yield np.array([1.0, None]), "got dtype object"
    yield np.array(["1.0"]), "got dtype <U3"
    yield np.ones(2, np.longdouble), "extended precision"
    if KERAS_BACKEND == "torch":
        yield torch.eye(2).to_sparse(), "sparse_coo"
    if KERAS_BACKEND == "tensorflow":
        import tensorflow as tf

        yield tf.sparse.from_dense(tf.eye(2)), "SparseTensor"
        yield tf.ragged.constant([[1.0], [2.0, 3.0]]), "RaggedTensor"


@needs_keras
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_keras_unsupported_inputs_are_named(case):
    layer = _k_layer(case)
    accepted = "float16, bfloat16, float32, float64, integers or bool"
    for x, word in _k_bad_inputs():
        with pytest.raises(TypeError, match=rf"{case.name}\(\): x .*{re.escape(word)}") as err:
            _k_call(case, x)
        assert accepted in str(err.value)
        pattern = rf"{type(layer).__name__}: the input .*{re.escape(word)}"
        with pytest.raises(TypeError, match=pattern):
            layer(x)
