"""The few-bit backward (GELU, SiLU, Mish): its tables (scripts/make_fewbit_tables.py) and
torch._fewbit."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

import relukit

torch = pytest.importorskip("torch")
fb = pytest.importorskip("relukit.torch._fewbit")
rtF = pytest.importorskip("relukit.torch.functional")
rt = pytest.importorskip("relukit.torch")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "relukit" / "_data" / "fewbit.json"
TARGETS = tuple(fb.TARGETS)  # "gelu", "gelu_tanh", "silu", "mish"
BITS = (1, 2, 3, 4)
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
CASES = [(t, k) for t in TARGETS for k in BITS]


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_fewbit_tables", ROOT / "scripts" / "make_fewbit_tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _doc():
    return json.loads(DATA.read_text())


def _fprime(x, target):
    entry, params = fb.TARGETS[target]
    fn = getattr(relukit, entry.name)
    return np.asarray(fn.derivative(np.asarray(x, dtype=np.float64), **params))


def _exact(x, target):
    """relukit.torch.functional's value without backward_bits."""
    entry, params = fb.TARGETS[target]
    return getattr(rtF, entry.name)(x, **params)


def _reference_grad(x, grad, target, bits):
    """grad · q(x) from the float64 table: level of #{b < x}, rounded to grad's dtype."""
    t = fb.fewbit_table(target, bits)
    code = np.searchsorted(np.array(t.breakpoints), x.detach().double().cpu().numpy(), side="left")
    q = torch.tensor(np.array(t.levels)[code], dtype=torch.float64).to(grad.dtype)
    return q.to(grad.device) * grad


def _saved(fn, x):
    """(bytes over unique storages, number of tensors) saved for backward by fn(x)."""
    storages, count = {}, [0]

    def pack(t):
        count[0] += 1
        s = t.untyped_storage()
        storages[s.data_ptr(), s.nbytes()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x)
    return sum(storages.values()), count[0]


def _edge_inputs(target, bits, dtype, n=4096, seed=0):
    """Random N(0, 2²) inputs plus each breakpoint, its dtype rounding and its neighbours."""
    g = torch.Generator().manual_seed(seed)
    x = (2 * torch.randn(n, generator=g, dtype=torch.float64)).to(dtype)
    b = torch.tensor(fb.fewbit_table(target, bits).breakpoints, dtype=torch.float64)
    down = fb._round_down(b.tolist(), dtype)
    up = torch.nextafter(down, torch.full_like(down, math.inf))
    special = torch.cat([b.to(dtype), down, up, torch.nextafter(down, -up)])
    x[: special.numel()] = special
    return x


# ------------------------------------------------------------------------------------ the tables


@pytest.mark.parametrize(("target", "bits"), CASES)
def test_table_shape_order_and_range(target, bits):
    t = fb.fewbit_table(target, bits)
    b, lv = np.array(t.breakpoints), np.array(t.levels)
    assert b.size == 2**bits - 1 and lv.size == 2**bits
    assert np.all(np.diff(b) > 0)
    grid = np.linspace(-12, 12, 200_001)
    fp = _fprime(grid, target)
    assert fp.min() < lv.min() and lv.max() < fp.max()  # means of f' lie inside its range
    # f' falls to its minimum at x ≈ −1.41, rises to its maximum at x ≈ 1.41, then falls to 1:
    # the levels, means of f' over consecutive pieces, can only change direction twice, − + −.
    signs = "".join("+" if d > 0 else "-" for d in np.diff(lv))
    assert re.fullmatch(r"-*\+*-*", signs), signs


@pytest.mark.parametrize("target", TARGETS)
def test_errors_fall_with_bits_and_beat_the_uniform_table(target):
    doc = _doc()["tables"][target]
    l2 = [doc[str(k)]["gaussian_l2"] for k in BITS]
    assert all(a > b for a, b in itertools.pairwise(l2))
    for k in BITS:
        e = doc[str(k)]
        assert e["gaussian_mse"] == pytest.approx(e["gaussian_l2"] ** 2, rel=1e-12)
        # Ours is the Gaussian optimum, so it beats any other table under the Gaussian weight.
        assert e["gaussian_mse"] < e["uniform_baseline"]["gaussian_mse"]
        # And the uniform baseline is the uniform optimum: it wins under its own weight.
        assert e["uniform_baseline"]["uniform_mse"] <= _uniform_mse(target, e) * (1 + 1e-12)
    if not target.startswith("gelu"):
        return
    # PRIOR_ART.md: 3-bit exact GELU 1.91e-3 (Gaussian-optimal) vs 3.38e-3 (uniform-optimal).
    rel = 3e-3 if target == "gelu" else 5e-3
    assert doc["3"]["gaussian_mse"] == pytest.approx(1.91e-3, rel=rel)
    assert doc["3"]["uniform_baseline"]["gaussian_mse"] == pytest.approx(3.38e-3, rel=5e-3)
    assert doc["4"]["gaussian_mse"] == pytest.approx(5.9e-4, rel=5e-3)
    # The issue asked for ≤ 0.6× the uniform-optimal error at k = 2, 3, 4; that holds at k = 3
    # (in MSE) only. benchmarks/bench_fewbit.py reports the ratio and that target for every k.
    assert doc["3"]["ratio_mse"] <= 0.6


