"""relukit.keras on the torch backend runs relukit.torch (issue #12 item 1).

Floating inputs go to ``relukit.torch``'s paths (native kernels where built, relukit's autograd)
instead of the ``keras.ops`` composition: the gradient node is relukit.torch's, the values and
gradients equal relukit.torch's bit for bit, and ``model.compile(jit_compile=True)``
(``torch.compile``) trains without a recompilation warning (warnings are errors here).
"""

from __future__ import annotations

import numpy as np
import pytest
from cases import CASE_IDS, CASES

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")
if keras.backend.backend() != "torch":
    pytest.skip("relukit.keras' torch route: torch backend only", allow_module_level=True)
rk = pytest.importorskip("relukit.keras")
F = pytest.importorskip("relukit.torch.functional")

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _inputs(dtype):
    x = torch.linspace(-9, 9, 301, dtype=torch.float64)
    specials = torch.tensor([0.0, -0.0, float("nan"), float("inf"), -float("inf"), 1e-40])
    return torch.cat([x, specials.double()]).to(dtype)


def _torch_args(case, dtype):
    """relukit.torch's call for ``case`` on float32 x: a weight as a 0-d tensor."""
    args = {}
    for k, v in case.params.items():
        if case.activation.param(k).kind == "weight":
            args[k] = torch.tensor(float(v), dtype=dtype)
        else:
            args[k] = v
    return args


@pytest.mark.parametrize("dtype", FLOATS, ids=str)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_functions_equal_relukit_torch_bitwise(case, dtype):
    """Values and gradients (x and weight) equal relukit.torch's, computed in the same dtype
    (float16/bfloat16: in float32, rounded once, as the Keras contract says)."""
    x = _inputs(dtype)
    cdtype = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    g = torch.linspace(-2, 2, x.numel(), dtype=dtype)
    args = _torch_args(case, torch.float32 if dtype != torch.float64 else dtype)
    weights = {k: v.requires_grad_(True) for k, v in args.items() if isinstance(v, torch.Tensor)}
    xa = x.clone().requires_grad_(True)
    ya = getattr(rk, case.name)(xa, **args)
    ya.backward(g)
    xb = x.clone().requires_grad_(True)
    wb = {k: v.detach().clone().to(cdtype).requires_grad_(True) for k, v in weights.items()}
    yb = getattr(F, case.name)(xb.to(cdtype), **{**args, **wb}).to(dtype)
    yb.backward(g)
    assert ya.dtype == dtype
    torch.testing.assert_close(ya, yb, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(xa.grad, xb.grad, rtol=0, atol=0, equal_nan=True)
    for k, w in weights.items():
        torch.testing.assert_close(w.grad, wb[k].grad.to(w.dtype), rtol=0, atol=0, equal_nan=True)


def test_functions_and_layers_run_relukit_torchs_autograd():
    """The gradient node is relukit.torch's (its native op or autograd.Function), not Keras'
    custom_gradient; and a (256, 256) forward+backward issues few operators."""
    from torch.profiler import ProfilerActivity, profile

    x = torch.randn(256, 256, requires_grad=True)
    for name in ("relu", "leaky_relu", "elu", "gelu"):
        ours = type(getattr(rk, name)(x).grad_fn).__name__
        theirs = type(getattr(F, name)(x).grad_fn).__name__
        assert ours == theirs, (name, ours, theirs)
        assert "Custom" not in ours and "ToCopy" not in ours
    for layer in (rk.ReLU(), rk.LeakyReLU(), rk.ELU(), rk.GELU(), rk.PReLU()):
        layer(x).sum().backward()  # build, warm
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            layer(x).backward(torch.ones(256, 256))
        ops = [e.name for e in prof.events() if e.name.startswith(("aten::", "relukit::"))]
        # Keras' own layers: 4-6 events (PReLU 24: relukit.torch adds its NaN and zero-slope
        # checks); the keras.ops composition gave 19-167.
        assert len(ops) <= (56 if isinstance(layer, rk.PReLU) else 12), (layer, ops)


def test_integer_inputs_keep_todays_path():
    x = torch.tensor([-3, 0, 2], dtype=torch.int32)
    assert rk.relu(x).dtype == torch.int32
    assert rk.elu(x).dtype == torch.float32


def test_prelu_layer_weight_gets_relukits_gradient():
    layer = rk.PReLU()
    x = torch.tensor([[-2.0, 0.0, 3.0]], requires_grad=True)
    layer(x).sum().backward()
    w = layer.alpha.value
    assert w.grad is not None
    np.testing.assert_array_equal(w.grad.numpy(), [-2.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), [[0.25, 0.25, 1.0]])


@pytest.mark.slow
# torch.compile's own import of torch.jit code (not a recompilation, not relukit's).
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
# Dynamo instantiates every autograd.Function it traces and warns about it (as in test_torch).
@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
# Keras' torch trainer reads .grad of non-leaf tensors while dynamo traces its loss (Keras' own
# layers warn the same).
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")
def test_jit_compile_fit_without_recompilation_warnings(caplog):
    """``jit_compile=True`` (torch.compile) traces relukit's layers without a graph break of
    theirs, so dynamo's per-frame cache never fills (it did: a graph break in every layer made
    Keras' Functional.call resume per layer type, past the recompile limit)."""
    keras.utils.set_random_seed(0)
    layers = [rk.GELU(), rk.LeakyReLU(), rk.ELU(), rk.PReLU(), rk.ReLU(), rk.SiLU()]
    stack = [keras.Input((16,))]
    for layer in layers:
        stack += [keras.layers.Dense(16), layer]
    model = keras.Sequential([*stack, keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 16)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    with caplog.at_level("WARNING", logger="torch._dynamo"):
        history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
        for _ in range(10):
            model.train_on_batch(x, y)
    assert np.all(np.isfinite(history.history["loss"]))
    # Dynamo reports hitting its recompile limit through logging, not warnings.
    assert not [r for r in caplog.records if "recompile" in r.getMessage().lower()]
    breaks = torch._dynamo.utils.counters["graph_break"]
    assert not [reason for reason in breaks if "relukit" in reason], dict(breaks)
