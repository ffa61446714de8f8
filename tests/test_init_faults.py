"""relukit.init on bad input and faults (issue #10, items 11 and 17).

Every public init function raises an exception that names the argument (or, for ``init_model_``,
the layer) and what is accepted; none returns silent garbage, crashes or hangs; none changes
the caller's data before failing.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import relukit
from relukit import init

torch = pytest.importorskip("torch")
nn = torch.nn


def _zero_size_linear(fan_in, fan_out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "Initializing zero-element tensors is a no-op"
        return nn.Linear(fan_in, fan_out)


def _snapshot(model):
    """A copy of the model's parameters and buffers (lazy ones, which have no values, skipped)."""
    return {
        k: v.detach().clone()
        for k, v in model.state_dict(keep_vars=True).items()
        if not nn.parameter.is_lazy(v)
    }


def _assert_unchanged(model, before):
    after = model.state_dict(keep_vars=True)
    assert before.keys() <= after.keys()
    for k, v in before.items():
        if v.is_meta:
            continue
        assert torch.equal(after[k].detach(), v) or (
            torch.isnan(v).any() and torch.equal(torch.isnan(after[k]), torch.isnan(v))
        ), k


# --- item 11: init_model_ --------------------------------------------------------------------


def _twice_flat():
    lin = nn.Linear(4, 4)
    return nn.Sequential(lin, nn.ReLU(), lin, nn.GELU(), nn.Linear(4, 2)), "0", ("0", "2")


def _twice_nested():
    lin = nn.Linear(4, 4)
    inner = nn.Sequential(lin, nn.ReLU())
    return nn.Sequential(inner, lin, nn.ELU(), nn.Linear(4, 2)), "0.0", ("0.0", "1")


def _twice_in_block():
    lin = nn.Linear(4, 4)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = lin

        def forward(self, x):
            return self.inner(x)

    return nn.Sequential(lin, nn.ReLU(), Block(), nn.Linear(4, 2)), "0", ("0", "2.inner")


@pytest.mark.parametrize("build", [_twice_flat, _twice_nested, _twice_in_block])
def test_init_model_layer_used_twice_is_unpaired_and_untouched(build):
    model, name, positions = build()
    shared = model.get_submodule(name)
    before = (shared.weight.detach().clone(), shared.bias.detach().clone())
    report = init.init_model_(model)
    assert "more than once" in report.unpaired[name]
    assert all(p in report.unpaired[name] for p in positions)
    assert name not in {x.name for x in report.initialised}
    assert torch.equal(shared.weight, before[0]) and torch.equal(shared.bias, before[1])
    assert (model[-1].bias == 0).all()  # the others are still initialised


def test_init_model_layer_called_twice_fx():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.alias = self.a  # the same module under a second name
            self.out = nn.Linear(4, 2)

        def forward(self, x):
            return self.out(torch.relu(self.alias(torch.relu(self.a(x)))))

    model = Twice()
    before = model.a.weight.detach().clone()
    report = init.init_model_(model)
    assert "more than once" in report.unpaired["a"]
    assert torch.equal(model.a.weight, before)


def _tied_sequential():
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    b.weight = a.weight
    return nn.Sequential(a, nn.ReLU(), b, nn.LeakyReLU(0.5), nn.Linear(4, 2)), ["0", "2"]


def _tied_bias():
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    b.bias = a.bias
    return nn.Sequential(a, nn.ReLU(), b, nn.ReLU(), nn.Linear(4, 2)), ["0", "2"]


def _tied_embedding():
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.hidden = nn.Linear(4, 4)
            self.dec = nn.Linear(4, 10, bias=False)
            self.dec.weight = self.emb.weight

        def forward(self, x):
            return self.dec(torch.relu(self.hidden(self.emb(x))))

    return LM(), ["dec"]


@pytest.mark.parametrize("build", [_tied_sequential, _tied_bias, _tied_embedding])
def test_init_model_shared_parameter_is_unpaired_and_untouched(build):
    model, names = build()
    before = _snapshot(model)
    report = init.init_model_(model)
    for name in names:
        assert "shared" in report.unpaired[name]
        assert name not in {x.name for x in report.initialised}
    after = model.state_dict(keep_vars=True)
    for key, value in before.items():
        if key.rpartition(".")[0] in names or key.startswith("emb"):
            assert torch.equal(after[key].detach(), value), key