def _uniform_mse(target, entry):
    """Our Gaussian-optimal table's error under the baseline's uniform weight."""
    m = _script()
    anti = m.Antiderivatives(target, "uniform", m.UNIFORM_DOMAIN)
    return m.weighted_mse(anti, np.array(entry["breakpoints"]), np.array(entry["levels"]))


@pytest.mark.parametrize(("target", "bits"), [(m, k) for m in TARGETS for k in (2, 3, 4)])
def test_table_is_stationary(target, bits):
    """Optimality: each breakpoint sits where f' crosses the midpoint of its two levels, and each
    level is the Gaussian-weighted mean of f' over its piece."""
    t = fb.fewbit_table(target, bits)
    b, lv = np.array(t.breakpoints), np.array(t.levels)
    np.testing.assert_allclose(_fprime(b, target), 0.5 * (lv[:-1] + lv[1:]), atol=1e-7)
    edges = np.concatenate([[-40.0], b, [40.0]])
    for i in range(lv.size):
        x = np.linspace(edges[i], edges[i + 1], 20_001)
        w = np.exp(-0.5 * x * x)
        mean = np.trapezoid(_fprime(x, target) * w, x) / np.trapezoid(w, x)
        assert mean == pytest.approx(lv[i], abs=1e-6)


@pytest.mark.slow  # regenerates every table
def test_json_is_what_the_script_writes():
    m = _script()
    doc = json.loads(m.dumps(m.build()))
    assert m._max_difference(doc, _doc()) <= 1e-9


def test_gaussian_error_by_independent_quadrature():
    from scipy.integrate import quad
    from scipy.stats import norm

    t = fb.fewbit_table("gelu", 3)
    edges = [-np.inf, *t.breakpoints, np.inf]
    total = 0.0
    for i, level in enumerate(t.levels):
        total += quad(
            lambda x, lv=level: (_fprime([x], "gelu")[0] - lv) ** 2 * norm.pdf(x),
            edges[i],
            edges[i + 1],
            epsabs=1e-14,
            limit=200,
        )[0]
    assert math.sqrt(total) == pytest.approx(t.gaussian_l2, rel=1e-8)


@pytest.mark.parametrize(("target", "bits"), CASES)
def test_max_abs_error_is_the_sup(target, bits):
    t = fb.fewbit_table(target, bits)
    b = np.array(t.breakpoints)  # both sides of each: the sup can be a one-sided limit there
    x = np.concatenate(
        [np.linspace(-30, 30, 600_001), b, np.nextafter(b, np.inf), [-np.inf, np.inf]]
    )
    q = np.array(t.levels)[np.searchsorted(np.array(t.breakpoints), x, side="left")]
    err = np.abs(_fprime(x, target) - q).max()
    assert err <= t.max_abs_error + 1e-12
    assert err >= t.max_abs_error - 1e-6


# -------------------------------------------------------------------------- the autograd function


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("target", "bits"), CASES)
def test_backward_is_grad_times_level_exactly(target, bits, dtype):
    x = _edge_inputs(target, bits, dtype).requires_grad_()
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    y = fb.fewbit(x, target, bits)
    y.backward(grad)
    assert torch.equal(x.grad, _reference_grad(x, grad, target, bits))
    # The forward is relukit's own value (exact on CPU), bit for bit.
    assert torch.equal(y, _exact(x.detach(), target))


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1000, 262_151])
def test_saved_bytes_are_ceil_n_bits_over_8(n, bits):
    x = torch.randn(n, requires_grad=True)
    nbytes, count = _saved(lambda v: fb.fewbit(v, "gelu", bits), x)
    assert (nbytes, count) == (math.ceil(n * bits / 8), 1)
    assert fb.packed_nbytes(n, bits) == math.ceil(n * bits / 8)


