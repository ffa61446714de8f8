"""Batched gradients through the native ops: vmap over their backward.

``torch.autograd.grad(..., is_grads_batched=True)``, ``jacobian(..., vectorize=True)`` and
``gradcheck(..., check_batched_grad=True)`` run the backward once on a batch of gradients (under
``torch._vmap_internals``' vmap). The native ops have batching rules for it: one kernel call on
the whole batch, giving what one backward per batch element gives, bit for bit; the NaN and
kink rules included.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from relukit.torch import _native  # noqa: E402

pytestmark = pytest.mark.skipif(
    _native.ops() is None, reason=f"native kernels unavailable: {_native.ops.reason}"
)

R = torch.ops.relukit
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
FUNCTIONS = {
    "relu": lambda x: R.relu(x),
    "leaky_relu": lambda x: R.leaky_relu(x, 0.1),  # saves the output
    "leaky_relu-negative": lambda x: R.leaky_relu(x, -0.2),  # saves the input
    "gelu": lambda x: R.gelu(x, False),
    "gelu-tanh": lambda x: R.gelu(x, True),
    "elu": lambda x: R.elu(x, 1.0),
    "elu-negative": lambda x: R.elu(x, -0.5),
}

KINK = {
    "relu": 0.0,
    "leaky_relu": 0.1,
    "leaky_relu-negative": -0.2,
    "gelu": 0.5,
    "gelu-tanh": 0.5,
    "elu": 1.0,
    "elu-negative": -0.5,
}


def _input(dtype: torch.dtype, special: bool = True) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(29, generator=gen, dtype=torch.float64)
    x = x[x.abs() > 0.1]  # away from the kink, for finite differences
    if special:  # the kink, both zeros, the infinities and NaN
        x = torch.cat([x, torch.tensor([0.0, -0.0, math.inf, -math.inf, math.nan])])
    return x.to(dtype).requires_grad_(True)


def _assert_identical(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


@pytest.fixture
def no_vmap_fallback():
    """vmap's per-element fallback warns (an error here), so only batching rules may run."""
    torch._C._debug_only_display_vmap_fallback_warnings(True)
    try:
        yield
    finally:
        torch._C._debug_only_display_vmap_fallback_warnings(False)


@pytest.mark.usefixtures("no_vmap_fallback")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_is_grads_batched_equals_one_backward_per_gradient(name, dtype):
    fn = FUNCTIONS[name]
    x = _input(dtype)
    y = fn(x)
    grads = torch.randn(4, *y.shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    grads[0] = 1
    (batched,) = torch.autograd.grad(y, x, grads, retain_graph=True, is_grads_batched=True)
    rows = [torch.autograd.grad(y, x, g, retain_graph=True)[0] for g in grads]
    _assert_identical(batched, torch.stack(rows))
    assert batched[0, -1].isnan()  # the NaN rule
    # f'(0), the kink rule (float64 GELU here is the float32-grade kernel: close, not exact)
    torch.testing.assert_close(batched[0, -5], torch.tensor(KINK[name], dtype=dtype))


@pytest.mark.usefixtures("no_vmap_fallback")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_vectorized_jacobian_equals_the_row_by_row_one(name, dtype):
    fn = FUNCTIONS[name]
    x = _input(dtype).detach()
    fast = torch.autograd.functional.jacobian(fn, x, vectorize=True)
    slow = torch.autograd.functional.jacobian(fn, x, vectorize=False)
    _assert_identical(fast, slow)


@pytest.mark.usefixtures("no_vmap_fallback")
@pytest.mark.parametrize("name", FUNCTIONS)
def test_batched_gradients_of_channels_last_inputs(name):
    fn = FUNCTIONS[name]
    x = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last).requires_grad_(True)
    y = fn(x)
    grads = torch.randn(3, *y.shape)
    (batched,) = torch.autograd.grad(y, x, grads, retain_graph=True, is_grads_batched=True)
    rows = [torch.autograd.grad(y, x, g, retain_graph=True)[0] for g in grads]
    _assert_identical(batched, torch.stack(rows))


@pytest.mark.parametrize("name", FUNCTIONS)
def test_is_grads_batched_with_create_graph(name):
    # The batched backward builds a graph (relukit::*_backward_graph, ATen ops under vmap).
    fn = FUNCTIONS[name]
    x = _input(torch.float64, special=False)
    y = fn(x)
    grads = torch.randn(3, *y.shape, dtype=torch.float64)
    (batched,) = torch.autograd.grad(y, x, grads, create_graph=True, is_grads_batched=True)
    assert batched.requires_grad
    rows = [torch.autograd.grad(y, x, g, retain_graph=True)[0] for g in grads]
    torch.testing.assert_close(batched.detach(), torch.stack(rows))


@pytest.mark.usefixtures("no_vmap_fallback")
@pytest.mark.parametrize("name", FUNCTIONS)
def test_gradcheck_with_batched_gradients_in_float64(name):
    x = _input(torch.float64, special=False)
    fn = FUNCTIONS[name]
    assert torch.autograd.gradcheck(fn, (x,), check_batched_grad=True)
    assert torch.autograd.gradgradcheck(fn, (x,), check_batched_grad=True)


@pytest.mark.filterwarnings("ignore:Input #0 requires gradient and is not a double:UserWarning")
@pytest.mark.usefixtures("no_vmap_fallback")
@pytest.mark.parametrize("name", FUNCTIONS)
def test_gradcheck_with_batched_gradients_in_float32(name):
    # Finite differences in float32: a loose tolerance; the batched check itself is exact.
    x = _input(torch.float32, special=False)
    fn = FUNCTIONS[name]
    assert torch.autograd.gradcheck(
        fn, (x,), eps=1e-2, atol=1e-2, rtol=1e-2, check_batched_grad=True
    )


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "gelu", "elu"])
def test_torch_func_vmap_over_the_ops(name):
    # torch.func.vmap (functorch) runs its per-element fallback: correct, one call per element.
    x = torch.randn(3, 7, dtype=torch.float64)
    g = torch.randn(3, 7, dtype=torch.float64)
    op, back, args = {
        "relu": (R.relu, R.relu_backward, ()),
        "leaky_relu": (R.leaky_relu, R.leaky_relu_backward, (0.1,)),
        "gelu": (R.gelu, R.gelu_backward, (False,)),
        "elu": (R.elu, R.elu_backward, (0.7,)),
    }[name]
    _assert_identical(torch.func.vmap(lambda v: op(v, *args))(x), op(x, *args))
    _assert_identical(
        torch.func.vmap(lambda u: back(u, x[0], *args))(g),
        torch.stack([back(u, x[0], *args) for u in g]),
    )