def _nan_prelu():
    prelu = nn.PReLU()
    with torch.no_grad():
        prelu.weight.fill_(math.nan)
    return prelu


class _FxHuge(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 2)

    def forward(self, x):
        h = torch.relu(self.a(x))
        h = torch.nn.functional.leaky_relu(self.b(h), 1e155)
        return self.c(h)


BAD_MODELS = {
    # name: (model builder, the layer named in the error, words the error must contain)
    "zero-size": (
        lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), _zero_size_linear(8, 0), nn.ReLU()),
        "'2'",
        ["zero"],
    ),
    "nan-prelu": (
        lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), _nan_prelu()),
        "'2'",
        ["PReLU", "weight", "finite"],
    ),
    "huge-slope-float32": (
        lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.LeakyReLU(1e155)),
        "'2'",
        ["negative_slope", "float32"],
    ),
    "huge-alpha": (
        lambda: nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 8), nn.ELU(alpha=1e200)),
        "'2'",
        ["alpha"],
    ),
    "huge-slope-fx": (_FxHuge, "'b'", ["negative_slope", "leaky_relu"]),
}


@pytest.mark.parametrize("case", list(BAD_MODELS))
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_init_model_is_atomic_and_names_the_layer(case, distribution):
    build, layer, words = BAD_MODELS[case]
    model = build()
    before = _snapshot(model)
    with pytest.raises(ValueError, match="init_model_") as err:
        init.init_model_(model, distribution=distribution)
    message = str(err.value)
    assert f"layer {layer}" in message and "nothing was changed" in message
    assert all(w in message for w in words), message
    _assert_unchanged(model, before)  # the earlier, valid layers were not re-initialised


def test_init_model_wrong_device_generator_is_atomic():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2).to("meta"))
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"layer '2'.*generator"):
        init.init_model_(model, generator=torch.Generator())
    _assert_unchanged(model, before)  # layer 0, on the CPU, was not initialised either


class _LazyFx(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.LazyLinear(8)
        self.b = nn.Linear(8, 2)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.Linear(8, 2)),
        lambda: nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.LazyConv1d(2, 3), nn.ReLU()),
        _LazyFx,
    ],
    ids=["sequential", "lazy-conv", "fx"],
)
def test_init_model_lazy_layer_is_unpaired(build):
    model = build()
    report = init.init_model_(model)
    lazy = [n for n, m in model.named_modules() if nn.parameter.is_lazy(getattr(m, "weight", 0))]
    assert lazy
    for name in lazy:
        assert "lazy" in report.unpaired[name] and "forward" in report.unpaired[name]
        assert nn.parameter.is_lazy(model.get_submodule(name).weight)  # still lazy
    assert {x.name for x in report.initialised} == {
        n for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d))
    } - set(lazy)


@pytest.mark.parametrize("slope", [1e155, 1e200, 1.7e308, -1e160])
@pytest.mark.parametrize("mode", ["forward", "backward"])
def test_gain_huge_slope_does_not_overflow(slope, mode):
    expected = math.sqrt(2.0) / math.hypot(1.0, slope)
    assert init.gain("leaky_relu", mode=mode, negative_slope=slope) == pytest.approx(
        expected, 1e-15
    )
    assert init.gain("prelu", mode=mode, weight=slope) == pytest.approx(expected, 1e-15)
    # mean(a²) of [a, a/2] overflows; the scaled formula must not
    got = init.gain("prelu", mode=mode, weight=np.array([slope, slope / 2]))
    assert got == pytest.approx(math.sqrt(2.0) / (abs(slope) * math.sqrt(0.625)), 1e-14)


