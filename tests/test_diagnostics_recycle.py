"""recycle_: revives exactly the units killed by construction, changes nothing else, keeps the
output, resets the optimizer's state of exactly those entries, and the revived units live on."""

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import relukit.torch as rt  # noqa: E402
from relukit.diagnostics import UnitMonitor, recycle_  # noqa: E402
from relukit.init import gain  # noqa: E402

DEAD = [1, 4, 9]


def mlp(act=nn.ReLU):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(6, 12), act(), nn.Dropout(0.0), nn.Linear(12, 12), act(), nn.Linear(12, 3)
    )
    with torch.no_grad():
        model[0].bias[DEAD] = -1e3
    return model


def report_of(model, x, **kwargs):
    with UnitMonitor(model, **kwargs) as monitor:
        model(x)
    return monitor.report()


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed_entries(before, model):
    """{state_dict key: boolean mask of the entries that differ}."""
    after = model.state_dict()
    return {k: after[k] != before[k] for k in before if not torch.equal(after[k], before[k])}


@pytest.mark.parametrize(
    ("act", "same_output"),
    [
        (nn.ReLU, "bitwise"),
        (nn.GELU, None),
        (rt.ELU, None),
        (lambda: nn.LeakyReLU(0.05), None),
    ],
)
def test_revives_exactly_the_dead_and_changes_nothing_else(act, same_output):
    model = mlp(act)
    x = torch.randn(256, 6)
    report = report_of(model, x)
    assert report.dead_units("1").tolist() == DEAD  # exactly the units killed
    dead4 = report.dead_units("4").tolist()  # whatever died downstream of them
    before, out = snapshot(model), model(x)
    done = recycle_(model, report, generator=torch.Generator().manual_seed(1))
    assert next((d.layer, d.units, d.producer, d.consumer) for d in done) == (
        "1",
        tuple(DEAD),
        "0",
        "3",
    )
    if same_output == "bitwise":  # outgoing weights zero, dead outputs 0: the output is the same
        assert torch.equal(model(x), out)
    elif same_output == "close":  # a dead ELU's constant −1 absorbed by the consumer's bias
        torch.testing.assert_close(model(x), out)
    diff = changed_entries(before, model)
    rows = torch.zeros(12, dtype=torch.bool)
    rows[DEAD] = True
    rows4 = torch.zeros(12, dtype=torch.bool)
    rows4[dead4] = True
    allowed = {"0.weight", "0.bias", "3.weight"} | ({"3.bias", "5.weight"} if dead4 else set())
    allowed |= {"3.bias"} if same_output != "bitwise" else set()
    allowed |= {"5.bias"} if same_output != "bitwise" and dead4 else set()
    assert set(diff) <= allowed
    assert torch.equal(diff["0.weight"].any(1), rows)  # rows of exactly the dead units
    # model[3]: columns of the dead units of layer 1, rows of those of layer 4
    assert torch.equal(
        diff["3.weight"] & ~rows4[:, None], rows[None, :].expand(12, 12) & ~rows4[:, None]
    )
    if same_output == "bitwise":
        assert torch.all(model[3].weight[:, DEAD][~rows4] == 0) and torch.all(
            model[0].bias[DEAD] == 0
        )
    entry, params = rt.activation_of(model[1])
    want = gain(entry, **params) / np.sqrt(6)
    assert done[0].std == pytest.approx(want)
    after = report_of(model, x)
    assert after.dead_units("1").tolist() == [] and after.dead_units("4").tolist() == []


def test_conv_batchnorm_flatten_linear():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3),
        nn.BatchNorm2d(6),
        nn.ReLU(inplace=True),
        nn.Conv2d(6, 5, 3),
        nn.BatchNorm2d(5),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(5 * 4 * 4, 2),
    ).eval()
    with torch.no_grad():
        model[1].bias[[0, 4]] = -1e4  # killed by batch norm's shift
        model[4].bias[[2]] = -1e4
    x = torch.randn(8, 3, 8, 8)
    report = report_of(model, x)
    assert report.dead_units("2").tolist() == [0, 4] and report.dead_units("5").tolist() == [2]
    before, out = snapshot(model), model(x)
    done = recycle_(model, report)
    assert [(d.producer, d.norm, d.consumer) for d in done] == [("0", "1", "3"), ("3", "4", "7")]
    torch.testing.assert_close(model(x), out, rtol=0, atol=0)
    diff = changed_entries(before, model)
    # batch norm's weights (1) and running statistics (0, 1) were at their reset values already
    assert set(diff) == {"0.weight", "0.bias", "1.bias", "3.weight", "3.bias", "4.bias", "7.weight"}
    assert torch.equal(diff["1.bias"], torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.bool))
    assert torch.equal(diff["0.weight"].flatten(1).any(1), diff["1.bias"])
    cols = torch.zeros(5, 16, dtype=torch.bool)
    cols[2] = True  # the flattened block of channel 2
    assert torch.equal(diff["7.weight"].any(0), cols.reshape(-1))
    # model[3]: input channels 0 and 4 zeroed, output channel 2 re-drawn
    changed = diff["3.weight"].flatten(2).any(2)
    want = torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.bool)
    assert torch.equal(changed[[0, 1, 3, 4]].any(0), want) and bool(changed[2].all())
    assert torch.equal(model[3].weight[:, [0, 4]], torch.zeros(5, 2, 3, 3))
    report = report_of(model, x)
    assert report.dead_units("2").tolist() == [] and report.dead_units("5").tolist() == []


