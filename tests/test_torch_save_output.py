"""``save="output"``: the opt-in that saves only the output (issue #15 item 4), for every catalog
entry that offers it (``Activation.offers_output_save``), from the shared case table.

The exact backward saves the input where the output's rounding would cost f' its contract; with
``save="output"`` relukit stores the hidden tensor once (or as torch.nn's Sigmoid and Tanh do)
and computes f' from the output. Its contract is then stated for the output: within the dtype's
ulps (``ULPS``) of f'(x̃), where x̃ is the real input whose exact value is the saved output
(mpmath, found here by root-finding on the case's own mpmath value), and the limit's f' for an
output at or beyond the function's limits. The value is the exact path's, bit for bit.
"""

from __future__ import annotations

import copy
import inspect
import math
import pickle

import mpmath as mp
import numpy as np
import pytest
from cases import CASES, ULPS, sample_points
from helpers import saved_bytes, saved_storages, torch_gradient_absolute_error, torch_ulp

import relukit

torch = pytest.importorskip("torch")
import relukit.torch as rt  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

OFFERED = [c for c in CASES if c.activation.offers_output_save]
OUTPUT_CASES = [c for c in OFFERED if c.activation.output_refusal(c.params) is None]
REFUSED = [c for c in OFFERED if c not in OUTPUT_CASES]  # ELU with a negative alpha
OUTPUT_IDS = [c.id for c in OUTPUT_CASES]
NO_OPTION = [a for a in relukit.catalog if not a.offers_output_save]
DTYPES = ["float64", "float32", "float16", "bfloat16"]
ULP_BOUND = {**ULPS, "bfloat16": ULPS["float16"]}


def _call(case, x, **extra):
    return getattr(F, case.name)(x, **case.params, **extra)


def _grad(case, x, **extra):
    x = x.detach().clone().requires_grad_(True)
    y = _call(case, x, **extra)
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y))
    return y.detach(), g


def _points(dtype: str) -> torch.Tensor:
    work = np.float32 if dtype == "bfloat16" else np.dtype(dtype)
    xs = np.concatenate([sample_points(work, n=40), [np.inf, -np.inf, np.nan]])
    return torch.from_numpy(xs.astype(work)).to(getattr(torch, dtype))


def test_the_option_is_offered_exactly_where_the_catalog_says():
    for a in relukit.catalog:  # the functions take save exactly where the catalog offers it
        assert ("save" in inspect.signature(getattr(F, a.name)).parameters) == a.offers_output_save
    for case in REFUSED:  # a refusal says which parameter of the case it is about
        assert any(p in case.activation.output_refusal(case.params) for p in case.params)
    x = torch.randn(3)
    for a in NO_OPTION:
        kwargs = {p.name: torch.tensor([0.25]) for p in a.params if p.kind == "weight"}
        with pytest.raises(TypeError, match="save"):
            getattr(F, a.name)(x, **kwargs, save="output")
        with pytest.raises(TypeError, match="save"):
            rt._modules.MODULES[a.name](save="output")


