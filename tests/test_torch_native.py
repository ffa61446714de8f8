"""relukit.torch's native CPU kernels: built here, equal to the ATen path, exact GELU.

The rest of the torch suite runs through the native kernels wherever they apply (eager CPU); these
tests pin what is specific to them: that they are built at all, that they agree with the ATen
path they replace, that GELU is within 1 ulp of mpmath in float32 and below, and that losing
them degrades to the ATen path with a warning, not an error.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cases import CASES, ULPS, sample_points  # noqa: E402
from helpers import torch_gelu_ulps, torch_ulp  # noqa: E402

import relukit  # noqa: E402
from relukit.torch import _native  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

# The exact (piecewise-linear) entries with a native kernel must equal ATen's bit for bit.
NATIVE_CASES = [
    c
    for c in CASES
    if c.activation.piecewise_linear
    and c.name != "prelu"  # a weight tensor: test_prelu_per_channel_equals_the_aten_path_...
    and (ops := _native.ops())
    and hasattr(ops, c.name)
]


def value_and_grad(fn, x, *args):
    x = x.detach().clone().requires_grad_(True)
    y = fn(x, *args)
    (g,) = torch.autograd.grad(y, x, torch.ones_like(y))
    return y.detach(), g


def test_native_kernels_are_built_and_used():
    assert _native.ops() is not None, "the native kernels did not build (see the warning)"
    x = torch.randn(5, requires_grad=True)
    ys = (F.relu(x), F.leaky_relu(x, 0.2), F.gelu(x), F.gelu(x, approximate="tanh"), F.elu(x))
    ys += (F.prelu(x, torch.tensor(0.1, requires_grad=True)),)
    for y in ys:
        assert type(y.grad_fn).__name__ == "CppFunction"  # a node built in C++
    names = ["Relu", "LeakyRelu", "Gelu", "Gelu", "Elu"]  # hand-built, as ATen's own
    assert [y.grad_fn.name() for y in ys[:5]] == [f"Relukit{n}Backward" for n in names]


@pytest.mark.filterwarnings("ignore:`torch.jit.script.*` is deprecated:DeprecationWarning")  # fwAD
def test_the_hand_built_nodes_refuse_a_tangent_and_follow_saved_tensor_hooks():
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        dual = fwAD.make_dual(torch.randn(3), torch.ones(3))
        ops = torch.ops.relukit
        for op in (
            ops.relu,
            lambda t: ops.leaky_relu(t, 0.1),
            lambda t: ops.gelu(t, False),
            lambda t: ops.elu(t, 1.0),
            lambda t: ops.activation(t, "silu"),
        ):
            with pytest.raises(RuntimeError, match="no forward-mode AD formula"):
                op(dual)
    # What a node saves goes through saved_tensors_hooks (activation offloading, checkpointing).
    packed = []

    def pack(t):
        packed.append(t.clone())
        return len(packed) - 1

    x = torch.tensor([-1.0, 2.0, math.nan], requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda i: packed[i]):
        y = torch.ops.relukit.leaky_relu(x, 0.5)  # saves its output (a positive slope)
    assert len(packed) == 1
    torch.testing.assert_close(packed[0], y.detach(), equal_nan=True)
    (g,) = torch.autograd.grad(y, x, torch.ones(3))
    torch.testing.assert_close(g, torch.tensor([0.5, 1.0, math.nan]), equal_nan=True)


@pytest.mark.parametrize("case", NATIVE_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_relu_and_leaky_equal_the_aten_path_bit_for_bit(case, dtype, monkeypatch):
    np_dtype = np.float32 if dtype == torch.bfloat16 else torch.empty(0, dtype=dtype).numpy().dtype
    x = torch.from_numpy(sample_points(np_dtype)).to(dtype)
    x = torch.cat([x, torch.tensor([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=dtype)])
    fn = getattr(F, case.name)
    args = tuple(case.params.values())
    native = value_and_grad(fn, x, *args)
    monkeypatch.setattr(_native, "for_input", lambda x: None)
    aten = value_and_grad(fn, x, *args)
    for a, b in zip(native, aten, strict=True):
        assert torch.equal(a.isnan(), b.isnan())
        assert torch.equal(a.nan_to_num(), b.nan_to_num())


@pytest.mark.parametrize("which", ["value", "derivative"])
@pytest.mark.parametrize("dtype_name", ["float32", "float16"])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_within_one_ulp_of_mpmath(approximate, dtype_name, which):
    worst, at = torch_gelu_ulps(approximate, dtype_name, which)
    assert worst <= ULPS[dtype_name], f"{worst:.2f} ulp at x = {at!r}"


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float32_dense_grid_and_next_to_the_zero_of_its_derivative(approximate):
    # A dense grid over the whole range, plus the 2**19 float32 nearest gelu''s zero (x ≈ −0.75,
    # where Φ(x) + x·φ(x) cancels), against relukit's float64 NumPy GELU (within 3.2 float64
    # ulp: exact at float32's scale).
    grid = np.linspace(-15, 8, 400_001, dtype=np.float32)
    slope = relukit.gelu.derivative(grid.astype(np.float64), approximate=approximate)
    window = (grid > -1) & (grid < -0.5)
    root = grid[window][np.argmin(np.abs(slope[window]))]
    near = (np.arange(-(2**18), 2**18, dtype=np.int32) + root.view(np.int32)).view(np.float32)
    xs = np.concatenate([grid, near])
    y, g = value_and_grad(lambda v: F.gelu(v, approximate=approximate), torch.from_numpy(xs))
    wide = xs.astype(np.float64)
    for got, ref in (
        (y, relukit.gelu(wide, approximate=approximate)),
        (g, relukit.gelu.derivative(wide, approximate=approximate)),
    ):
        spacing = np.spacing(np.abs(ref.astype(np.float32))).astype(np.float64)
        spacing = np.maximum(spacing, float(np.finfo(np.float32).smallest_subnormal))
        worst = np.max(np.abs(got.numpy().astype(np.float64) - ref) / spacing)
        assert worst <= 1.0, worst


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_bfloat16_is_float32_rounded_once(approximate):
    x = torch.from_numpy(sample_points(np.float32)).to(torch.bfloat16)
    y, g = value_and_grad(lambda v: F.gelu(v, approximate=approximate), x)
    y32, g32 = value_and_grad(lambda v: F.gelu(v, approximate=approximate), x.float())
    # float32 within 1 ulp, rounded to bfloat16: at most one bfloat16 step from that rounding.
    for got, wide in ((y, y32), (g, g32)):
        step = torch.from_numpy(np.spacing(np.abs(wide.numpy()))) * 2**16
        assert (got.float() - wide).abs().le(step).all()


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_double_backward_in_float32(approximate):
    x = torch.linspace(-4, 4, 101, requires_grad=True)
    (g,) = torch.autograd.grad(F.gelu(x, approximate=approximate).sum(), x, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), x)
    # Against float64, where the ATen path (and its registered double backward) runs.
    x64 = x.detach().double().requires_grad_(True)
    (g64,) = torch.autograd.grad(F.gelu(x64, approximate=approximate).sum(), x64, create_graph=True)
    (gg64,) = torch.autograd.grad(g64.sum(), x64)
    torch.testing.assert_close(gg.double(), gg64, rtol=1e-5, atol=1e-6)


def test_relu_double_backward_keeps_the_nan_rule():
    x = torch.tensor([-1.0, 0.0, 2.0, float("nan")], requires_grad=True)
    (g,) = torch.autograd.grad(F.leaky_relu(x, 0.1).sum(), x, create_graph=True)
    torch.testing.assert_close(
        g.detach(), torch.tensor([0.1, 0.1, 1.0, float("nan")]), equal_nan=True
    )
    assert g.requires_grad  # a graph was built (through relukit::leaky_relu_backward_graph)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_graph_backwards_are_the_aten_paths_formulas(dtype):
    # relukit::*_backward_graph (C++, for create_graph=True) and _autograd's *_grad (the ATen
    # path) write the same formulas twice: they must agree bit for bit, values and graphs.
    from relukit.torch import _autograd as ag

    special = [0.0, -0.0, math.inf, -math.inf, math.nan, 31.0, -31.0, 1e30, -1e30]
    x = torch.cat([4 * torch.randn(64, dtype=torch.float64), torch.tensor(special)]).to(dtype)
    g = torch.randn(x.shape, dtype=torch.float64).to(dtype)
    y = torch.relu(x)
    leaky = torch.nn.functional.leaky_relu(x, 0.1)
    R = torch.ops.relukit
    pairs = [
        (R.relu_backward_graph(g, y, 0.0), ag.relu_grad(g, y, True)),
        (R.leaky_relu_backward_graph(g, leaky, 0.1), ag.leaky_grad(g, leaky, 0.1, True, True)),
        (R.leaky_relu_backward_graph(g, x, -0.5), ag.leaky_grad(g, x, -0.5, False, True)),
        (R.gelu_backward_graph(g, x, 0.0), ag.gelu_grad(g, x, "none", True)),
        (R.gelu_backward_graph(g, x, 1.0), ag.gelu_grad(g, x, "tanh", True)),
        (R.elu_backward_graph(g, x, 1.0), ag.elu_grad(g, x, 1.0, True)),
        (R.elu_backward_graph(g, x, -0.5), ag.elu_grad(g, x, -0.5, True)),
    ]
    w = torch.tensor([0.25, 0.0, -0.5], dtype=dtype).reshape(3, 1)
    x3, g3 = x[:72].reshape(3, 24), g[:72].reshape(3, 24)
    gx, gw = ag._A._prelu_kernel_backward(g3, x3, w)
    theirs = (ag.propagate_nan(gx, x3, True), gw.sum(1, True))
    pairs += zip(R.prelu_backward_graph(g3, x3, w), theirs, strict=True)
    # relukit::activation_backward_graph and _fast_smooth's _grad (float64 inside, rounded).
    from relukit.torch import _fast_smooth as fs

    for name, k in fs.KERNELS.items():
        if k.native is fs._named:
            pairs.append((R.activation_backward_graph(g, x, name), fs._grad(k, g, x, {})))
    # From the output (save="output", is_result): the native op that each entry offering it
    # runs for this dtype (its plan; the last argument, save_output, is the backward's
    # is_result), kernel and graph, equals _generic's f' from the output (the catalog's
    # output_derivative), specials included.
    from relukit.torch import _fast, _generic

    for case in CASES:
        a = case.activation
        if not a.offers_output_save or a.output_refusal(case.params) is not None:
            continue
        params = a.check_params(**case.params)
        if (call := _fast.FAST[a.name].native(x.dtype, params, {"save": "output"})) is None:
            continue
        op, args = call
        y = _generic.value(a, x, params, {})
        want = _generic._output_grad(a, g, y, params)
        for fn in (getattr(R, f"{op}_backward"), getattr(R, f"{op}_backward_graph")):
            pairs.append((fn(g, y, *args), want))
    for ours, theirs in pairs:
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0, equal_nan=True)


def test_unbuildable_kernels_warn_once_and_fall_back(monkeypatch):
    def no_compiler():
        raise OSError("no C++ compiler")

    monkeypatch.setattr(_native, "_load", no_compiler)
    _native.ops.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match=r"native CPU kernels unavailable.*no C\+\+"):
            assert _native.ops() is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert _native.ops() is None  # cached: it warns once
        x = torch.tensor([-1.0, float("nan"), 2.0], requires_grad=True)
        F.relu(x).sum().backward()  # the ATen path keeps the NaN rule too
        torch.testing.assert_close(x.grad, torch.tensor([0.0, float("nan"), 1.0]), equal_nan=True)
    finally:
        monkeypatch.undo()
        _native.ops.cache_clear()
    assert _native.ops() is not None


@pytest.mark.slow  # a subprocess
def test_relukit_native_0_turns_them_off():
    code = (
        "import torch; from relukit.torch import _native, functional as F; "
        "assert _native.ops() is None; "
        "x = torch.randn(3, requires_grad=True); "
        "assert type(F.relu(x).grad_fn).__name__ != 'CppFunction'"
    )
    env = dict(os.environ, RELUKIT_NATIVE="0")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


@pytest.mark.slow  # re-renders the kernel header with its script
def test_gelu_coefficients_regenerate_from_their_script():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = root / "scripts" / "make_gelu_kernel_coeffs.py"
    spec = importlib.util.spec_from_file_location("make_gelu_kernel_coeffs", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.render() == script.OUT.read_text()


# --- ELU: float32 and narrower computed in float64 and rounded once --------------------------


def _elu64(x: torch.Tensor, alpha: float, scale: float = 1.0, input_scale: float = 1.0):
    """float64 references: ATen's elu(x, alpha, scale, input_scale) and its derivative (the kink
    rule: f'(0) from the x <= 0 branch). SELU is (alpha, lambda, 1), CELU (alpha, 1, 1/alpha)."""
    x64 = x.double()
    t = input_scale * x64
    value = torch.where(x64 > 0, scale * x64, scale * alpha * torch.special.expm1(t))
    slope = torch.where(x64 > 0, scale, scale * alpha * input_scale * torch.exp(t))
    return value, slope


