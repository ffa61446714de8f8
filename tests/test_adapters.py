"""Cases × adapters: every catalog entry through every backend's generic verbs.

The OpInfo-style generic module (DESIGN.md §2): per case of ``tests/cases.py``, each adapter's
``function(activation)`` (NumPy, PyTorch's generic path, Keras) against NumPy's reference and
mpmath, and each adapter's surfaces (a function and a module/layer per entry, docstrings rendered
from the catalog). Backend-specific behaviour stays in the per-backend files.
"""

from __future__ import annotations

import importlib
import math

import mpmath as mp
import numpy as np
import pytest
from cases import CASE_IDS, CASES, TOLERANCES, sample_points

import relukit
from relukit._catalog import _special

ENTRIES = list(relukit.catalog)
ENTRY_IDS = [a.name for a in ENTRIES]


def _weights_as(case, make):
    return {k: make(v) for k, v in case.params.items() if case.activation.param(k).kind == "weight"}


def _values(case):
    return {k: v for k, v in case.params.items() if case.activation.param(k).kind != "weight"}


# --- surfaces: one function and one module/layer per entry, documented from the catalog ----------


@pytest.mark.parametrize("activation", ENTRIES, ids=ENTRY_IDS)
def test_every_adapter_has_every_entry(activation):
    core = activation.docstring_core()
    fn = getattr(relukit, activation.name)
    assert fn.activation is activation and fn.__doc__.startswith(core)
    assert ">>> " in fn.__doc__ and activation.class_name
    torch = pytest.importorskip("torch")
    del torch
    import relukit.torch as rt

    tfn = getattr(rt.functional, activation.name)
    assert tfn.activation is activation and tfn.__doc__.startswith(core)
    cls = getattr(rt, activation.class_name)
    assert cls.activation is activation and cls.__doc__.startswith(core)
    assert [u.activation for u in rt.discover(cls.torch_class()())] == [activation] or (
        cls.torch_class() is None
    )


def test_catalog_examples_match_mpmath():
    """The worked examples typed into the catalog (rendered into every backend's doctest)."""
    for case in CASES:
        ex = case.activation.example
        if ex is None or any(case.params.get(k) != v for k, v in ex.params.items()):
            continue
        for x, v, d in zip(ex.x, ex.value, ex.derivative, strict=True):
            kinks = dict(case.kink_points)
            assert float(case.value(mp.mpf(x), **case.params)) == pytest.approx(
                v, rel=1e-5, abs=1e-12
            )
            want_d = kinks[x] if x in kinks else float(case.derivative(mp.mpf(x), **case.params))
            assert want_d == pytest.approx(d, rel=1e-5, abs=1e-12)


# --- the generic path on torch: correct before any fast path exists ----------------------------


@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_generic_path_matches_numpy(case, dtype_name):
    torch = pytest.importorskip("torch")
    from relukit.torch import _generic

    dtype = getattr(torch, dtype_name)
    np_dtype = np.float32 if dtype_name == "bfloat16" else np.dtype(dtype_name)
    xs = sample_points(np.float32 if dtype_name != "float64" else np.float64, n=40)
    xs = np.concatenate([xs, [math.inf, -math.inf, math.nan]])
    x = torch.from_numpy(xs).to(dtype).requires_grad_(True)
    weights = _weights_as(case, lambda v: torch.tensor(v, dtype=dtype))
    params = case.activation.check_params(**_values(case))
    y = _generic.apply(case.activation, x, params, weights)
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y))
    xn = x.detach().to(torch.float32 if dtype_name == "bfloat16" else dtype).numpy()
    fn = case.numpy_fn()
    want_y = torch.from_numpy(np.asarray(fn(xn, **case.params), dtype=np_dtype)).to(dtype)
    want_g = torch.from_numpy(np.asarray(fn.derivative(xn, **case.params), dtype=np_dtype)).to(
        dtype
    )
    rtol, atol = TOLERANCES[dtype_name]
    for got, want in ((y, want_y), (g, want_g)):
        torch.testing.assert_close(
            got.detach().double(), want.double(), rtol=rtol, atol=atol, equal_nan=True
        )


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_generic_path_gradcheck_and_gradgradcheck(case):
    torch = pytest.importorskip("torch")
    from relukit.torch import _generic

    x = torch.tensor([-2.5, -1.3, -0.4, 0.3, 1.7, 3.1], dtype=torch.float64, requires_grad=True)
    weights = _weights_as(case, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    params = case.activation.check_params(**_values(case))

    def f(x, *w):
        return _generic.apply(case.activation, x, params, dict(zip(weights, w, strict=True)))

    inputs = (x, *weights.values())
    assert torch.autograd.gradcheck(f, inputs)
    assert torch.autograd.gradgradcheck(f, inputs)


def test_traceable_gaussian_tier_against_mpmath():
    """Φ and φ of the traceable tier (torch's float64 namespace) within a few ulp of mpmath."""
    torch = pytest.importorskip("torch")
    from relukit.torch._namespace import EXACT

    xs = np.concatenate([-np.logspace(-8, np.log10(38), 300), np.logspace(-8, np.log10(8), 100)])
    x = torch.from_numpy(xs)
    phi_cdf = _special.ndtr(EXACT, x, torch.special.erfc).numpy()
    phi_pdf = _special.normal_pdf(EXACT, x).numpy()
    for v, got_c, got_p in zip(xs, phi_cdf, phi_pdf, strict=True):
        want_c, want_p = float(mp.ncdf(v)), float(mp.npdf(v))
        assert abs(got_c - want_c) <= 8 * np.spacing(want_c), v
        assert abs(got_p - want_p) <= 8 * np.spacing(want_p), v


# --- Keras: the same generic verbs ---------------------------------------------------------------


@pytest.mark.parametrize("activation", ENTRIES, ids=ENTRY_IDS)
def test_keras_adapter_has_every_entry(activation):
    pytest.importorskip("keras")
    rk = importlib.import_module("relukit.keras")
    fn = getattr(rk, activation.name)
    assert fn.__doc__.startswith(activation.docstring_core())
    layer = getattr(rk, activation.class_name)
    assert layer.__doc__.startswith(activation.docstring_core())


# --- torch.nn's modules: convert() and revert() for every entry with a torch.nn class -----------


def _torch_nn_module(case):
    """torch.nn's module for ``case`` (its class is the catalog's ``class_name``), every
    parameter passed explicitly; ``None`` where torch.nn has no such class or it takes a weight."""
    from torch import nn

    cls = getattr(nn, case.activation.class_name, None)
    if cls is None or any(p.kind == "weight" for p in case.activation.params):
        return None
    return cls(**case.params)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_convert_and_revert_every_torch_nn_module(case):
    torch = pytest.importorskip("torch")
    import relukit.torch as rt

    theirs = _torch_nn_module(case)
    if theirs is None:
        pytest.skip("torch.nn has no such parameter-free module")
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), theirs)
    keys = list(model.state_dict())
    assert rt.convert(model) is model
    ours = model[1]
    assert type(ours) is getattr(rt, case.activation.class_name)
    assert repr(ours) == repr(theirs) and list(model.state_dict()) == keys
    x = torch.randn(64, 3) * 4
    with torch.no_grad():
        h = model[0](x)
        want, got = theirs(h), ours(h)
    if case.oracle_where is not None:
        mask = case.oracle_where(h, **case.params)
        want, got = want[mask], got[mask]
    rtol, atol = TOLERANCES["float32"]
    torch.testing.assert_close(
        got, want, rtol=rtol, atol=max(atol, case.oracle_atol.get("float32", 0))
    )
    back = rt.revert(model)[1]
    assert type(back) is type(theirs) and repr(back) == repr(theirs)


