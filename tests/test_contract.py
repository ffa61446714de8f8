"""The contract under bad input and faults (issue #10): the same answer or a named error.

Regression tests for each probed failure, per backend where it applies. Hypothesis properties
over dtypes, shapes, strides, special values and parameters live in ``test_properties.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from cases import CASE_IDS, CASES

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
    and ATen give), on NumPy, on torch with and without autograd, native or not."""
    d0 = next(d for x, _, d in case.specials if x == 0.0)
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
    assert (np.abs(g.numpy() - want) <= 8 * np.spacing(np.maximum(scale, 1e-300))).all()
    value = relukit.gelu(x, approximate=approximate)
    ulps = np.abs(y.detach().numpy() - value) / np.spacing(np.maximum(np.abs(value), 1e-300))
    assert ulps.max() <= 8


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
