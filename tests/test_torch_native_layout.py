"""The native kernels keep the input's memory layout, as ATen's TensorIterator kernels do.

Outputs and input gradients of channels_last, channels_last_3d, transposed and other strided
inputs have the strides torch.nn's counterpart gives them and the values of the contiguous
computation, bit for bit; no hidden ``.contiguous()`` copy is made; the Meta kernels give the
same strides as the CPU kernels.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from relukit.torch import _native  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

pytestmark = pytest.mark.skipif(
    _native.ops() is None, reason=f"native kernels unavailable: {_native.ops.reason}"
)

R = torch.ops.relukit
TF = torch.nn.functional

# (id, relukit's function, torch.nn's counterpart)
FUNCTIONS = [
    ("relu", F.relu, TF.relu),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1)),
    ("leaky_relu-negative", lambda x: F.leaky_relu(x, -0.2), lambda x: TF.leaky_relu(x, -0.2)),
    ("gelu", F.gelu, TF.gelu),
    (
        "gelu-tanh",
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: TF.gelu(x, approximate="tanh"),
    ),
    ("elu", F.elu, TF.elu),
]


def _base(*shape: int, dtype: torch.dtype) -> torch.Tensor:
    gen = torch.Generator().manual_seed(sum(shape))
    return (3 * torch.randn(*shape, generator=gen)).to(dtype)


CL, CL3D = torch.channels_last, torch.channels_last_3d
# Each: dtype -> a tensor in that layout.
LAYOUTS = {
    "channels_last": lambda dt: _base(2, 6, 5, 7, dtype=dt).contiguous(memory_format=CL),
    "channels_last_3d": lambda dt: _base(2, 6, 3, 4, 5, dtype=dt).contiguous(memory_format=CL3D),
    "transposed": lambda dt: _base(33, 17, dtype=dt).t(),
    "permuted": lambda dt: _base(3, 4, 5, 6, dtype=dt).permute(2, 0, 3, 1),
    "strided": lambda dt: _base(6, 40, dtype=dt)[:, ::3],  # not dense: the strided path
    "channels_last-size-1": lambda dt: _base(4, 8, 1, 1, dtype=dt).contiguous(memory_format=CL),
}


def _value_and_grad(fn, x: torch.Tensor, grad: torch.Tensor):
    x = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(True)
    y = fn(x)
    (g,) = torch.autograd.grad(y, x, grad)
    return y, g


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("grad_layout", ["same", "contiguous"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name, ours, theirs", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_layout_follows_torch_nn_and_values_follow_the_contiguous_computation(
    name, ours, theirs, layout, grad_layout, dtype
):
    x = LAYOUTS[layout](dtype)
    grad = torch.linspace(-2, 2, x.numel(), dtype=dtype).reshape(x.shape)
    grad = grad if grad_layout == "contiguous" else torch.empty_like(x).copy_(grad)
    y, g = _value_and_grad(ours, x, grad)
    assert type(y.grad_fn).__name__ == "CppFunction"  # the native kernels ran
    y_nn, g_nn = _value_and_grad(theirs, x, grad)
    assert y.stride() == y_nn.stride()
    assert g.stride() == g_nn.stride()
    y_c, g_c = _value_and_grad(ours, x.contiguous(), grad.contiguous())
    assert torch.equal(y.contiguous(), y_c)
    assert torch.equal(g.contiguous(), g_c)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_meta_kernels_give_the_cpu_kernels_strides(layout):
    x = LAYOUTS[layout](torch.float32)
    g = torch.randn(x.shape)  # contiguous, against x's layout
    meta = lambda t: torch.empty_strided(t.shape, t.stride(), device="meta")  # noqa: E731
    calls = [
        lambda x, g: R.relu(x),
        lambda x, g: R.leaky_relu(x, 0.1),
        lambda x, g: R.gelu(x, True),
        lambda x, g: R.relu_backward(g, x),
        lambda x, g: R.relu_backward(x, g),
        lambda x, g: R.leaky_relu_backward(g, x, -0.5),
        lambda x, g: R.gelu_backward(g, x, False),
        lambda x, g: R.gelu_backward(x, g, False),
        lambda x, g: R.elu(x, 1.0),
        lambda x, g: R.elu_backward(g, x, 1.0),
        lambda x, g: R.elu_backward(x, g, -0.5),
    ]
    for call in calls:
        assert call(meta(x), meta(g)).stride() == call(x, g).stride()


def test_no_hidden_contiguous_copy():
    x = LAYOUTS["channels_last"](torch.float32).requires_grad_(True)
    grad = torch.randn(x.shape).contiguous(memory_format=torch.channels_last)
    with torch.autograd.profiler.profile() as prof:
        for fn in (F.relu, lambda v: F.leaky_relu(v, 0.1), F.gelu, F.elu):
            torch.autograd.grad(fn(x), x, grad)
    names = {event.name for event in prof.function_events}
    assert {"relukit::gelu_backward", "relukit::elu_backward"} <= names
    assert not names & {"aten::contiguous", "aten::clone", "aten::copy_"}, names
