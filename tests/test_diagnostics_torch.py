"""UnitMonitor on PyTorch: statistics equal to NumPy's on the concatenated data, ground truth,
in-place activations, torchvision models, no host synchronisation, distributed merging."""

import os
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from helpers import import_torchvision  # noqa: E402
from torch import nn  # noqa: E402

import relukit.torch as rt  # noqa: E402
from relukit.diagnostics import UnitMonitor, UnitStats  # noqa: E402
from relukit.diagnostics._torch import elementwise_classes  # noqa: E402


def capture(model, names):
    """Independent reference: the inputs and outputs of ``names``' modules, cloned (before an
    in-place module overwrites its input) at every call, as NumPy arrays."""
    seen = {n: [] for n in names}
    handles = []
    for n in names:
        m = model.get_submodule(n)

        def pre(mod, args, n=n):
            seen[n].append([args[0].detach().clone().double().numpy(), None])

        def post(mod, args, out, n=n):
            seen[n][-1][1] = out.detach().clone().double().numpy()

        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    return seen, handles


def reference_stats(calls, unit_axis=None):
    """UnitStats over the concatenated batches (one observe on all the data)."""
    pre = np.concatenate([c[0] for c in calls])
    out = np.concatenate([c[1] for c in calls])
    return UnitStats.observe(out, pre=pre, unit_axis=unit_axis)


def assert_stats_equal(got, want):
    assert got.n == want.n
    np.testing.assert_array_equal(got.active, want.active)
    np.testing.assert_allclose(got.abs_sum, want.abs_sum, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.sum, want.sum, rtol=1e-6, atol=1e-5)


def mlp(act=nn.ReLU, width=16, dead=(3, 7, 11)):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(6, width), act(), nn.Linear(width, width), act(), nn.Linear(width, 2)
    )
    with torch.no_grad():
        model[0].bias[list(dead)] = -1e3
    return model


ACTIVATIONS = [
    nn.ReLU,
    lambda: nn.ReLU(inplace=True),
    lambda: nn.LeakyReLU(0.1),
    nn.GELU,
    nn.ELU,
    lambda: nn.ELU(inplace=True),
    nn.Tanh,
    nn.SiLU,
    lambda: nn.Hardswish(inplace=True),
    rt.ReLU,
    lambda: rt.LeakyReLU(0.2, inplace=True),
    rt.GELU,
    lambda: rt.PReLU(16),
]


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_stats_equal_numpy_on_the_concatenated_data_and_ground_truth(act):
    model = mlp(act)
    batches = [torch.randn(n, 6) for n in (5, 17, 8)]
    seen, handles = capture(model, ["1", "3"])
    with UnitMonitor(model) as monitor:
        for b in batches:
            model(b)
    for h in handles:
        h.remove()
    stats = monitor.stats()
    assert list(stats) == ["1", "3"]
    for name in ("1", "3"):
        assert_stats_equal(stats[name], reference_stats(seen[name]))
    assert monitor.report().dead_units("1").tolist() == [3, 7, 11]  # exactly those


def test_conv_batchnorm_inplace_relu_ground_truth():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )
    with torch.no_grad():
        model[1].bias[[0, 5]] = -1e4  # batch norm's shift kills channels 0 and 5 (train mode too)
    seen, handles = capture(model, ["2", "5"])
    with UnitMonitor(model) as monitor:
        for _ in range(2):
            model(torch.randn(4, 3, 10, 10)).sum().backward()
    for h in handles:
        h.remove()
    stats = monitor.stats()
    for name in ("2", "5"):
        assert_stats_equal(stats[name], reference_stats(seen[name]))
    assert stats["2"].units == 8 and stats["2"].n == 2 * 4 * 10 * 10
    assert monitor.report().dead_units("2").tolist() == [0, 5]
    assert monitor.report().dead_units("5").tolist() == []