def test_init_model_huge_slope_float64_is_not_zeroed():
    model = nn.Sequential(nn.Linear(64, 256), nn.LeakyReLU(1e155), nn.Linear(256, 1)).double()
    report = init.init_model_(model)
    std = report.initialised[0].std
    assert std == pytest.approx(math.sqrt(2.0) / 1e155 / 8, 1e-12)
    assert (model[0].weight != 0).all()
    assert model[0].weight.std().item() == pytest.approx(std, rel=0.05)


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"activation": "elu", "alpha": 1e200}, "alpha"),
        ({"activation": "elu", "mode": "backward", "alpha": -1e160}, "alpha"),
        ({"activation": "elu", "alpha": 10**400}, "alpha"),
        ({"activation": "leaky_relu", "negative_slope": 10**400}, "negative_slope"),
        ({"activation": "leaky_relu", "negative_slope": -(10**400)}, "negative_slope"),
        ({"activation": "prelu", "weight": [10**400]}, "weight"),
    ],
)
def test_gain_refuses_parameters_without_a_finite_positive_gain(params, word):
    with pytest.raises(ValueError, match=word):
        init.gain(**params)


@pytest.mark.parametrize(
    ("shape", "slope", "word"),
    [((4, 10**6), 1.7e308, "float64"), ((4, 4), 1e155, "float32")],
)
def test_kaiming_refuses_a_std_that_flushes_to_zero(shape, slope, word):
    if word == "float64":
        with pytest.raises(ValueError, match=r"negative_slope.*float64"):
            init.kaiming_std(shape, "leaky_relu", negative_slope=slope)
        return
    t = torch.full(shape, 7.0)
    for fn in (init.kaiming_normal_, init.kaiming_uniform_):
        with pytest.raises(ValueError, match=f"negative_slope.*{word}"):
            fn(t, "leaky_relu", negative_slope=slope)
        assert (t == 7.0).all()
    assert init.kaiming_normal_(t.double(), "leaky_relu", negative_slope=slope).abs().max() > 0


# --- item 17: lsuv_ --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_lsuv_reduced_precision(dtype):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 32), nn.GELU()).to(dtype)
    report = init.lsuv_(model, (torch.randn(256, 16) * 3).to(dtype), tol=0.1)
    assert [x.name for x in report.layers] == ["0", "2"]
    assert all(x.converged for x in report.layers), str(report)
    assert all(p.dtype == dtype for p in model.parameters())
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


