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