def test_unit_axis_and_sequences():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU())
    x = torch.randn(3, 7, 4)  # (N, T, F): units on the last axis
    seen, handles = capture(model, ["1"])
    with UnitMonitor(model) as m1:
        model(x)
    with UnitMonitor(model, unit_axis=1) as m2:
        model(x)
    for h in handles:
        h.remove()
    assert_stats_equal(m1.stats()["1"], reference_stats(seen["1"][:1]))
    assert m2.stats()["1"].units == 7
    assert_stats_equal(m2.stats()["1"], reference_stats(seen["1"][1:], unit_axis=1))


@pytest.mark.parametrize("act", [nn.ReLU, lambda: nn.ReLU(inplace=True), nn.GELU])
def test_gradient_score_equals_autograd(act):
    model = mlp(act)
    x = torch.randn(12, 6)
    with UnitMonitor(model, gradients=True) as monitor:
        model(x).square().sum().backward()
    # independent: ∂L/∂(pre-activation) by autograd on the layers written out
    f = nn.functional.gelu if isinstance(model[1], nn.GELU) else torch.relu
    h0 = model[0](x).detach().requires_grad_(True)
    loss = model[4](f(model[2](f(h0)))).square().sum()
    (g0,) = torch.autograd.grad(loss, h0)
    s = monitor.stats()["1"]
    np.testing.assert_allclose(s.grad_abs_sum, g0.abs().sum(0).double().numpy(), rtol=1e-5)
    assert s.grad_n == 12
    report = monitor.report()
    assert report.summary()[0].grad_dormant >= 3  # dead units get no gradient
    assert "grad-dormant" in str(report)


def test_functional_activations_via_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 6)
            self.fc2 = nn.Linear(6, 1)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    net = Net()
    with torch.no_grad():
        net.fc1.bias[2] = -100.0
    with pytest.raises(ValueError, match="found no activation module"):
        UnitMonitor(net)
    with UnitMonitor(net, modules=["fc1"]) as monitor:
        net(torch.randn(32, 4))
    report = monitor.report()
    assert report.kinds["fc1"] == "Linear output"
    assert report.dead_units("fc1").tolist() == [2]


def test_default_set_is_catalog_and_elementwise():
    names = {c.__name__ for c in elementwise_classes()}
    assert {"ReLU6", "SiLU", "Tanh", "Sigmoid", "Mish", "Hardswish", "Softplus"} <= names
    assert not names & {"Softmax", "Softmin", "LogSoftmax", "Softmax2d", "GLU"}
    model = nn.Sequential(
        nn.Linear(3, 3), nn.ReLU6(), nn.Softmax(dim=1), nn.Sigmoid(), rt.ELU(), nn.Dropout(0.0)
    )
    assert UnitMonitor(model).watched == ["1", "3", "4"]


def test_a_module_called_twice_gets_a_layer_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.act = nn.Linear(3, 4), nn.Linear(4, 2), nn.ReLU()

        def forward(self, x):
            return self.act(self.fc2(self.act(self.fc1(x))))

    net = Twice()
    with UnitMonitor(net) as monitor:
        net(torch.randn(5, 3))
        net(torch.randn(6, 3))
    stats = monitor.stats()
    assert list(stats) == ["act", "act#2"]
    assert (stats["act"].units, stats["act#2"].units, stats["act"].n) == (4, 2, 11)


def test_hooks_removed_on_exit_even_after_an_exception():
    model = mlp()
    with pytest.raises(RuntimeError, match="boom"), UnitMonitor(model) as monitor:
        model(torch.randn(2, 6))
        raise RuntimeError("boom")
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert monitor.report().summary()[0].seen == 2
    model(torch.randn(2, 6))
    assert monitor.report().summary()[0].seen == 2  # no longer watching


