"""The native ops are compile-aware: ``torch.library.opcheck`` for every op and sample.

opcheck runs each op under SchemaCheckMode, checks that its autograd is registered at an
autograd key, compares its Meta kernel against the CPU kernel under FakeTensor (shapes, dtypes,
strides), and compares eager values and gradients against AOTAutograd with dynamic shapes. On
top, ``torch.compile(fullgraph=True)`` of a function calling the ops directly must give the
values and gradients of eager mode bit for bit (its graph calls the same kernels), and
``torch.export`` with a dynamic batch keeps the ops in its graph.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from relukit.torch import _fast_smooth, _native  # noqa: E402

pytestmark = pytest.mark.skipif(
    _native.ops() is None, reason=f"native kernels unavailable: {_native.ops.reason}"
)

R = torch.ops.relukit
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]
FORWARD = ["relu", "leaky_relu", "gelu", "elu", "prelu", "activation", "softplus"]
# The entries that run relukit::activation(x, name) (relukit/torch/_fast_smooth.py).
NAMED = [n for n, k in _fast_smooth.KERNELS.items() if k.native is _fast_smooth._named]
OP_NAMES = [n for f in FORWARD for n in (f, f"{f}_backward", f"{f}_backward_graph")]
AOT_FREE = ["test_schema", "test_autograd_registration", "test_faketensor"]


def _layouts(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Inputs of each kind: 0-d, empty, non-contiguous, channels_last, special values."""
    gen = torch.Generator().manual_seed(0)

    def randn(*shape):
        return (3 * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(dtype)

    big = torch.finfo(dtype).max
    tiny = torch.finfo(dtype).smallest_normal / 4  # subnormal
    return {
        "0-d": randn(()),
        "empty": randn(0, 3),
        "transposed": randn(5, 4).t(),
        "strided": randn(4, 7)[:, ::2],
        "channels_last": randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last),
        "channels_last_3d": randn(2, 3, 2, 3, 4).contiguous(memory_format=torch.channels_last_3d),
        "extremes": torch.tensor(
            [math.inf, -math.inf, 0.0, -0.0, tiny, -tiny, big, -big, 1.0, -1.0], dtype=dtype
        ),
        "nan": torch.tensor([math.nan, 1.0, -1.0, 0.0], dtype=dtype),
    }