class Functional(nn.Module):
    """Not a Sequential: found through torch.fx (pooling and torch.flatten as calls)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        h = self.act(self.conv(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def test_found_through_fx():
    torch.manual_seed(0)
    model = Functional()
    with torch.no_grad():
        model.conv.bias[3] = -1e3
    x = torch.randn(4, 2, 6, 6)
    report = report_of(model, x)
    out = model(x)
    (done,) = recycle_(model, report)
    assert (done.producer, done.norm, done.consumer, done.units) == ("conv", None, "fc", (3,))
    assert torch.equal(model(x), out)
    assert torch.all(model.fc.weight[:, 3] == 0)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(self.act(h)) + h


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)

    def forward(self, x):
        return self.act(self.fc2(self.act(self.fc1(x))))


def _killed(model, layer):
    with torch.no_grad():
        model.get_submodule(layer).bias[0] = -1e3
    return model


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: _killed(Residual(), "fc1"), "cannot recycle layer 'act': its input"),
        (lambda: _killed(Twice(), "fc1"), "cannot recycle layer 'act': it is called more than"),
        (
            lambda: _killed(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), "0"),
            "cannot recycle layer '1': its output goes to the model's output",
        ),
        (
            lambda: _killed(
                nn.Sequential(nn.Conv2d(2, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 1, groups=2)), "0"
            ),
            "cannot recycle layer '1': the next Conv is grouped (groups=2)",
        ),
        (
            lambda: _killed(
                nn.Sequential(nn.Linear(2, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 1)), "0"
            ),
            "LayerNorm (1), which mixes units",
        ),
        (
            lambda: _killed(nn.Sequential(nn.Linear(2, 4), nn.Softsign(), nn.Linear(4, 1)), "0"),
            "cannot recycle layer '1' (Softsign): not a catalog activation",
        ),
    ],
)
def test_topologies_it_cannot_handle_raise_and_change_nothing(make, words):
    model = make()
    first = next(model.modules().__iter__().__next__().children())
    x = (
        torch.randn(8, 2, 3, 3)
        if isinstance(first, nn.Conv2d)
        else torch.randn(8, first.in_features)
    )
    report = report_of(model, x)
    assert sum(len(report.dead_units(layer)) for layer in report.layers) >= 1
    optimizer = torch.optim.Adam(model.parameters())
    model(x).sum().backward()
    optimizer.step()
    before, state = snapshot(model), {k: dict(v) for k, v in optimizer.state.items()}
    state = {p: {k: v.clone() for k, v in s.items()} for p, s in state.items()}
    with pytest.raises(ValueError, match=re.escape(words)):
        recycle_(model, report, optimizer)
    assert not changed_entries(before, model)
    for p, s in optimizer.state.items():
        assert all(torch.equal(v, state[p][k]) for k, v in s.items())


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"units": "all"}, ValueError, "units must be 'dead' or 'dormant'"),
        ({"tau": -1.0}, ValueError, "tau must be a real number in [0, inf)"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be a torch.optim.Optimizer"),
        ({"generator": 3}, TypeError, "generator must be a torch.Generator"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, words):
    model = mlp()
    report = report_of(model, torch.randn(4, 6))
    with pytest.raises(error, match=re.escape(words)):
        recycle_(model, report, **kwargs)
    with pytest.raises(TypeError, match=r"report must be a relukit\.diagnostics\.Report"):
        recycle_(model, {"1": [1]})


def _train(model, optimizer, x, y, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()


def _column_updates(model, optimizer, x, y):
    """|Δ| per column of the consumer weight (model[3]) after one optimizer step."""
    w0 = model[3].weight.detach().clone()
    _train(model, optimizer, x, y, 1)
    return (model[3].weight.detach() - w0).norm(dim=0)


def _trained(optimizer_cls, **kw):
    model = mlp()
    torch.manual_seed(3)
    x, y = torch.randn(128, 6), torch.randn(128, 3)
    optimizer = optimizer_cls(model.parameters(), **kw)
    # long enough for the bias corrections to matter (1 − 0.999^600 = 0.45)
    _train(model, optimizer, x, y, 600 if optimizer_cls is torch.optim.Adam else 100)
    return model, optimizer, x, y


@pytest.mark.slow  # 600 Adam steps first: ~2 s alone, more on a loaded machine
def test_adam_first_update_of_revived_units_is_like_a_living_units():
    model, optimizer, x, y = _trained(torch.optim.Adam, lr=1e-3)
    report = report_of(model, x)
    assert report.dead_units("1").tolist() == DEAD
    recycle_(model, report, optimizer, generator=torch.Generator().manual_seed(0))
    state = optimizer.state[model[3].weight]
    assert torch.all(state["exp_avg"][:, DEAD] == 0)
    steps = _column_updates(model, optimizer, x, y)
    living = steps[[i for i in range(12) if i not in DEAD]].median()
    revived = steps[DEAD]
    assert torch.all(revived > 0) and torch.all(revived <= 2 * living), (revived, living)


@pytest.mark.slow  # 600 Adam steps first: ~2 s alone, more on a loaded machine
def test_adam_with_zeroed_second_moments_would_overshoot():
    """The problem the remedy solves: zeroed moments under a large step → a ~3·lr sign step."""
    model, optimizer, x, y = _trained(torch.optim.Adam, lr=1e-3)
    recycle_(model, report_of(model, x))  # no optimizer: its moments are zeroed by hand
    state = optimizer.state
    for key in ("exp_avg", "exp_avg_sq"):
        state[model[0].weight][key][DEAD] = 0.0
        state[model[0].bias][key][DEAD] = 0.0
        state[model[3].weight][key][:, DEAD] = 0.0
    steps = _column_updates(model, optimizer, x, y)
    living = steps[[i for i in range(12) if i not in DEAD]].median()
    assert torch.all(steps[DEAD] > 2 * living)


def test_revived_units_stay_alive_over_20_adam_steps():
    model, optimizer, x, y = _trained(torch.optim.AdamW, lr=1e-2)
    recycle_(model, report_of(model, x), optimizer)
    with UnitMonitor(model) as monitor:
        _train(model, optimizer, x, y, 20)
        model(x)
    assert monitor.report().dead_units("1").tolist() == []
    assert report_of(model, x).dead_units("1").tolist() == []


def test_sgd_momentum_of_exactly_those_entries_is_zeroed():
    model, optimizer, x, _ = _trained(torch.optim.SGD, lr=1e-2, momentum=0.9)
    report = report_of(model, x)
    buffers = {p: optimizer.state[p]["momentum_buffer"].clone() for p in model.parameters()}
    recycle_(model, report, optimizer)
    for p in model.parameters():
        now = optimizer.state[p]["momentum_buffer"]
        if p is model[3].weight:
            assert torch.all(now[:, DEAD] == 0)
            keep = [i for i in range(12) if i not in DEAD]
            assert torch.equal(now[:, keep], buffers[p][:, keep])
        elif p is model[0].weight or p is model[0].bias:
            assert torch.all(now[DEAD] == 0)
        else:
            assert torch.equal(now, buffers[p])


def test_dormant_units_with_tau():
    model = mlp()
    with torch.no_grad():
        model[0].weight[2] *= 1e-4  # alive but tiny: dormant, not dead
        model[0].bias[2] = 1e-4
    x = torch.randn(128, 6)
    report = report_of(model, x)
    assert 2 in report.dormant_units("1").tolist() and 2 not in report.dead_units("1").tolist()
    out = model(x)
    done = recycle_(model, report, units="dormant", tau=0.05)
    assert 2 in done[0].units
    # a dormant unit's small varying signal goes with it; its mean is absorbed by the bias
    torch.testing.assert_close(model(x), out, atol=1e-3, rtol=0)


def test_a_dead_elu_units_constant_is_absorbed_by_the_next_bias():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 12), rt.ELU(), nn.Linear(12, 3))
    with torch.no_grad():
        model[0].bias[DEAD] = -1e3  # outputs exactly −1
    x = torch.randn(64, 6)
    report = report_of(model, x)
    out = model(x)
    recycle_(model, report)
    torch.testing.assert_close(model(x), out)


def test_torchvision_topologies_it_cannot_handle_are_named_and_nothing_changes():
    from helpers import import_torchvision

    torchvision = import_torchvision()
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():
        model.bn1.bias[[1, 10]] = -1e4
    x = torch.randn(2, 3, 32, 32)
    with UnitMonitor(model) as monitor, torch.no_grad():
        model(x)
    report = monitor.report()
    assert report.dead_units("relu").tolist() == [1, 10]
    before = snapshot(model)
    # the stem's ReLU feeds a max-pool whose output goes to layer1's conv and its residual add
    with pytest.raises(ValueError, match=r"cannot recycle layer 'relu'.*2 consumers"):
        recycle_(model, report)
    assert not changed_entries(before, model)


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def forward(self, x):
        return x if x.sum() > -1e30 else -x


def test_a_sequential_fx_cannot_trace_is_read_by_module_order():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.0), nn.Linear(8, 8),
        nn.ReLU(), nn.Linear(8, 1), Untraceable(),
    ).eval()  # fmt: skip
    with torch.no_grad():
        model[1].bias[[2, 6]] = -1e3
    x = torch.randn(32, 4)
    report = report_of(model, x)
    assert report.dead_units("2").tolist() == [2, 6]
    out = model(x)
    done = recycle_(model, report)
    assert next((d.layer, d.producer, d.norm, d.consumer) for d in done) == ("2", "0", "1", "4")
    assert torch.equal(model(x), out)
    assert report_of(model, x).dead_units("2").tolist() == []