@pytest.mark.parametrize("target", TARGETS)
def test_functions_and_modules_take_backward_bits(target):
    """relukit.torch's functions and modules for each few-bit entry: same value, the k-bit code
    saved instead of the input, the table's gradient; in place too; other entries refuse it."""
    entry, params = fb.TARGETS[target]
    fn = getattr(rtF, entry.name)
    x = torch.randn(1001, generator=torch.Generator().manual_seed(5))
    grad = torch.randn(1001, generator=torch.Generator().manual_seed(6))
    nbytes, count = _saved(lambda v: fn(v, **params, backward_bits=3), x.clone().requires_grad_())
    assert (nbytes, count) == (math.ceil(1001 * 3 / 8), 1)
    module = getattr(rt, entry.class_name)(**params, backward_bits=3)
    assert "backward_bits=3" in repr(module)
    for run in (lambda v: fn(v, **params, backward_bits=3), module):
        v = x.clone().requires_grad_()
        y = run(v)
        assert torch.equal(y, _exact(x, target))
        y.backward(grad)
        assert torch.equal(v.grad, _reference_grad(x, grad, target, 3))
    if entry.inplace:
        v = x.clone().requires_grad_()
        h = v * 1.0  # a non-leaf, as in a model
        out = fn(h, **params, inplace=True, backward_bits=3)
        assert out is h and torch.equal(h, _exact(x, target))
        h.backward(grad)
        assert torch.equal(v.grad, _reference_grad(x, grad, target, 3))


def test_entries_without_a_table_refuse_backward_bits():
    others = [a for a in relukit.catalog if not a.few_bit]
    assert others
    for a in others:
        with pytest.raises(TypeError, match="backward_bits"):
            getattr(rtF, a.name)(torch.randn(3), backward_bits=4)
    with pytest.raises(ValueError, match="offered for gelu, mish, silu only; got 'elu'"):
        fb.target("elu", {})


def test_saved_bytes_with_nan_add_one_bit_per_element():
    x = torch.randn(1001)
    x[5] = math.nan
    nbytes, count = _saved(lambda v: fb.fewbit(v, "gelu", 3), x.requires_grad_())
    assert (nbytes, count) == (math.ceil(1001 * 3 / 8) + math.ceil(1001 / 8), 2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", TARGETS)
def test_special_values(target, dtype):
    x = torch.tensor([-math.inf, math.inf, math.nan, -1.0, 0.0, 2.0], dtype=dtype)
    x.requires_grad_()
    y = fb.fewbit(x, target, 2)
    assert y[0].item() == 0 and y[1].item() == math.inf and math.isnan(y[2].item())
    y.backward(torch.ones_like(y))
    t = fb.fewbit_table(target, 2)
    assert torch.isnan(x.grad[2]) and not torch.isnan(x.grad[[0, 1, 3, 4, 5]]).any()
    assert x.grad[0].item() == torch.tensor(t.levels[0], dtype=dtype).item()
    assert x.grad[1].item() == torch.tensor(t.levels[-1], dtype=dtype).item()
    # Without autograd the value follows the same contract.
    with torch.no_grad():
        v = fb.fewbit(x.detach(), target, 2)
    assert torch.equal(v[[0, 1, 3, 4, 5]], y.detach()[[0, 1, 3, 4, 5]])


def test_huge_finite_inputs_take_the_careful_path_and_stay_right():
    x = torch.full((10,), 3e38)
    x[1::2] = -3e38  # the float32 sum overflows although nothing is NaN or inf
    x.requires_grad_()
    y = fb.fewbit(x, "gelu", 4)
    y.backward(torch.ones_like(y))
    assert torch.equal(x.grad, _reference_grad(x, torch.ones(10), "gelu", 4))
    assert not torch.isnan(x.grad).any()


@pytest.mark.parametrize("bits", BITS)
def test_shapes_non_contiguous_and_broadcast_grad(bits):
    base = torch.randn(6, 40, dtype=torch.float64)
    x = base.t().requires_grad_()  # non-contiguous (40, 6)
    y = fb.fewbit(x, "gelu_tanh", bits)
    assert y.shape == x.shape
    y.sum().backward()  # the incoming gradient is an expanded (stride-0) tensor of ones
    assert torch.equal(x.grad, _reference_grad(x, torch.ones_like(x), "gelu_tanh", bits))
    s = torch.tensor(0.3, requires_grad=True)  # 0-d
    fb.fewbit(s, "gelu", bits).backward()
    assert s.grad.shape == () and torch.equal(
        s.grad, _reference_grad(s, torch.ones(()), "gelu", bits)
    )
    e = torch.empty(0, 3, requires_grad=True)
    fb.fewbit(e, "gelu", bits).sum().backward()
    assert e.grad.shape == (0, 3)


@pytest.mark.parametrize(("target", "bits"), CASES)
def test_gradient_close_to_exact_derivative(target, bits):
    t = fb.fewbit_table(target, bits)
    x = torch.randn(200_000, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x.requires_grad_()
    fb.fewbit(x, target, bits).backward(torch.ones_like(x))
    exact = torch.from_numpy(_fprime(x.detach().numpy(), target))
    err = (x.grad - exact).abs()
    assert err.max() <= t.max_abs_error + 1e-12
    # Monte-Carlo estimate of the Gaussian-weighted L2 error (x ~ N(0, 1)).
    assert err.pow(2).mean().sqrt().item() == pytest.approx(t.gaussian_l2, rel=0.02)


def test_float32_gradient_matches_float64_codes():
    x = torch.randn(10_000, generator=torch.Generator().manual_seed(3)).requires_grad_()
    fb.fewbit(x, "gelu", 4).backward(torch.ones_like(x))
    x64 = x.detach().double().requires_grad_()
    fb.fewbit(x64, "gelu", 4).backward(torch.ones_like(x64))
    assert torch.equal(x.grad, x64.grad.float())


def test_no_grad_saves_nothing_and_double_backward_is_linear():
    x = torch.randn(100)
    assert fb.fewbit(x, "gelu", 4).grad_fn is None
    x.requires_grad_()
    g = torch.randn(100, requires_grad=True)
    (gx,) = torch.autograd.grad(fb.fewbit(x, "gelu", 4), x, g, create_graph=True)
    (ggx,) = torch.autograd.grad(gx.sum(), g)  # ∂(g·q(x))/∂g = q(x)
    assert torch.equal(ggx, _reference_grad(x, torch.ones(100), "gelu", 4))


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"key": "elu"}, ValueError, "target must be one of 'gelu', 'gelu_tanh'"),
        ({"bits": 5}, ValueError, "backward_bits"),
        ({"bits": 0}, ValueError, "backward_bits"),
        ({"bits": True}, ValueError, "backward_bits"),
    ],
)
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        fb.fewbit(torch.randn(3), **kwargs)