def _selu_celu(name: str, param: float):
    """(relukit function, its arguments, the elu parameters it is)."""
    from relukit._catalog._selu import ALPHA_DIGITS, LAMBDA, LAMBDA_ALPHA
    from relukit.torch._fast_smooth import _SELU_ALPHA

    if name == "selu":
        # The kernels' α: its product with λ is the catalog's λα, α's own rounding one ulp off.
        assert LAMBDA * _SELU_ALPHA == LAMBDA_ALPHA != LAMBDA * float(ALPHA_DIGITS)
        return F.selu, (), (_SELU_ALPHA, LAMBDA, 1.0)
    return F.celu, (param,), (param, 1.0, 1.0 / param)


def _elu_points(dtype: torch.dtype) -> torch.Tensor:
    np_dtype = {torch.float16: np.float16, torch.float64: np.float64}.get(dtype, np.float32)
    xs = torch.from_numpy(sample_points(np_dtype).astype(np.float64))
    near_zero = -torch.logspace(-30, 0, 2000, dtype=torch.float64)
    return torch.cat([xs, near_zero, near_zero.neg(), torch.linspace(-20, 0, 4001)]).to(dtype)


@pytest.mark.parametrize("alpha", [1.0, 0.7, -0.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_elu_is_float64_rounded_once(dtype, alpha):
    x = _elu_points(dtype)
    grad = torch.linspace(-2, 2, x.numel(), dtype=torch.float64).to(dtype)
    xi = x.clone().requires_grad_(True)
    y = F.elu(xi, alpha)
    assert type(y.grad_fn).__name__ == "CppFunction"
    (g,) = torch.autograd.grad(y, xi, grad)  # grad · f', rounded once too
    value, derivative = _elu64(x, alpha)
    for got, want in ((y.detach(), value), (g, derivative * grad.double())):
        rounded = want.to(dtype)
        # Rounded once: the float64 result's nearest neighbour, but for a float64 reference a
        # few ulps from a midpoint (the two float64 expm1's differ there).
        assert (got != rounded).float().mean() < 1e-4
        assert ((got.double() - want).abs() <= torch_ulp(rounded)).all()


@pytest.mark.parametrize(("name", "param"), [("selu", None), ("celu", 1.0), ("celu", 0.3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_selu_and_celu_run_the_elu_kernels_rounded_once(dtype, name, param):
    fn, args, elu_params = _selu_celu(name, param)
    x = _elu_points(dtype)
    grad = torch.linspace(-2, 2, x.numel(), dtype=torch.float64).to(dtype)
    xi = x.clone().requires_grad_(True)
    y = fn(xi, *args)
    assert type(y.grad_fn).__name__ == "CppFunction"  # relukit::elu, not the ATen path
    (g,) = torch.autograd.grad(y, xi, grad)
    value, derivative = _elu64(x, *elu_params)
    for got, want in ((y.detach(), value), (g, derivative * grad.double())):
        rounded = want.to(dtype)
        assert (got != rounded).float().mean() < 1e-4
        assert ((got.double() - want).abs() <= torch_ulp(rounded)).all()
    # Specials: f(±0) = f'(0)·(±0), f(−inf) = −scale·alpha, NaN propagates; f'(0) from x ≤ 0.
    s = torch.tensor([0.0, -0.0, -math.inf, math.inf, math.nan], dtype=dtype, requires_grad=True)
    y = fn(s, *args)
    (g,) = torch.autograd.grad(y.sum(), s)
    alpha, scale, input_scale = elu_params
    assert [math.copysign(1, v) for v in y[:2].tolist()] == [1.0, -1.0]
    assert y[2].item() == torch.tensor(-scale * alpha, dtype=dtype).item()
    assert y[3].item() == math.inf and math.isnan(y[4].item())
    kink = torch.tensor(scale * alpha * input_scale, dtype=dtype).item()
    assert g[:2].tolist() == [kink, kink] and g[2].item() == 0 and math.isnan(g[4].item())
    assert g[3].item() == torch.tensor(scale, dtype=dtype).item()
    # Double backward: relukit::elu_backward_graph, the x ≤ 0 branch at the kink.
    xd = torch.tensor([-2.0, -0.0, 0.0, 1.5], dtype=torch.float64)
    x32 = xd.float().requires_grad_(True)
    (g1,) = torch.autograd.grad(fn(x32, *args).sum(), x32, create_graph=True)
    (gg,) = torch.autograd.grad(g1.sum(), x32)
    want = scale * alpha * input_scale**2 * torch.exp(input_scale * xd.clamp(max=0))
    torch.testing.assert_close(gg.double(), torch.where(xd > 0, 0.0, want), rtol=1e-6, atol=0)


@pytest.mark.parametrize("save", ["auto", "output"])
@pytest.mark.parametrize("beta", [1.0, 2.5, -1.0, 1e-20])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_softplus_is_float64_rounded_once(dtype, beta, save):
    """relukit::softplus (exp, then log1p by a series of its own) against the catalog's
    double-double float64 (NumPy), rounded to the dtype: values and gradients, from the input
    or from the output (f' = −expm1(−β·y), the output's own f')."""
    x = torch.cat([_elu_points(dtype), _elu_points(dtype).neg(), torch.tensor([60.0, -60.0])])
    x = x.to(dtype)
    grad = torch.linspace(-2, 2, x.numel(), dtype=torch.float64).to(dtype)
    xi = x.clone().requires_grad_(True)
    y = F.softplus(xi, beta, save=save)
    assert type(y.grad_fn).__name__ == "CppFunction"  # relukit::softplus, not the ATen path
    (g,) = torch.autograd.grad(y, xi, grad)
    sp = relukit.softplus
    value = torch.from_numpy(sp(x.double().numpy(), beta))
    saved = y.detach().double().numpy() if save == "output" else None
    if saved is None:
        slope = torch.from_numpy(sp.derivative(x.double().numpy(), beta))
    else:
        slope = torch.from_numpy(-np.expm1(-beta * saved))
    for got, want in ((y.detach(), value), (g, slope * grad.double())):
        rounded = want.to(dtype)
        assert (got != rounded).float().mean() < 1e-4
        big = rounded.isinf()  # beyond the dtype (float16 at beta = 1e-20: ln2/beta)
        assert torch.equal(got[big], rounded[big])
        assert ((got.double() - want).abs() <= torch_ulp(rounded))[~big].all()


def test_elu_specials_sign_of_zero_and_kink():
    for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        for alpha in (1.0, -0.5, 0.0):
            x = torch.tensor([0.0, -0.0, -math.inf, math.inf, math.nan], dtype=dtype)
            y, g = value_and_grad(F.elu, x, alpha)
            zero = torch.tensor(0.0, dtype=torch.float64)
            want = [alpha * zero, alpha * -zero, -alpha, math.inf, math.nan]
            for got, w in zip(y.double().tolist(), want, strict=True):
                w = float(w)
                assert (math.isnan(got) and math.isnan(w)) or (
                    got == w and math.copysign(1, got) == math.copysign(1, w)
                )
            assert g[:2].tolist() == [alpha, alpha]  # f'(±0) = alpha: the kink rule
            assert g[2].item() == 0 and g[3].item() == 1 and math.isnan(g[4].item())


@pytest.mark.parametrize("alpha", [1.0, -0.5])
def test_elu_double_backward_takes_the_kink_branch(alpha):
    x = torch.tensor([-2.0, -0.0, 0.0, 1.5], requires_grad=True)
    (g,) = torch.autograd.grad(F.elu(x, alpha).sum(), x, create_graph=True)
    assert g.requires_grad  # through relukit::elu_backward_graph
    (gg,) = torch.autograd.grad(g.sum(), x)
    torch.testing.assert_close(gg, torch.tensor([alpha * math.exp(-2.0), alpha, alpha, 0.0]))


# --- PReLU: per-channel weights ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "2d"])
def test_prelu_per_channel_equals_the_aten_path_bit_for_bit(dtype, layout, monkeypatch):
    """Values and input gradients bit for bit; the slopes' gradient (summed in float64 by the
    native kernel, in the dtype by ATen's) within one rounding of the exact sum."""
    import relukit.torch as rt

    gen = torch.Generator().manual_seed(3)
    shape = (6, 5) if layout == "2d" else (2, 5, 3, 4)
    x = (3 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)
    x.view(-1)[:5] = torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan], dtype=dtype)
    finite = x.clone()  # the slopes' gradient, checked on finite inputs
    finite.view(-1)[:5] = torch.tensor([0.0, -0.0, 1.0, -1.0, -2.0], dtype=dtype)
    if layout == "channels_last":
        finite = finite.contiguous(memory_format=torch.channels_last)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    grad = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    results = []
    for native in (True, False):
        if not native:
            monkeypatch.setattr(_native, "for_input", lambda x: None)
        module = rt.PReLU(num_parameters=5).to(dtype)
        with torch.no_grad():
            module.weight.copy_(torch.tensor([0.25, 0.0, -0.5, 1.5, 0.1], dtype=dtype))
        xi = x.clone().requires_grad_(True)
        y = module(xi)
        if native:
            assert type(y.grad_fn).__name__ == "CppFunction"
        gx, gw = torch.autograd.grad(y, (xi, module.weight), grad)
        results.append((y.detach(), gx, gw))
    for got, want in zip(results[0][:2], results[1][:2], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)
    assert results[0][0].stride() == x.stride()
    assert torch.equal(results[0][2].isnan(), results[1][2].isnan())  # NaN where x has one
    # On finite inputs: df/da·grad summed per channel, exactly (math.fsum of float64 products,
    # exact for these dtypes' products) against the native kernel's sum.
    module = rt.PReLU(num_parameters=5).to(dtype)
    xi = finite.clone().requires_grad_(True)
    (gw,) = torch.autograd.grad(module(xi), (module.weight,), grad)
    x64, g64 = finite.double(), grad.double()
    channel = 1
    terms = torch.where(x64 > 0, 0.0, g64 * x64).movedim(channel, 0).reshape(5, -1)
    exact = torch.tensor([math.fsum(row.tolist()) for row in terms], dtype=torch.float64)
    size = torch.tensor([math.fsum(row.abs().tolist()) for row in terms], dtype=torch.float64)
    eps = torch.finfo(dtype).eps
    assert ((gw.double() - exact).abs() <= eps * size + torch.finfo(dtype).tiny).all()
