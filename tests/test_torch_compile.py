"""``torch.compile`` keeps relukit's native kernels: compiled equals eager bit for bit.

Under ``torch.compile`` (and ``torch.export``) relukit.torch calls the same native ops as in
eager mode (their Meta kernels and C++ autograd trace), so for every catalog case and dtype
where those kernels run, compiled values and gradients equal eager ones bit for bit, NaN
payloads and signed zeros included; ``torch.onnx.export`` keeps the ATen path, since ONNX has
no translation for relukit's ops (``tests/test_torch_export.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cases import CASES, sample_points  # noqa: E402

import relukit.torch as rt  # noqa: E402
from relukit.torch import _native  # noqa: E402
from relukit.torch import functional as F  # noqa: E402

pytestmark = [
    pytest.mark.skipif(
        _native.ops() is None, reason=f"native kernels unavailable: {_native.ops.reason}"
    ),
    pytest.mark.slow,  # torch.compile: ~1 s per case and dtype
    pytest.mark.filterwarnings("ignore:`torch.jit.script.*` is deprecated:DeprecationWarning"),
]

# The entries with native kernels, and the dtypes they run (GELU's float64 is the catalog's).
NATIVE = {
    "relu": (torch.float32, torch.float16, torch.bfloat16, torch.float64),
    "leaky_relu": (torch.float32, torch.float16, torch.bfloat16, torch.float64),
    "gelu": (torch.float32, torch.float16, torch.bfloat16),
    "elu": (torch.float32, torch.float16, torch.bfloat16, torch.float64),
    "prelu": (torch.float32, torch.float16, torch.bfloat16, torch.float64),
}
BITS = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}
SAMPLES = [
    pytest.param(case, dtype, id=f"{case.id}-{str(dtype).removeprefix('torch.')}")
    for case in CASES
    if case.name in NATIVE
    for dtype in NATIVE[case.name]
]


def _points(dtype: torch.dtype) -> torch.Tensor:
    """sample_points across the dtype's range, plus ±0, ±inf, NaN and values next to 0."""
    np_dtype = {torch.float16: np.float16, torch.float64: np.float64}.get(dtype, np.float32)
    xs = torch.from_numpy(sample_points(np_dtype).astype(np.float64))
    near_zero = [1e-5, -1e-5, 1e-3, -1e-3, 2.0**-20, -(2.0**-20)]
    specials = [0.0, -0.0, math.inf, -math.inf, math.nan, *near_zero]
    return torch.cat([xs, torch.tensor(specials, dtype=torch.float64)]).to(dtype)


class _Graph:
    """A torch.compile backend that records dynamo's graph and compiles it with inductor."""

    def __init__(self) -> None:
        self.targets: list[str] = []

    def __call__(self, gm, example_inputs):
        from torch._inductor.compile_fx import compile_fx

        self.targets += [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]
        return compile_fx(gm, example_inputs)


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().view(BITS[t.dtype])


def _run(fn, x: torch.Tensor, grad: torch.Tensor, params=()):
    xi = x.clone().requires_grad_(True)
    leaves = [xi, *(p for p in params if p.requires_grad)]
    y = fn(xi)
    grads = torch.autograd.grad(y, leaves, grad)
    return [y, *grads]


@pytest.mark.parametrize(("case", "dtype"), SAMPLES)
def test_compiled_function_equals_eager_bit_for_bit(case, dtype):
    torch._dynamo.reset()

    # PReLU's slope as a weight tensor of x's dtype
    params = {
        k: torch.tensor(v, dtype=dtype) if k == "weight" else v for k, v in case.params.items()
    }

    def fn(x):
        return getattr(F, case.name)(x, **params)

    backend = _Graph()
    compiled = torch.compile(fn, fullgraph=True, backend=backend)
    x = _points(dtype)
    grad = torch.linspace(-2, 2, x.numel(), dtype=torch.float64).to(dtype)
    eager = _run(fn, x, grad)
    got = _run(compiled, x, grad)
    # (leaky_relu with slope 0 is ReLU, and runs relukit.relu)
    assert any(t.startswith("relukit.") for t in backend.targets), backend.targets
    for e, c in zip(eager, got, strict=True):
        assert torch.equal(_bits(c), _bits(e))


class _MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(16, 16) for _ in range(6))
        self.acts = torch.nn.ModuleList(
            [
                rt.ReLU(),
                rt.LeakyReLU(0.1),
                rt.GELU(),
                rt.ELU(),
                rt.PReLU(num_parameters=16),
                rt.GELU(approximate="tanh"),
            ]
        )

    def forward(self, x):
        for layer, act in zip(self.layers, self.acts, strict=True):
            x = act(layer(x))
        return x


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_compiled_mlp_keeps_the_ops_and_equals_eager(dtype):
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = _MLP().to(dtype)
    backend = _Graph()
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    x = torch.randn(32, 16, dtype=dtype)
    results = []
    for m in (model, compiled):
        m.zero_grad()
        y = m(x)
        y.sum().backward()
        results.append([y.detach()] + [p.grad.clone() for p in model.parameters()])
    eager, got = results
    ops = ("relu", "leaky_relu", "gelu", "elu", "prelu")
    assert {f"relukit.{op}" for op in ops} <= set(backend.targets)
    # The activations are relukit's kernels in both; inductor's own Linear arithmetic (its
    # float32 matmul and bias epilogue) may round differently from eager's addmm.
    for e, c in zip(eager, got, strict=True):
        torch.testing.assert_close(c, e)


def test_torch_export_keeps_the_ops():
    class Model(torch.nn.Module):
        def forward(self, x):
            return F.elu(F.gelu(F.leaky_relu(F.relu(x) - 1, 0.1)))

    x = torch.randn(4, 8)
    exported = torch.export.export(Model(), (x,))
    targets = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    ops = ("relu", "leaky_relu", "gelu", "elu")
    assert {f"relukit.{op}.default" for op in ops} <= targets
    assert torch.equal(exported.module()(x), Model()(x))


# compiled autograd's own tracing reads a non-leaf's .grad (torch.nn's modules warn alike)
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")
@pytest.mark.parametrize("slope", [0.01, -0.2])
def test_compiled_autograd_runs_the_eager_graphs_nodes(slope):
    # An eager forward, its backward traced by compiled autograd into one graph (fullgraph: no
    # node may be a graph break): every relukit node (the hand-built ones, PReLU's
    # torch::autograd::Function) must give the eager gradients, bit for bit.
    from torch._dynamo import compiled_autograd

    torch._dynamo.reset()
    torch.manual_seed(3)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8),
        rt.ReLU(),
        rt.LeakyReLU(slope),
        rt.GELU(),
        rt.ELU(),
        rt.SiLU(),
        rt.PReLU(8),
        rt.Softplus(),
        rt.SELU(save="output"),  # the output saved: is_result in the node's arguments
        rt.Tanh(save="output"),
        torch.nn.Linear(8, 1),
    )
    x = torch.randn(5, 6)
    model(x).sum().backward()
    eager = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with compiled_autograd._enable(torch.compile(backend="aot_eager", fullgraph=True)):
        model(x).sum().backward()
    for p, g in zip(model.parameters(), eager, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=0, atol=0)