@pytest.mark.parametrize("dtype", [torch.int32, torch.bool, torch.complex64])
def test_non_floating_input_is_refused(dtype):
    with pytest.raises(TypeError, match=str(dtype).removeprefix("torch.")):
        fb.fewbit(torch.zeros(3, dtype=dtype), "gelu", 2)


# torch.compile's internals (dynamo, inductor's imports) raise DeprecationWarnings in torch 2.13.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
@pytest.mark.parametrize("target", ["gelu", "silu"])
def test_torch_compile_fullgraph(backend, target):
    torch._dynamo.reset()
    fn = torch.compile(lambda v: fb.fewbit(v, target, 3), fullgraph=True, backend=backend)
    x = torch.randn(1003, generator=torch.Generator().manual_seed(4)).requires_grad_()
    grad = torch.randn(1003)
    y = fn(x)
    y.backward(grad)
    assert torch.equal(x.grad, _reference_grad(x, grad, target, 3))
    if target == "gelu":
        # Inductor generates its own erf: within ~5e-7 absolute of ATen's value, not bitwise.
        torch.testing.assert_close(y, torch.nn.functional.gelu(x.detach()), rtol=1e-5, atol=1e-6)
    else:  # relukit's float64-then-round value traces: bit for bit the eager one
        assert torch.equal(y, _exact(x.detach(), target))
    if backend == "inductor":
        return
    # Traced, a NaN input turns the whole gradient of the call to NaN (documented).
    x = torch.tensor([-math.inf, math.inf, math.nan, 1.0], requires_grad=True)
    y = fn(x)
    assert y[0].item() == 0 and y[1].item() == math.inf
    y.sum().backward()
    assert torch.isnan(x.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", DTYPES)
def test_cuda_matches_cpu(dtype):
    x = _edge_inputs("gelu", 3, dtype)
    grad = torch.randn(x.shape).to(dtype)
    xc = x.cuda().requires_grad_()
    fb.fewbit(xc, "gelu", 3).backward(grad.cuda())
    assert torch.equal(xc.grad.cpu(), _reference_grad(x, grad, "gelu", 3))


@pytest.mark.parametrize("bits", BITS)
@pytest.mark.parametrize("name", sorted({entry.name for entry, _ in fb.TARGETS.values()}))
def test_meta_tensors_infer_shapes(bits, name):
    """Shape inference (meta device): no value is read, forward and backward give shapes."""
    x = torch.empty(3, 5, 7, device="meta", requires_grad=True)
    y = getattr(rtF, name)(x, backward_bits=bits)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert y.device.type == "meta" and y.shape == x.shape and g.shape == x.shape