def _args(name: str, x: torch.Tensor, grad: torch.Tensor, turn: int = 0) -> list[tuple]:
    """The argument tuples of op ``name`` for an input x (and an upstream gradient); ``turn``
    (the sample's index) picks relukit::activation's name, so the names take turns over the
    samples (every name meets several layouts and dtypes, at a fifth of the cost of all)."""
    if name == "relu":
        return [(x,)]
    if name == "leaky_relu":
        return [(x, 0.01), (x, -0.5)]  # a positive slope saves the output, a negative the input
    if name == "gelu":
        return [(x, False), (x, True)]
    if name == "relu_backward":
        return [(grad, torch.relu(x))]
    if name == "leaky_relu_backward":
        return [(grad, torch.nn.functional.leaky_relu(x, 0.01), 0.01), (grad, x, -0.5)]
    if name == "gelu_backward":
        return [(grad, x, False), (grad, x, True)]
    if name.startswith("prelu"):
        # Per-channel weights shaped to broadcast (as relukit.torch passes them), and one slope.
        channels = x.shape[1] if x.dim() >= 2 else 1
        shape = [1] * x.dim()
        if x.dim() >= 2:
            shape[1] = channels
        per_channel = torch.linspace(-0.5, 0.5, channels, dtype=torch.float64).to(x.dtype)
        weights = [per_channel.reshape(shape), torch.tensor(0.25, dtype=x.dtype)]
        head = (x,) if name == "prelu" else (grad, x)
        return [(*head, w) for w in weights]
    if name in ("elu", "elu_backward", "elu_backward_graph"):
        head = (x,) if name == "elu" else (grad, x)
        # ELU (alpha), and SELU/CELU's form (alpha, scale, input_scale) every other sample;
        # in the others the output saved (save="output": save_output, is_result).
        general = [(*head, 0.5, 1.0507, 2.0)] if turn % 2 else [(*head, 1.6, 1.0507, 1.0, True)]
        return [(*head, 1.0), (*head, -0.5), *general]
    if name.startswith("softplus"):
        head = (x,) if name == "softplus" else (grad, x)
        # beta of either sign, and every other sample a saved output (save="output").
        return [(*head, 1.0), (*head, -0.5), *([(*head, 2.0, True)] if turn % 2 == 0 else [])]
    if name.startswith("activation"):
        head = (x,) if name == "activation" else (grad, x)
        # Every third sample, Sigmoid or Tanh saving the output (save="output").
        saving = [(*head, ("sigmoid", "tanh")[turn // 3 % 2], True)] if turn % 3 == 0 else []
        return [(*head, NAMED[turn % len(NAMED)]), *saving]
    if name == "relu_backward_graph":
        return [(grad, torch.relu(x), 0.0)]
    if name == "leaky_relu_backward_graph":
        return [(grad, torch.nn.functional.leaky_relu(x, 0.01), 0.01), (grad, x, -0.5)]
    assert name == "gelu_backward_graph"
    return [(grad, x, 0.0), (grad, x, 1.0)]


# Every layout in float32; the other dtypes on a subset (opcheck costs ~0.1 s a call).
SUBSET = ("0-d", "strided", "channels_last", "extremes", "nan")


def _samples():
    for dtype in DTYPES:
        for layout, x in _layouts(dtype).items():
            if dtype != torch.float32 and layout not in SUBSET:
                continue
            # A finite upstream gradient of x's shape and strides.
            grad = torch.empty_like(x).copy_(torch.linspace(-2, 2, x.numel()).reshape(x.shape))
            # Gradients through extreme values would be inf - inf in opcheck's sum of outputs.
            requires_grad = layout not in ("extremes", "nan")
            yield dtype, layout, x, grad, requires_grad


SAMPLES = list(_samples())


def _id(sample) -> str:
    dtype, layout, *_ = sample
    return f"{str(dtype).removeprefix('torch.')}-{layout}"


def _with_grad(args: tuple, requires_grad: bool) -> tuple:
    return tuple(
        a.detach().clone().requires_grad_(requires_grad) if isinstance(a, torch.Tensor) else a
        for a in args
    )


@pytest.mark.slow  # ~600 opcheck calls, ~1 min
@pytest.mark.parametrize("sample", SAMPLES, ids=_id)
@pytest.mark.parametrize("name", OP_NAMES)
def test_opcheck(name, sample):
    _, layout, x, grad, requires_grad = sample
    op = getattr(R, name).default
    # opcheck compares with assert_close, to which NaN != NaN: NaN samples skip the AOT check.
    # So do PReLU's extremes: the weight's gradient sums x·g over ±inf and ±max (NaN, inf - inf).
    nan_out = layout == "nan" or (name.startswith("prelu_backward") and layout == "extremes")
    utils = AOT_FREE if nan_out else "ALL"
    for args in _args(name, x, grad, SAMPLES.index(sample)):
        for rg in (True, False) if requires_grad else (False,):
            torch.library.opcheck(op, _with_grad(args, rg), test_utils=utils)


def test_every_op_is_registered_in_cpp_with_a_meta_kernel():
    # Nothing is registered from Python after loading: the library is self-contained.
    for name in OP_NAMES:
        qualified = f"relukit::{name}"
        dump = torch._C._dispatch_dump(qualified)
        assert "python" not in dump.lower(), dump
        if name.endswith("_graph"):
            assert torch._C._dispatch_has_kernel_for_dispatch_key(
                qualified, "CompositeImplicitAutograd"
            )
        else:
            # PReLU's weight broadcasts against batch dimensions: vmap's fallback, no rule.
            keys = ("CPU", "Meta", "Autograd") + (() if "prelu" in name else ("Batched",))
            for key in keys:
                assert torch._C._dispatch_has_kernel_for_dispatch_key(qualified, key), key


def test_meta_kernels_check_like_the_cpu_kernels():
    for device in ("cpu", "meta"):
        with pytest.raises(RuntimeError, match="relu: expected a float64, float32, float16"):
            R.relu(torch.zeros(3, dtype=torch.int32, device=device))
        with pytest.raises(RuntimeError, match="gelu_backward: grad_output has shape"):
            R.gelu_backward(torch.zeros(3, device=device), torch.zeros(4, device=device), False)


def _chain(x):
    # Only relukit ops: inductor's own arithmetic (fused, reassociated) would differ from eager.
    y = R.gelu(x, False)
    y = R.leaky_relu(y, -0.3)
    y = R.gelu(y, True)
    y = R.leaky_relu(y, 0.1)
    y = R.elu(y, 0.7)
    y = R.softplus(y, 1.5)
    return R.relu(y)


@pytest.mark.slow  # torch.compile
@pytest.mark.filterwarnings("ignore:`torch.jit.script.*` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_compiled_fullgraph_equals_eager_bit_for_bit(dtype, dynamic):
    torch._dynamo.reset()
    compiled = torch.compile(_chain, fullgraph=True, dynamic=dynamic)
    x = 5 * torch.randn(1000, generator=torch.Generator().manual_seed(1)).to(dtype)
    x[:6] = torch.tensor([0.0, -0.0, math.inf, -math.inf, 1e-30, -40.0])
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(2)).to(dtype)
    results = []
    for fn in (_chain, compiled):
        xi = x.clone().requires_grad_(True)
        y = fn(xi)
        (g,) = torch.autograd.grad(y, xi, grad)
        results.append((y.detach(), g))
    (y_eager, g_eager), (y_compiled, g_compiled) = results
    assert torch.equal(y_compiled, y_eager)
    assert torch.equal(g_compiled, g_eager)


class _Chain(torch.nn.Module):
    def forward(self, x):
        return _chain(x)


@pytest.mark.slow  # torch.export
def test_torch_export_with_a_dynamic_batch_keeps_the_ops():
    x = torch.randn(4, 8)
    batch = torch.export.Dim("batch")
    exported = torch.export.export(_Chain(), (x,), dynamic_shapes={"x": {0: batch}})
    targets = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    assert targets == {
        "relukit.gelu.default",
        "relukit.leaky_relu.default",
        "relukit.relu.default",
        "relukit.elu.default",
        "relukit.softplus.default",
    }
    other = torch.randn(7, 8)
    assert torch.equal(exported.module()(other), _chain(other))