@pytest.mark.parametrize("bad", ["input", "Output", True, None, 1])
@pytest.mark.parametrize("case", OUTPUT_CASES[:1] + OUTPUT_CASES[-1:], ids=lambda c: c.id)
def test_bad_values_are_named(case, bad):
    with pytest.raises(ValueError, match=r"save must be 'auto' .* or 'output'"):
        _call(case, torch.randn(3), save=bad)
    with pytest.raises(ValueError, match="save must be"):
        rt._modules.MODULES[case.name](**case.params, save=bad)


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_parameters_whose_output_hides_the_input_are_refused(case):
    x = torch.randn(3, requires_grad=True)
    module = rt._modules.MODULES[case.name](**case.params, save="output")
    for fn in (lambda v: _call(case, v, save="output"), module):
        for grad in (True, False):  # refused whether or not a graph would be built
            with torch.set_grad_enabled(grad), pytest.raises(ValueError, match="alpha ≥ 0"):
                fn(x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", OUTPUT_CASES, ids=OUTPUT_IDS)
def test_the_value_is_the_exact_paths_and_only_the_output_is_saved(case, dtype):
    x = _points(dtype)
    module = rt._modules.MODULES[case.name](**case.params, save="output")
    for fn in (lambda v: _call(case, v, save="output"), module):
        h = x.clone().requires_grad_(True) * 1  # non-leaf, its own storage
        saved, y = saved_storages(fn, h)
        assert saved == {y.untyped_storage().data_ptr()}
        assert torch.equal(y.detach().nan_to_num(), _call(case, x).nan_to_num())
        with torch.no_grad():  # no graph: the exact path's call, nothing saved
            assert torch.equal(fn(x).nan_to_num(), _call(case, x).nan_to_num())


_FAR = mp.mpf(10) ** 6  # beyond |x| = 1e6 every f' here is its limit to far below an ulp


def _limits(case):
    """((f(−1e6), f'(−inf)), (f(1e6), f'(+inf))): the real values at the far points (mpmath;
    a rounded limit may lie inside the range: float64(−λα) > −λα), the limits' f' from the
    case's special values."""
    d = {x: dx for x, _, dx in case.specials if not math.isnan(x)}
    far = [case.value(s * _FAR, **case.params) for s in (-1, 1)]
    return (far[0], d[-math.inf]), (far[1], d[math.inf])


def _derivative_for_output(case, y: float, x0: float):
    """f'(x̃) with f(x̃) = y exactly (mpmath), the kink rule at a kink, the limit's f' at or
    beyond a limit (every entry offering the option is increasing)."""
    if math.isnan(y):
        return mp.nan
    (lo, d_lo), (hi, d_hi) = _limits(case)
    if mp.mpf(y) <= lo:
        return mp.mpf(d_lo)
    if mp.mpf(y) >= hi:
        return mp.mpf(d_hi)
    for k, d in case.kink_points:
        if y == float(case.value(mp.mpf(k), **case.params)):
            return mp.mpf(d)
    f = lambda t: case.value(t, **case.params) - mp.mpf(y)  # noqa: E731
    x0 = min(max(x0, -1e4), 1e4) if math.isfinite(x0) else math.copysign(1e4, x0)
    a, b = mp.mpf(x0), mp.mpf(x0)
    step = abs(a) * mp.mpf(2) ** -10 or mp.mpf(2) ** -1100
    while f(a) > 0:  # bracket the root around the input the output came from
        a, step = a - step, step * 2
    while f(b) < 0:
        b, step = b + step, step * 2
    return case.derivative(_root(case, f, a, b), **case.params)


def _root(case, f, a, b):
    """The root of increasing f in [a, b]: Newton's steps, bisection where one leaves the
    bracket, to 2^-120 relative (mpmath's 50 digits hold 166 bits)."""
    t = (a + b) / 2
    for _ in range(400):
        ft = f(t)
        if ft == 0:
            return t
        if ft < 0:
            a = t
        else:
            b = t
        d = case.derivative(t, **case.params)
        step = ft / d if d > 0 else mp.inf
        nxt = t - step
        if not a <= nxt <= b:
            nxt = (a + b) / 2
        if abs(nxt - t) <= abs(nxt) * mp.mpf(2) ** -120:
            return nxt
        t = nxt
    raise AssertionError(f"no root found in [{a}, {b}]")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", OUTPUT_CASES, ids=OUTPUT_IDS)
def test_the_gradient_is_exact_for_the_output(case, dtype):
    tdtype = getattr(torch, dtype)
    x = _points(dtype)
    y, g = _grad(case, x, save="output")
    xs, ys, gs = (t.double().tolist() for t in (x, y, g))
    seen: dict[float, float] = {}
    worst = 0.0
    for xv, yv, gv in zip(xs, ys, gs, strict=True):
        if math.isnan(yv):
            assert math.isnan(gv)
            continue
        key = yv
        if key not in seen:
            ref = _derivative_for_output(case, yv, xv)
            ulp = float(torch_ulp(torch.tensor(float(ref), dtype=torch.float64).to(tdtype)))
            seen[key] = float(abs(mp.mpf(gv) - ref) / mp.mpf(ulp))
        worst = max(worst, seen[key])
        assert gv >= 0  # never a wrong sign: every entry here is increasing
    assert worst <= ULP_BOUND[dtype], worst


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", OUTPUT_CASES, ids=OUTPUT_IDS)
def test_the_gradient_is_within_an_epsilon_of_the_largest_derivative(case, dtype):
    """The other side of the trade: relatively off in the tails, but never further from f'(x)
    than the output's rounding allows, about one epsilon of the largest |f'| (4 in float64,
    whose forward is within 4 ulp, not correctly rounded; grad_error.md)."""
    err = torch_gradient_absolute_error(case, dtype, save="output")
    assert err <= (4.0 if dtype == "float64" else 1.5), err


def test_at_minus_infinity_the_gradient_is_the_outputs():
    """The documented cost: the output of −inf is the rounding of the limit, which inputs far
    left share; saving it, f'(−inf) is the f' of the input that gives exactly that output."""
    x = torch.tensor([-math.inf, -30.0])
    _, g = _grad(OUTPUT_CASES[[c.name for c in OUTPUT_CASES].index("selu")], x, save="output")
    assert g[0] == g[1] > 0  # float32(−λα) lies above −λα: a finite input gives it
    assert float(g[0]) < 3e-8  # the f' of that input: below one ulp of the output


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=OUTPUT_IDS)
def test_gradcheck_and_gradgradcheck(case):
    torch.manual_seed(0)
    x = (torch.randn(8, dtype=torch.float64) * 3).requires_grad_(True)
    fn = lambda v: _call(case, v, save="output")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