def test_inference_mode_and_no_grad():
    model = mlp()
    with UnitMonitor(model, gradients=True) as monitor:
        with torch.inference_mode():
            model(torch.randn(3, 6))
        with torch.no_grad():
            model(torch.randn(4, 6))
        model(torch.randn(5, 6))
    s = monitor.stats()["1"]
    assert s.n == 12 and s.grad_n == 0  # no backward ran


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"tau": -0.5}, ValueError, "tau must be a real number in [0, inf)"),
        ({"tau": "0.1"}, TypeError, "tau must be"),
        ({"modules": ["nope"]}, ValueError, "modules entry 'nope' is not a module of the model"),
        ({"modules": [nn.ReLU()]}, ValueError, "modules entry ReLU is not a module of the model"),
        ({"modules": "1"}, TypeError, "modules must be None or an iterable"),
        ({"modules": [3]}, TypeError, "modules entries must be module names"),
        ({"modules": []}, ValueError, "modules is empty"),
        ({"gradients": 1}, TypeError, "gradients must be True or False"),
        ({"unit_axis": 1.5}, TypeError, "unit_axis must be an int"),
        ({"unit_axis": {"9": 1}}, ValueError, "unit_axis names '9'"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    import re

    with pytest.raises(error, match=re.escape(words)):
        UnitMonitor(mlp(), **kwargs)


def test_unit_axis_out_of_range_names_the_layer():
    with (
        pytest.raises(ValueError, match=r"unit_axis=2 is out of range .*layer '1'"),
        UnitMonitor(mlp(), unit_axis=2) as m,
    ):
        m.model(torch.randn(2, 6))
    model = nn.Sequential(nn.ReLU())
    with pytest.raises(ValueError, match="layer '0' had 3 units"), UnitMonitor(model):
        model(torch.randn(2, 3))
        model(torch.randn(2, 4))


@pytest.mark.parametrize("gradients", [True, False])  # False: the rectifier path for ReLU
def test_no_host_synchronisation_in_the_hooks(monkeypatch, gradients):
    """Every way the hooks could read a tensor value on the host raises during the passes."""
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 8),
        rt.GELU(),
        nn.Linear(8, 8),
        nn.Hardswish(inplace=True),
        nn.Linear(8, 1),
    )
    x = torch.randn(3, 2, 6, 6)
    with UnitMonitor(model, gradients=gradients) as monitor:
        model(x)  # the slots are allocated at the first batch (shapes only, but out of the way)

        def refuse(*args, **kwargs):
            raise AssertionError("host synchronisation in the per-batch path")

        for name in (
            "item",
            "tolist",
            "__bool__",
            "cpu",
            "numpy",
            "__int__",
            "__float__",
            "__index__",
            "nonzero",
        ):
            monkeypatch.setattr(torch.Tensor, name, refuse)
        model(x).sum().backward()
        monkeypatch.undo()
    assert monitor.report().summary()[0].seen == 2 * 3 * 4 * 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_no_sync_under_cuda_sync_debug_mode():
    model = mlp().cuda()
    x = torch.randn(64, 6, device="cuda")
    with UnitMonitor(model, gradients=True) as monitor:
        model(x)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(3):
                model(x).sum().backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert monitor.report().dead_units("1").tolist() == [3, 7, 11]


# --- torchvision ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torchvision():
    return import_torchvision()


def _check_against_reference(model, images):
    names = [n for n, m in model.named_modules() if isinstance(m, tuple(elementwise_classes()))]
    seen, handles = capture(model, names)
    with UnitMonitor(model) as monitor:
        for x in images:
            model(x)
    for h in handles:
        h.remove()
    stats = monitor.stats()
    for name in names:
        calls = seen[name]
        per_call = len(calls) // len(images)
        for k in range(per_call):
            key = name if k == 0 else f"{name}#{k + 1}"
            assert_stats_equal(stats[key], reference_stats(calls[k::per_call]))
    return monitor