# --- saving the output: the catalog's output_derivative against its derivative ------------------

# Where the output determines f' (ELU: alpha ≥ 0).
OUTPUT_CASES = [c for c in CASES if c.activation.output_refusal(c.params) is None]


@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("case", OUTPUT_CASES, ids=[c.id for c in OUTPUT_CASES])
def test_output_derivative_agrees_with_the_input_derivative(case, dtype_name):
    """f'(x) recovered from the rounded output y = f(x) is never wrong-signed, propagates NaN,
    and, in the dtypes the catalog lists in ``output_dtypes`` (those that save the output),
    meets the contract: within the dtype's ulp budget of mpmath (4 ulp float64, 1 ulp float32 and
    half types), as the input-based derivative is; the torch generic path saves the output
    exactly there, and its gradient is that derivative."""
    torch = pytest.importorskip("torch")
    from cases import ULPS

    from relukit._numpy_ns import for_dtype
    from relukit.torch import _generic

    a = case.activation
    dtype = getattr(torch, dtype_name)
    work = np.float64 if dtype_name == "float64" else np.float32
    xs = np.concatenate(
        [sample_points(work, n=60), np.linspace(-40, 40, 2001).astype(work), [np.nan]]
    )
    x = torch.from_numpy(np.unique(xs)).to(dtype)
    params = a.check_params(**_values(case))
    y = _generic.value(a, x, params, {})  # rounded to the dtype, as saved
    y64 = y.double().numpy()
    d_out = a.output_derivative(for_dtype(np.float64), y64, **params)
    x64 = x.double().numpy()
    d_in = case.numpy_fn().derivative(x64, **case.params)
    assert np.array_equal(np.isnan(d_out), np.isnan(x64))
    ok = ~np.isnan(x64)
    assert not (np.sign(d_out[ok]) * np.sign(d_in[ok]) < 0).any(), "wrong-signed"
    saves = a.saves_output(dtype_name)
    assert _generic.saves_output(a, dtype, False) == saves
    if saves:
        # the gradient the generic path returns, rounded once to the dtype, against mpmath
        xt = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(_generic.apply(a, xt, params, {}).sum(), xt)
        got = g.double().numpy()[ok]
        info = torch.finfo(dtype)
        kinks = dict(case.kink_points)
        for xv, gv in zip(x64[ok], got, strict=True):
            ref = kinks[xv] if xv in kinks else case.derivative(mp.mpf(float(xv)), **case.params)
            ref = float(ref)
            ulp = info.eps * 2.0 ** (math.frexp(abs(ref))[1] - 1) if ref else 0.0
            ulp = max(ulp, float(info.smallest_normal) * info.eps)
            assert abs(gv - ref) <= ULPS.get(dtype_name, 1.0) * ulp, (xv, gv, ref)