@pytest.mark.filterwarnings("ignore:`torch.jit.script.*` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
@pytest.mark.parametrize("case", OUTPUT_CASES, ids=OUTPUT_IDS)
def test_forward_mode_vmap_and_compile_give_the_backwards_numbers(case):
    torch.manual_seed(1)
    x = torch.randn(4, 6) * 4
    x[0, :3] = torch.tensor([math.inf, -math.inf, math.nan])
    fn = lambda v: _call(case, v, save="output")  # noqa: E731
    _, expected = _grad(case, x, save="output")
    _, tangent = torch.func.jvp(fn, (x,), (torch.ones_like(x),))
    batched = torch.func.vmap(torch.func.grad(lambda v: fn(v).sum()))(x)
    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    xc = x.clone().requires_grad_(True)
    (gc,) = torch.autograd.grad(compiled(xc).sum(), xc)
    # Compiled: the native ops of eager mode. Forward mode and vmap: the Python path
    # (FromOutput), the catalog's formula, which the native kernels follow bit for bit.
    for got in (tangent, batched, gc):
        torch.testing.assert_close(got, expected, rtol=0, atol=0, equal_nan=True)


INPLACE_CASES = [c for c in OUTPUT_CASES if c.activation.inplace]


@pytest.mark.parametrize("case", INPLACE_CASES, ids=[c.id for c in INPLACE_CASES])
def test_in_place_overwrites_the_input_and_saves_it_alone(case):
    torch.manual_seed(2)
    x0 = torch.randn(40, dtype=torch.float64) * 5
    x0[:3] = torch.tensor([0.0, math.nan, -math.inf])
    y, g_out = _grad(case, x0, save="output")
    b = x0.clone().requires_grad_(True)
    h = b * 1.0
    saved, z = saved_storages(lambda v: _call(case, v, inplace=True, save="output"), h)
    assert z is h and saved == {h.untyped_storage().data_ptr()}
    (g_in,) = torch.autograd.grad(z, b, torch.ones_like(z))
    assert torch.equal(z.detach().nan_to_num(), y.nan_to_num())
    assert torch.equal(g_in.nan_to_num(), g_out.nan_to_num())
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        _call(case, torch.randn(3, requires_grad=True), inplace=True, save="output")


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=OUTPUT_IDS)
def test_the_module_keeps_torch_nns_state_and_says_the_option(case):
    cls = rt._modules.MODULES[case.name]
    m = cls(**case.params, save="output")
    assert "save='output'" in repr(m) and "save" not in repr(cls(**case.params))
    assert m.state_dict().keys() == cls.torch_class()().state_dict().keys()
    for twin in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert twin.save == "output"
    assert type(m.to_torch()) is cls.torch_class()
    x = torch.randn(5, 7)
    assert torch.equal(_grad(case, x, save="output")[1], _module_grad(m, x))
    m.save = "auto"  # reassigned: the exact path again, its native op called directly
    assert torch.equal(_grad(case, x)[1], _module_grad(m, x))


def _module_grad(m, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(m(x).sum(), x)
    return g


def _mlp(make_act):
    layers = []
    for _ in range(3):
        layers += [torch.nn.Linear(32, 32), make_act()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(32, 1))


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=OUTPUT_IDS)
def test_convert_with_save_output_stores_each_hidden_tensor_once(case):
    """Linear → act → Linear keeps the hidden tensor once, as torch.nn's ReLU MLP does."""
    cls = rt._modules.MODULES[case.name]
    x = torch.randn(16, 32)
    model = rt.convert(_mlp(lambda: cls.torch_class()(**case.params)), save="output")
    assert all(m.save == "output" for m in model if isinstance(m, cls))
    assert saved_bytes(model, x) == saved_bytes(_mlp(torch.nn.ReLU), x)
    exact = rt.convert(_mlp(lambda: cls.torch_class()(**case.params)))
    assert all(m.save == "auto" for m in exact if isinstance(m, cls))
    assert saved_bytes(exact, x) > saved_bytes(model, x)


def test_convert_leaves_what_cannot_save_its_output_exact():
    nn = torch.nn
    model = rt.convert(
        nn.Sequential(nn.ELU(-0.5), nn.ELU(0.5), nn.GELU(), nn.ReLU(), nn.Tanh()), save="output"
    )
    assert [getattr(m, "save", None) for m in model] == ["auto", "output", None, None, "output"]
    with pytest.raises(ValueError, match="save must be"):
        rt.convert(nn.Sequential(nn.Tanh()), save="input")