def test_resnet18_end_to_end(torchvision):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():
        model.bn1.bias[[1, 10, 40]] = -1e4  # the stem's in-place ReLU: three channels killed
    images = [torch.randn(2, 3, 32, 32) for _ in range(2)]
    with torch.no_grad():
        monitor = _check_against_reference(model, images)
    report = monitor.report()
    assert report.dead_units("relu").tolist() == [1, 10, 40]
    assert "layer1.0.relu#2" in report.stats  # BasicBlock's ReLU, called twice
    assert len(report.layers) == 1 + 8 * 2


def test_mobilenet_v3_small_end_to_end(torchvision):
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(weights=None)
    images = [torch.randn(2, 3, 32, 32) for _ in range(2)]
    monitor = _check_against_reference(model, images)  # train mode: batch statistics
    layers = set(monitor.report().layers)
    for kind in (nn.Hardswish, nn.ReLU, nn.Hardsigmoid):  # in-place Hardswish: the pre-hook
        names = {n for n, m in model.named_modules() if isinstance(m, kind)}
        assert names and names <= layers


# --- distributed --------------------------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank, world, port, path):
    import torch.distributed as dist

    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = mlp()
        data = torch.load(path)
        with UnitMonitor(model, gradients=True) as monitor:
            for x in data[rank]:
                model(x).sum().backward()
        report = monitor.report(all_reduce=True)
        if rank == 0:
            torch.save(report.to_dict(), path + ".out")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_all_reduce_over_two_gloo_processes_equals_one_process(tmp_path):
    import torch.multiprocessing as mp

    torch.manual_seed(1)
    data = [[torch.randn(8, 6), torch.randn(5, 6)], [torch.randn(7, 6)]]
    path = str(tmp_path / "data.pt")
    torch.save(data, path)
    mp.spawn(_rank_main, args=(2, _free_port(), path), nprocs=2, join=True)
    merged = torch.load(path + ".out")
    model = mlp()
    with UnitMonitor(model, gradients=True) as monitor:
        model(torch.cat([x for part in data for x in part])).sum().backward()
    # one process on the union of the data; a gradient of a sum is per-example, so the sums
    # of all batches' gradients equal the union's (to float rounding)
    single = monitor.report().to_dict()
    for name, layer in single["layers"].items():
        other = merged["layers"][name]
        assert other["seen"] == layer["seen"] == 20
        assert other["dead"] == layer["dead"]
        for key in ("frequency", "mean_abs", "mean", "score", "grad_score"):
            np.testing.assert_allclose(other[key], layer[key], rtol=1e-6, atol=1e-9)


def test_all_reduce_needs_a_process_group():
    with UnitMonitor(mlp()) as monitor:
        monitor.model(torch.randn(2, 6))
    with pytest.raises(RuntimeError, match=r"needs an initialised torch\.distributed"):
        monitor.report(all_reduce=True)


# --- the accumulation arithmetic, pinned bit for bit ---------------------------------------------