class _Fails(nn.Module):
    """Fails on its second forward (after LSUV's first rescaling)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("boom")
        return self.a(x)


@pytest.mark.parametrize(
    ("build", "batch", "exc", "word"),
    [
        (lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU()), torch.randn(8, 3), RuntimeError, None),
        (lambda: nn.Sequential(nn.Linear(4, 1)), torch.randn(1, 4), ValueError, "batch"),
        (
            lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU()),
            torch.full((8, 4), math.nan),
            ValueError,
            "batch",
        ),
        (
            lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.LazyLinear(2)),
            torch.randn(8, 4),
            ValueError,
            "'2'.*lazy",
        ),
        (
            lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), _zero_size_linear(8, 0)),
            torch.randn(8, 4),
            ValueError,
            "'2'.*zero-size",
        ),
        (_Fails, torch.randn(8, 4) * 5, RuntimeError, "boom"),
    ],
    ids=["wrong-shape", "one-value", "nan-batch", "lazy", "zero-size", "fails-midway"],
)
def test_lsuv_failures_leave_the_model_unchanged(build, batch, exc, word):
    model = build()
    model.train()
    before = _snapshot(model)
    with pytest.raises(exc, match=word):
        init.lsuv_(model, batch)
    _assert_unchanged(model, before)
    assert model.training  # its mode is restored too


# --- item 17: every public function with bad input -------------------------------------------


def _lazy_param():
    return nn.LazyLinear(3).weight


def _sentinel(shape=(4, 4), dtype=None):
    return torch.full(shape, 7.0, dtype=dtype)


def _kaiming_cases():
    fns = [("kaiming_normal_", init.kaiming_normal_), ("kaiming_uniform_", init.kaiming_uniform_)]
    bad = [
        # (tensor, kwargs, exception, word in the message)
        (None, {}, TypeError, "tensor"),
        ("abc", {}, TypeError, "tensor"),
        (np.empty((0, 3)), {}, ValueError, "tensor"),
        (torch.empty(3, 0), {}, ValueError, "tensor"),
        (torch.empty(5), {}, ValueError, "tensor"),
        (np.empty(5), {}, ValueError, "tensor"),
        (torch.zeros(3, 3, dtype=torch.int32), {}, TypeError, "tensor"),
        (np.zeros((3, 3), np.complex128), {}, TypeError, "tensor"),
        (_lazy_param, {}, ValueError, "tensor"),
        (_sentinel, {"activation": None, "negative_slope": 0.1}, TypeError, "linear"),
        (_sentinel, {"activation": "leaky_relu", "negative_slope": math.nan}, ValueError, "slope"),
        (_sentinel, {"activation": "leaky_relu", "negative_slope": math.inf}, ValueError, "slope"),
        (_sentinel, {"activation": "leaky_relu", "negative_slope": None}, TypeError, "slope"),
        (_sentinel, {"activation": "leaky_relu", "negative_slope": "0.1"}, TypeError, "slope"),
        (_sentinel, {"activation": "prelu", "weight": torch.tensor([])}, ValueError, "weight"),
        (
            _sentinel,
            {"activation": "prelu", "weight": torch.tensor([math.nan])},
            ValueError,
            "weight",
        ),
        (_sentinel, {"activation": "elu", "alpha": 1e200}, ValueError, "alpha"),
        (_sentinel, {"activation": "swish"}, ValueError, "activation"),
        (_sentinel, {"activation": None, "mode": None}, ValueError, "mode"),
        (_sentinel, {"generator": object()}, TypeError, "generator"),
        (
            lambda: torch.empty(4, 4, device="meta"),
            {"generator": torch.Generator()},
            ValueError,
            "generator",
        ),
        (_sentinel, {"rng": np.random.default_rng()}, TypeError, "rng"),
        (lambda: np.full((4, 4), 7.0), {"rng": "seed"}, TypeError, "rng"),
        (lambda: np.full((4, 4), 7.0), {"layout": None}, ValueError, "layout"),
        (lambda: np.full((4, 4), 7.0), {"generator": torch.Generator()}, TypeError, "generator"),
    ]
    return [
        pytest.param(fn, *case, id=f"{name}-{i}") for name, fn in fns for i, case in enumerate(bad)
    ]


@pytest.mark.parametrize(("fn", "tensor", "kwargs", "exc", "word"), _kaiming_cases())
def test_kaiming_bad_input_names_the_argument_and_changes_nothing(fn, tensor, kwargs, exc, word):
    if callable(tensor):
        tensor = tensor()
    before = None
    if isinstance(tensor, np.ndarray):
        before = tensor.copy()
    elif isinstance(tensor, torch.Tensor) and not (nn.parameter.is_lazy(tensor) or tensor.is_meta):
        before = tensor.clone()
    with pytest.raises(exc, match=word):
        fn(tensor, **kwargs)
    if isinstance(before, torch.Tensor):
        assert torch.equal(tensor, before)
    elif before is not None and before.size:
        np.testing.assert_array_equal(tensor, before)


@pytest.mark.parametrize(
    ("shape", "kwargs", "exc", "word"),
    [
        (None, {}, TypeError, "shape"),
        ("ab", {}, TypeError, "shape"),
        ((3,), {}, ValueError, "shape"),
        ((0, 3), {}, ValueError, "shape"),
        ((3.5, 2), {}, TypeError, "shape"),
        ((-1, 3), {}, ValueError, "shape"),
        ((True, 3), {}, TypeError, "shape"),
        ((3, 3), {"mode": "fan_avg"}, ValueError, "mode"),
        ((3, 3), {"layout": "jax"}, ValueError, "layout"),
        ((3, 3), {"activation": "leaky_relu", "negative_slope": math.nan}, ValueError, "slope"),
        ((3, 3), {"activation": object()}, ValueError, "activation"),
    ],
)
def test_kaiming_std_bad_input(shape, kwargs, exc, word):
    with pytest.raises(exc, match=word):
        init.kaiming_std(shape, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"activation": None, "negative_slope": 0.1}, TypeError, "linear"),
        ({"activation": "nope"}, ValueError, "activation"),
        ({"activation": ["relu"]}, ValueError, "activation"),
        ({"activation": "relu", "mode": None}, ValueError, "mode"),
        ({"activation": "relu", "mode": ["forward"]}, ValueError, "mode"),
        ({"activation": "leaky_relu", "negative_slope": None}, TypeError, "negative_slope"),
        ({"activation": "leaky_relu", "negative_slope": "0.1"}, TypeError, "negative_slope"),
        ({"activation": "leaky_relu", "negative_slope": True}, TypeError, "negative_slope"),
        ({"activation": "leaky_relu", "negative_slope": math.nan}, ValueError, "negative_slope"),
        ({"activation": "leaky_relu", "negative_slope": -math.inf}, ValueError, "negative_slope"),
        ({"activation": "elu", "alpha": np.float64(math.nan)}, ValueError, "alpha"),
        ({"activation": "gelu", "approximate": None}, ValueError, "approximate"),
        ({"activation": "prelu", "weight": None}, TypeError, "weight"),
        ({"activation": "prelu", "weight": "0.25"}, TypeError, "weight"),
        ({"activation": "prelu", "weight": True}, TypeError, "weight"),
        ({"activation": "prelu", "weight": [0.1, None]}, TypeError, "weight"),
        ({"activation": "prelu", "weight": [[0.1], [0.1, 0.2]]}, TypeError, "weight"),
        ({"activation": "prelu", "weight": np.array([1 + 1j])}, TypeError, "weight"),
        ({"activation": "prelu", "weight": torch.tensor([True])}, TypeError, "weight"),
        ({"activation": "prelu", "weight": torch.tensor([1j])}, TypeError, "weight"),
        ({"activation": "prelu", "weight": torch.empty(0)}, ValueError, "weight"),
        ({"activation": "prelu", "weight": torch.tensor([0.1, math.inf])}, ValueError, "weight"),
        ({"activation": "prelu", "weight": torch.empty(2, device="meta")}, ValueError, "weight"),
        ({"activation": "prelu", "weight": _lazy_param()}, ValueError, "weight"),
    ],
)
def test_gain_bad_input_names_the_argument(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        init.gain(**kwargs)


def test_gain_takes_prelu_weights_of_any_float_dtype():
    g = init.gain("prelu", weight=0.25)
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        assert init.gain("prelu", weight=torch.tensor([0.25], dtype=dtype)) == g
    assert init.gain("prelu", weight=[0, 1]) == pytest.approx(math.sqrt(2 / 1.5), 1e-15)


@pytest.mark.parametrize("fn", [init.rai_, init.asymmetric_])
@pytest.mark.parametrize(
    ("layer", "kwargs", "exc", "word"),
    [
        (None, {}, TypeError, "layer"),
        ("linear", {}, TypeError, "layer"),
        (torch.empty(3, 3), {}, TypeError, "layer"),
        (lambda: nn.LazyLinear(3), {}, ValueError, "layer.*lazy"),
        (lambda: nn.LazyConv2d(3, 3), {}, ValueError, "layer.*lazy"),
        (lambda: _zero_size_linear(3, 0), {}, ValueError, "layer.*zero-size"),
        (lambda: nn.Linear(3, 3), {"generator": object()}, TypeError, "generator"),
        (lambda: nn.Linear(3, 3), {"generator": 0}, TypeError, "generator"),
    ],
)
def test_asymmetric_bad_input_changes_nothing(fn, layer, kwargs, exc, word):
    if callable(layer):
        layer = layer()
    before = _snapshot(layer) if isinstance(layer, nn.Module) else None
    with pytest.raises(exc, match=word):
        fn(layer, **kwargs)
    if before is not None and not any(nn.parameter.is_lazy(p) for p in layer.parameters()):
        _assert_unchanged(layer, before)


@pytest.mark.parametrize(
    ("model", "batch", "kwargs", "exc", "word"),
    [
        (None, torch.randn(4, 2), {}, TypeError, "model"),
        ("model", torch.randn(4, 2), {}, TypeError, "model"),
        (nn.Linear(2, 2), None, {}, TypeError, "batch"),
        (nn.Linear(2, 2), "x", {}, TypeError, "batch"),
        (nn.Linear(2, 2), (), {}, TypeError, "batch"),
        (nn.Linear(2, 2), torch.empty(0, 2), {}, ValueError, "batch"),
        (nn.Linear(2, 2), torch.tensor([[1.0, math.inf]]), {}, ValueError, "batch"),
        (nn.Linear(2, 2), torch.randn(4, 2), {"tol": math.nan}, ValueError, "tol"),
        (nn.Linear(2, 2), torch.randn(4, 2), {"tol": "0.1"}, ValueError, "tol"),
        (nn.Linear(2, 2), torch.randn(4, 2), {"max_iter": 1.5}, ValueError, "max_iter"),
        (nn.Linear(2, 2), torch.randn(4, 2), {"max_iter": None}, ValueError, "max_iter"),
        (nn.Linear(2, 2), torch.randn(4, 2), {"generator": "g"}, TypeError, "generator"),
        (
            nn.Linear(2, 2).to("meta"),
            torch.randn(4, 2),
            {"generator": torch.Generator()},
            ValueError,
            "generator",
        ),
    ],
)
def test_lsuv_bad_input_changes_nothing(model, batch, kwargs, exc, word):
    before = _snapshot(model) if isinstance(model, nn.Module) else None
    with pytest.raises(exc, match=word):
        init.lsuv_(model, batch, **kwargs)
    if before is not None:
        _assert_unchanged(model, before)


@pytest.mark.parametrize(
    ("model", "kwargs", "exc", "word"),
    [
        (None, {}, TypeError, "model"),
        ("model", {}, TypeError, "model"),
        (nn.Sequential(nn.Linear(2, 2)), {"distribution": None}, ValueError, "distribution"),
        (nn.Sequential(nn.Linear(2, 2)), {"distribution": "beta"}, ValueError, "distribution"),
        (nn.Sequential(nn.Linear(2, 2)), {"mode": None}, ValueError, "mode"),
        (nn.Sequential(nn.Linear(2, 2)), {"generator": 0}, TypeError, "generator"),
    ],
)
def test_init_model_bad_input_changes_nothing(model, kwargs, exc, word):
    before = _snapshot(model) if isinstance(model, nn.Module) else None
    with pytest.raises(exc, match=word):
        init.init_model_(model, **kwargs)
    if before is not None:
        _assert_unchanged(model, before)


# --- property: gain is a finite positive float or a named refusal ----------------------------

_reals = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-4.0, max_value=4.0),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([1e154, 1.3e154, 1e155, 1e300, 1.7976931348623157e308, 5e-324, -0.0]),
)
_junk = st.one_of(st.none(), st.text(max_size=3), st.booleans(), st.just(1j))


def _value(param):
    if param.kind == "real":
        return st.one_of(_reals, _junk)
    if param.kind == "choice":
        return st.one_of(st.sampled_from(param.choices), _junk)
    arrays = st.lists(_reals, max_size=4).map(lambda v: np.array(v, dtype=object))
    floats = st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4)
    return st.one_of(
        _reals,
        _junk,
        floats.map(np.array),
        floats.map(lambda v: torch.tensor(v, dtype=torch.float64)),
        arrays,
    )


@st.composite
def _gain_calls(draw):
    entry = draw(st.sampled_from(relukit.catalog))
    params = {}
    for p in entry.params:
        if draw(st.booleans()):
            params[p.name] = draw(_value(p))
    if draw(st.integers(0, 9)) == 0:
        params["bogus"] = 1.0
    return entry, draw(st.sampled_from(["forward", "backward"])), params


@given(_gain_calls())
def test_gain_property_finite_positive_or_named_refusal(call):
    entry, mode, params = call
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning is a failure, not an answer
        try:
            g = init.gain(entry.name, mode=mode, **params)
        except (TypeError, ValueError) as err:
            assert params, err  # the defaults always have a gain
            assert any(name in str(err) for name in params), (params, err)
            return
    assert isinstance(g, float)
    assert math.isfinite(g) and g > 0.0, (params, g)
