"""relukit.diagnostics' NumPy statistics: against an independent computation, and mergeable."""

import itertools
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from relukit.diagnostics import Report, UnitStats
from relukit.diagnostics._stats import resolve_unit_axis


def independent(h, pre, axis):
    """Per-unit statistics by moving the unit axis first and looping over units."""
    h = np.moveaxis(np.asarray(h, dtype=np.float64), axis, 0)
    x = np.moveaxis(np.asarray(pre, dtype=np.float64), axis, 0)
    rows = [
        (int((xi > 0).sum()), float(np.abs(hi).sum()), float(hi.sum()))
        for hi, xi in zip(h, x, strict=True)
    ]
    return np.array(rows).T


@pytest.mark.parametrize(
    ("shape", "unit_axis", "expected_axis"),
    [
        ((5, 3), None, 1),
        ((4, 6, 3), None, 2),
        ((2, 3, 4, 5), None, 1),
        ((2, 3, 4, 5, 2), None, 1),
        ((4, 3, 7), 1, 1),
        ((2, 3, 4, 5), -1, 3),
        ((6,), None, 0),
    ],
)
def test_statistics_match_an_independent_computation(shape, unit_axis, expected_axis):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    h = np.where(x > 0, x, 0.1 * x)
    s = UnitStats.observe(h, pre=x, unit_axis=unit_axis)
    active, abs_sum, total = independent(h, x, expected_axis)
    assert s.units == shape[expected_axis]
    assert s.n == x.size // shape[expected_axis]
    np.testing.assert_array_equal(s.active, active)
    np.testing.assert_allclose(s.abs_sum, abs_sum, rtol=1e-12)
    np.testing.assert_allclose(s.sum, total, rtol=1e-12, atol=1e-12)
    mean_abs = abs_sum / s.n
    np.testing.assert_allclose(s.score, mean_abs / mean_abs.mean(), rtol=1e-12)
    np.testing.assert_allclose(s.sparsity, 1 - active.sum() / x.size)


def test_dead_and_dormant_by_construction():
    x = np.random.default_rng(1).normal(size=(100, 6))
    x[:, [1, 4]] -= 1e3  # never > 0
    x[:, 2] *= 1e-3  # tiny but alive
    s = UnitStats.observe(np.maximum(x, 0), pre=x)
    assert s.dead().tolist() == [1, 4]
    assert s.dormant(0.1).tolist() == [1, 2, 4]
    assert s.dormant(0.0).tolist() == [1, 4]


def test_gradient_score():
    g = np.array([[1.0, 0.0, 3.0], [1.0, 0.0, 1.0]])
    s = UnitStats.observe(np.ones((2, 3)), grad=g)
    np.testing.assert_allclose(s.grad_score, [2 / 2, 0.0, 4 / 2])
    assert UnitStats.observe(np.ones((2, 3))).grad_score is None


# Dyadic data (multiples of 1/8 below 2**20): every partial sum is exact in float64, so merged
# statistics must equal the whole data's bit for bit wherever the data is split.
dyadic = st.integers(-(2**20), 2**20).map(lambda k: k / 8)


@given(
    data=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5),
        elements=dyadic,
    ),
    cut=st.floats(0, 1),
    grads=st.booleans(),
)
def test_split_anywhere_merges_into_the_whole(data, cut, grads):
    k = int(cut * data.shape[0])
    h = np.where(data > 0, data, data / 4)
    g = data if grads else None
    whole = UnitStats.observe(h, pre=data, grad=g)
    first = UnitStats.observe(h[:k], pre=data[:k], grad=None if g is None else g[:k])
    second = UnitStats.observe(h[k:], pre=data[k:], grad=None if g is None else g[k:])
    assert first.merge(second) == whole
    assert second + first == whole
    assert UnitStats.empty(whole.units, gradients=grads).merge(whole) == whole


@given(
    data=hnp.arrays(
        np.float32,
        st.tuples(st.integers(2, 40), st.integers(1, 6)),
        elements=st.floats(-1e3, 1e3, width=32),
    ),
    cuts=st.lists(st.floats(0, 1), max_size=4),
)
def test_many_parts_merge_to_float64_rounding(data, cuts):
    edges = sorted({0, data.shape[0], *(int(c * data.shape[0]) for c in cuts)})
    parts = [UnitStats.observe(data[a:b]) for a, b in itertools.pairwise(edges)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    whole = UnitStats.observe(data)
    assert merged.n == whole.n
    np.testing.assert_array_equal(merged.active, whole.active)  # counts: exact
    scale = np.abs(data).sum(axis=0) + 1e-300
    assert np.all(np.abs(merged.abs_sum - whole.abs_sum) <= 1e-13 * scale)
    assert np.all(np.abs(merged.sum - whole.sum) <= 1e-13 * scale)


def test_round_trip_through_dict():
    s = UnitStats.observe(np.arange(12.0).reshape(4, 3) - 5, grad=np.ones((4, 3)))
    assert UnitStats.from_dict(s.to_dict()) == s


def test_no_data_reports_nothing():
    s = UnitStats.empty(4)
    assert s.dead().tolist() == [] and s.dormant().tolist() == []
    assert s.sparsity == 0.0 and s.score.tolist() == [0.0] * 4


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: resolve_unit_axis(2, 2), ValueError, "unit_axis=2 is out of range"),
        (lambda: resolve_unit_axis(3, -4), ValueError, "-3 ≤ unit_axis < 3"),
        (lambda: resolve_unit_axis(2, 1.0), TypeError, "unit_axis must be an int"),
        (lambda: UnitStats.observe(np.ones((2, 3))).dormant(-0.1), ValueError, "tau must be"),
        (lambda: UnitStats.observe(np.ones((2, 3))).dormant(float("nan")), ValueError, "[0, inf)"),
        (lambda: UnitStats.observe(np.ones((2, 3))).dormant(True), TypeError, "tau must be"),
        (lambda: UnitStats.observe(np.float64(1)), ValueError, "at least one dimension"),
        (lambda: UnitStats.observe(np.ones(3), pre=np.ones(2)), ValueError, "pre has shape"),
        (lambda: UnitStats.empty(2).merge(UnitStats.empty(3)), ValueError, "2 and 3 units"),
        (lambda: Report({"a": UnitStats.empty(2)}, tau=-1), ValueError, "tau must be"),
        (lambda: Report({"a": UnitStats.empty(2)}).dead_units("b"), KeyError, "'a'"),
    ],
)
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error, match=re.escape(words)):
        call()


def test_import_needs_numpy_only():
    code = (
        "import sys, relukit.diagnostics as d; "
        "assert 'torch' not in sys.modules and 'keras' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