def _pinned_stats(model, names, batches, unit_axis=None, gradients=False, dtype=torch.float32):
    """What the monitor must accumulate, written plainly: each batch reduced in its own dtype
    (float32 for half types) and added to float64 sums; activity counted as ``x > 0`` on the
    pre-activation; the gradient on the pre-activation likewise. Returns {layer: UnitStats}."""
    from relukit.diagnostics._stats import reduce_axes, resolve_unit_axis

    red = torch.float32 if dtype in (torch.float16, torch.bfloat16) else None
    acc: dict[str, list] = {}
    handles = []
    for n in names:
        mod = model.get_submodule(n)  # an activation module: its input is the pre-activation

        def pre(m, args, n=n):
            x = args[0]
            acc.setdefault(n, [None, None])[1] = x.detach().clone()  # before an in-place call
            if gradients and x.requires_grad:
                x.register_hook(lambda g, n=n: acc[n][0]["g"].append(g.detach().clone()))

        def post(m, args, out, n=n):
            x, h = acc[n][1], out.detach()
            axis = resolve_unit_axis(h.dim(), unit_axis)
            dims = reduce_axes(h.dim(), axis)
            units = h.shape[axis]
            s = acc[n][0] or {"n": 0, "g": [], "t": [torch.zeros(units, dtype=torch.float64)] * 3}
            s["dims"] = dims
            s["n"] += h.numel() // units
            t = s["t"]
            s["t"] = [
                t[0] + (x > 0).sum(dims).double(),
                t[1] + h.abs().sum(dims, dtype=red),
                t[2] + h.sum(dims, dtype=red),
            ]
            acc[n][0] = s

        handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    for b in batches:
        out = model(b)
        if gradients:
            out.float().square().sum().backward()
    for h in handles:
        h.remove()
    result = {}
    for n, (s, _) in acc.items():
        g = None
        if gradients:
            g = torch.zeros_like(s["t"][0])
            for grad in s["g"]:
                g = g + grad.abs().sum(s["dims"], dtype=red)
        result[n] = UnitStats(
            s["n"],
            s["t"][0].numpy().astype(np.int64),
            s["t"][1].numpy(),
            s["t"][2].numpy(),
            s["n"] if gradients else 0,
            None if g is None else g.numpy(),
        )
    return result


def _cnn(act):
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), act(),
        nn.Conv2d(8, 8, 3, stride=2), nn.BatchNorm2d(8), act(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2),
    )  # fmt: skip


def _bare(act):
    return lambda: nn.Sequential(act())  # the pre-activation is the input: NaN stays in its unit


PINNED = [  # label, model, watched layers, batch shape, dtype, a NaN observation at
    ("relu", lambda: mlp(nn.ReLU, width=64), ["1", "3"], (37, 6), torch.float32, None),
    ("relu-inplace", lambda: mlp(lambda: nn.ReLU(inplace=True), width=64), ["1", "3"], (37, 6),
     torch.float32, None),
    ("gelu", lambda: mlp(nn.GELU, width=64), ["1", "3"], (37, 6), torch.float32, None),
    ("hardswish-inplace", lambda: mlp(lambda: nn.Hardswish(inplace=True)), ["1", "3"], (9, 6),
     torch.float32, None),
    ("leaky-relu", lambda: mlp(lambda: rt.LeakyReLU(0.2)), ["1", "3"], (9, 6), torch.float32,
     None),
    ("relu-bfloat16", lambda: mlp(nn.ReLU, width=64).to(torch.bfloat16), ["1", "3"], (37, 6),
     torch.bfloat16, None),
    ("cnn-relu-inplace", lambda: _cnn(lambda: nn.ReLU(inplace=True)), ["2", "5"], (5, 3, 9, 9),
     torch.float32, None),
    ("cnn-silu", lambda: _cnn(nn.SiLU), ["2", "5"], (5, 3, 9, 9), torch.float32, None),
    ("nan-relu", _bare(nn.ReLU), ["0"], (7, 16), torch.float32, (1, 2)),
    ("nan-relu-inplace", _bare(lambda: nn.ReLU(inplace=True)), ["0"], (7, 16), torch.float32,
     (1, 2)),
    ("nan-elu", _bare(nn.ELU), ["0"], (7, 16), torch.float32, (1, 2)),
    ("nan-cnn-relu", _bare(nn.ReLU), ["0"], (2, 4, 3, 3), torch.float32, (1, 2, 0, 1)),
]  # fmt: skip


@pytest.mark.parametrize("gradients", [False, True])
@pytest.mark.parametrize(
    ("label", "make", "names", "shape", "dtype", "nan_at"), PINNED, ids=[p[0] for p in PINNED]
)
def test_accumulated_statistics_are_pinned_bit_for_bit(
    label, make, names, shape, dtype, nan_at, gradients
):
    """Each statistic equals, bit for bit, the plain per-batch arithmetic of ``_pinned_stats``
    (reduce in the batch's dtype, add into float64, count ``x > 0``): a refactor of the hooks
    that fuses, reorders or preallocates must not change a single reported bit, NaN included
    (an inactive observation whose unit's sums become NaN)."""
    torch.manual_seed(11)
    batches = [torch.randn(*shape) for _ in range(3)]
    if nan_at is not None:
        batches[1][nan_at] = float("nan")
    requires_grad = gradients and label.startswith("nan")  # no parameters: grad from the input
    batches = [b.to(dtype).requires_grad_(requires_grad) for b in batches]
    model = make()
    with UnitMonitor(model, gradients=gradients) as monitor:
        for b in batches:
            out = model(b.clone() if requires_grad else b)  # in place on a leaf: not allowed
            if gradients:
                out.float().square().sum().backward()
    model = make()  # the same weights (seeded), the same batches: the same passes
    want = _pinned_stats(
        model,
        names,
        [b.clone() if requires_grad else b for b in batches],
        gradients=gradients,
        dtype=dtype,
    )
    got = monitor.stats()
    assert list(got) == names
    for n in names:
        g, w = got[n], want[n]
        assert (g.n, g.grad_n) == (w.n, w.grad_n)
        if nan_at is not None:
            assert 0 < np.isnan(w.sum).sum() < w.units  # the NaN unit only
        else:
            assert not np.isnan(w.sum).any()
        np.testing.assert_array_equal(g.active, w.active)
        np.testing.assert_array_equal(g.abs_sum, w.abs_sum)
        np.testing.assert_array_equal(g.sum, w.sum)
        if gradients:
            np.testing.assert_array_equal(g.grad_abs_sum, w.grad_abs_sum)
        else:
            assert g.grad_abs_sum is None


def test_counts_beyond_float32_exact_integers_go_through_float64(monkeypatch):
    """Batches with ≥ 2^24 observations per unit count in float64 (float32 would round): the
    branch taken below that size with a lowered threshold gives the same bits."""
    import relukit.diagnostics._torch as mt

    torch.manual_seed(5)
    batches = [torch.randn(6, 5, 4) for _ in range(2)]
    batches[0][1, 2, 3] = float("nan")
    for act in (nn.ReLU, nn.GELU, lambda: nn.Hardswish(inplace=True)):
        got = {}
        for below in (2**24, 1):
            monkeypatch.setattr(mt, "_EXACT_BELOW", below)
            model = nn.Sequential(act())
            with UnitMonitor(model, unit_axis=1) as monitor:
                for b in batches:
                    model(b.clone())
            got[below] = monitor.stats()["0"]
        a, b = got[1], got[2**24]
        assert a.n == b.n == 48
        for field in ("active", "abs_sum", "sum"):  # bit for bit, NaN where it was
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize("act", [nn.ReLU, nn.GELU, lambda: nn.ELU(inplace=True)])
def test_a_layer_whose_dtype_changes_between_batches(act):
    """Each batch is reduced in its own dtype (float32 for bfloat16) and added into float64:
    the per-batch buffers follow the batch's dtype."""
    torch.manual_seed(6)
    model = nn.Sequential(act())
    xs = [torch.randn(9, 7), torch.randn(5, 7).bfloat16(), torch.randn(4, 7).double()]
    want = torch.zeros(3, 7, dtype=torch.float64)
    with UnitMonitor(model) as monitor:
        for x in xs:
            pre = x.clone()
            h = model(x)
            red = torch.float32 if h.dtype == torch.bfloat16 else h.dtype
            want += torch.stack(
                [(pre > 0).sum(0).double(), h.abs().sum(0, dtype=red), h.sum(0, dtype=red)]
            )
    got = monitor.stats()["0"]
    assert got.n == 18
    np.testing.assert_array_equal(got.active, want[0].numpy().astype(np.int64))
    np.testing.assert_array_equal(got.abs_sum, want[1].numpy())
    np.testing.assert_array_equal(got.sum, want[2].numpy())
