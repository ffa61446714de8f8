"""relukit.init: gains, Kaiming initialisers, RAI and the asymmetric init, init_model_, LSUV."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import warnings
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from cases import CASE_IDS, CASES

import relukit
from relukit import init
from relukit.init._gain import gaussian_expectation, second_moment

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent

# --- gains ---------------------------------------------------------------------------------


def _variants(entry):
    """Default parameters, plus each value of a choice parameter (GELU's approximate)."""
    out = [{}]
    for p in entry.params:
        if p.kind == "choice":
            out = [{p.name: c} for c in p.choices]
    return out


GAIN_VARIANTS = [(a, params) for a in relukit.catalog for params in _variants(a)]
GAIN_IDS = [a.name + "".join(f"-{v}" for v in p.values()) for a, p in GAIN_VARIANTS]


@pytest.mark.slow  # a subprocess
def test_import_does_not_import_torch():
    code = "import sys, relukit.init; relukit.init.gain('gelu'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("a", [0.0, 0.01, 0.2, 1.0, 1.5, -0.5, 3.0])
def test_piecewise_linear_closed_form_and_torch(a):
    expected = math.sqrt(2.0 / (1.0 + a * a))
    for mode in ("forward", "backward"):
        assert init.gain("leaky_relu", mode=mode, negative_slope=a) == pytest.approx(
            expected, 1e-15
        )
        assert init.gain("prelu", mode=mode, weight=a) == pytest.approx(expected, 1e-15)
    torch_gain = torch.nn.init.calculate_gain("leaky_relu", a)
    assert abs(init.gain("leaky_relu", negative_slope=a) - torch_gain) <= 1e-12


def test_relu_equals_torch():
    assert init.gain("relu") == torch.nn.init.calculate_gain("relu")
    assert init.gain(relukit.get("relu"), mode="backward") == math.sqrt(2.0)


def test_prior_art_values():
    # shared/PRIOR_ART.md: ReLU 1.414/1.414, ELU 1.245/1.223, GELU 1.534/1.481, PReLU(0.25) 1.372
    for name, fwd, bwd in [("relu", 1.414, 1.414), ("elu", 1.245, 1.223), ("gelu", 1.534, 1.481)]:
        assert init.gain(name) == pytest.approx(fwd, abs=6e-4)
        assert init.gain(name, mode="backward") == pytest.approx(bwd, abs=6e-4)
    assert init.gain("prelu") == pytest.approx(1.372, abs=6e-4)  # default slope 0.25


def _mp_expectation(fn, kinks=(0.0,)):
    points = [-mp.inf, *sorted(set(kinks) | {0.0}), mp.inf]
    return mp.quad(lambda z: fn(z) ** 2 * mp.npdf(z), points)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_second_moments_against_mpmath(case):
    """Both moments, every parameter sample of the test suite's reference table, to 1e-12."""
    with mp.workdps(25):
        fwd = float(_mp_expectation(case.value, case.kinks))
        bwd = float(_mp_expectation(case.derivative, case.kinks))
    assert second_moment(case.activation, **case.params) == pytest.approx(fwd, rel=1e-12)
    assert second_moment(case.activation, mode="backward", **case.params) == pytest.approx(
        bwd, rel=1e-12
    )
    assert init.gain(case.activation, **case.params) == pytest.approx(1 / math.sqrt(fwd), 1e-11)


@pytest.mark.parametrize(("entry", "params"), GAIN_VARIANTS, ids=GAIN_IDS)
def test_gains_against_monte_carlo(entry, params):
    z = np.random.default_rng(7).standard_normal(2_000_000)
    fn = getattr(relukit, entry.name)
    extra = {p.name: p.initial for p in entry.params if p.kind == "weight"}
    for mode, values in (
        ("forward", fn(z, **params, **extra)),
        ("backward", fn.derivative(z, **params, **extra)),
    ):
        sq = values**2
        se = sq.std() / math.sqrt(z.size)
        assert abs(second_moment(entry, mode=mode, **params) - sq.mean()) < 5 * se


def test_plain_gauss_hermite_is_not_enough_for_elu():
    """Why the quadrature splits at 0: a 100-node Gauss–Hermite rule misses ELU's moment."""
    x, w = np.polynomial.hermite_e.hermegauss(100)
    naive = float(w @ relukit.elu.derivative(x) ** 2 / math.sqrt(2 * math.pi))
    exact = second_moment("elu", mode="backward")
    assert abs(naive - exact) > 1e-10
    assert gaussian_expectation(lambda z: z**2) == pytest.approx(1.0, abs=1e-15)


def test_prelu_weight_forms():
    g = init.gain("prelu", weight=0.25)
    assert init.gain("prelu", weight=np.array([0.25])) == g
    assert init.gain("prelu", weight=torch.nn.PReLU().weight) == pytest.approx(g, 1e-7)
    slopes = np.array([0.0, 0.5])
    assert init.gain("prelu", weight=slopes) == pytest.approx(math.sqrt(2 / (1 + 0.125)), 1e-15)


def test_linear_gain():
    assert init.gain(None) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"activation": "swish"}, ValueError, "activation"),
        ({"activation": 3}, ValueError, "activation"),
        ({"activation": "relu", "mode": "sideways"}, ValueError, "mode"),
        ({"activation": "elu", "slope": 1.0}, TypeError, "slope"),
        ({"activation": "elu", "alpha": math.inf}, ValueError, "alpha"),
        ({"activation": "gelu", "approximate": "erf"}, ValueError, "approximate"),
        ({"activation": "prelu", "weight": "a"}, TypeError, "weight"),
        ({"activation": "prelu", "weight": np.array([])}, ValueError, "weight"),
        ({"activation": None, "alpha": 1.0}, TypeError, "linear"),
    ],
)
def test_gain_errors_name_the_argument(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        init.gain(**kwargs)


def _variance_map_slope(entry, params):
    """d/dq of q ↦ gain²·E[f(√q z)²] at q = 1: below 1, unit variance attracts; above, repels."""
    fn = getattr(relukit, entry.name)
    extra = {p.name: p.initial for p in entry.params if p.kind == "weight"}
    g2 = init.gain(entry, **params) ** 2
    h = 1e-4

    def v(q):
        return gaussian_expectation(lambda z: fn(math.sqrt(q) * z, **params, **extra) ** 2)

    return g2 * (v(1 + h) - v(1 - h)) / (2 * h), v


@pytest.mark.slow  # 1-3 s per variant (50 layers of 512 × 512, 5 draws)
@pytest.mark.parametrize(("entry", "params"), GAIN_VARIANTS, ids=GAIN_IDS)
def test_variance_through_50_random_layers(entry, params):
    """With its forward gain, 50 random layers keep the pre-activation variance within 2× (median).

    That holds where unit variance is a stable fixed point of the variance map (piecewise-linear:
    slope 1, every scale is a fixed point; ELU: slope 0.89). For GELU the slope is 1.144: unit
    variance is a fixed point, exactly, but a repelling one (GELU acts like x/2 for small inputs
    and like ReLU for large ones, and gain² = 2.35 lies between 2 and 4), so the sampling noise
    of finite random layers grows ×1.144 per layer (×830 over 50). There the test checks the
    fixed point through 50 layers of the exact variance map and 10 random layers.
    """
    slope, v = _variance_map_slope(entry, params)
    rng = np.random.default_rng(11)
    width, batch = 512, 256
    fn = getattr(relukit, entry.name)
    extra = {p.name: p.initial for p in entry.params if p.kind == "weight"}
    g = init.gain(entry, **params)
    # A repelling fixed point multiplies the sampling noise by the slope per layer: as many
    # random layers as keep that factor below 4 (GELU 1.144: 10; Hardswish 1.224: 6).
    depth = 50 if slope <= 1 + 1e-6 else int(math.log(4.0) / math.log(slope))
    # Even at a stable fixed point the variance after 50 finite random layers is a multiplicative
    # random walk (log-std ≈ 0.45 at width 512; one draw in ~8 leaves [0.5, 2] for ReLU): the
    # claim is about the typical network, so the median over independent draws is asserted.
    finals = []
    for _ in range(5):
        z = rng.standard_normal((batch, width))
        for _ in range(depth):
            w = rng.normal(0.0, g / math.sqrt(width), size=(width, width))
            z = fn(z, **params, **extra) @ w
        finals.append(z.var())
    assert 0.5 <= np.median(finals) <= 2.0, finals
    if slope > 1 + 1e-6:  # GELU (1.144), SiLU, Mish, Hardswish: repelling, checked exactly
        assert slope < 1.25
        q = 1.0
        for _ in range(50):
            q = g * g * v(q)
        assert q == pytest.approx(1.0, abs=1e-9)


# --- Kaiming initialisers ------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
@pytest.mark.parametrize(("entry", "params"), GAIN_VARIANTS, ids=GAIN_IDS)
def test_kaiming_empirical_std(backend, distribution, entry, params):
    shape = (400, 100, 3)  # fan_in 300, fan_out 1200
    fn = init.kaiming_normal_ if distribution == "normal" else init.kaiming_uniform_
    for mode, fan, gmode in (("fan_in", 300, "forward"), ("fan_out", 1200, "backward")):
        if backend == "numpy":
            t = fn(np.empty(shape), entry, mode=mode, rng=np.random.default_rng(1), **params)
            s, peak = t.std(), np.abs(t).max()
        else:
            t = fn(torch.empty(shape, dtype=torch.float64), entry.name, mode=mode, **params)
            s, peak = t.std().item(), t.abs().max().item()
        expected = init.gain(entry, mode=gmode, **params) / math.sqrt(fan)
        assert s == pytest.approx(expected, rel=0.01)
        if distribution == "uniform":
            assert peak <= expected * math.sqrt(3)


def test_kaiming_matches_torch_formula():
    for a in (0.0, 0.2):
        std = init.kaiming_std((64, 32, 3, 3), "leaky_relu", negative_slope=a)
        assert std == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", a) / math.sqrt(288))


def test_kaiming_keras_layout_and_float32():
    k = init.kaiming_normal_(
        np.empty((3, 3, 64, 256), np.float32), "relu", layout="keras", rng=np.random.default_rng(0)
    )
    assert k.dtype == np.float32
    assert k.std() == pytest.approx(math.sqrt(2 / (9 * 64)), rel=0.02)


def test_kaiming_torch_generator_reproducible():
    a = init.kaiming_normal_(torch.empty(8, 8), "gelu", generator=torch.Generator().manual_seed(3))
    b = init.kaiming_normal_(torch.empty(8, 8), "gelu", generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("tensor", "kwargs", "exc", "word"),
    [
        (np.empty((0, 3)), {}, ValueError, "tensor"),
        (torch.empty(0, 3), {}, ValueError, "tensor"),
        (np.empty(5), {}, ValueError, "tensor"),
        (torch.empty(5), {}, ValueError, "tensor"),
        (np.zeros((3, 3), int), {}, TypeError, "tensor"),
        (torch.zeros(3, 3, dtype=torch.int64), {}, TypeError, "tensor"),
        ([[1.0, 2.0]], {}, TypeError, "tensor"),
        (np.empty((3, 3)), {"activation": "swish"}, ValueError, "activation"),
        (np.empty((3, 3)), {"mode": "fan_avg"}, ValueError, "mode"),
        (np.empty((3, 3)), {"layout": "jax"}, ValueError, "layout"),
        (np.empty((3, 3)), {"rng": 0}, TypeError, "rng"),
        (torch.empty(3, 3), {"rng": np.random.default_rng()}, TypeError, "rng"),
        (np.empty((3, 3)), {"generator": object()}, TypeError, "generator"),
    ],
)
def test_kaiming_errors_name_the_argument(tensor, kwargs, exc, word):
    for fn in (init.kaiming_normal_, init.kaiming_uniform_):
        with pytest.raises(exc, match=word):
            fn(tensor, **kwargs)


# --- RAI and the asymmetric init -----------------------------------------------------------


class _MarkedBeta:
    """A generator whose Beta samples are the marker 7.0, to find RAI's replaced entries."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def normal(self, *a, **k):
        return self.rng.normal(*a, **k)

    def integers(self, *a, **k):
        return self.rng.integers(*a, **k)

    def beta(self, a, b, size):
        assert (a, b) == (2.0, 1.0)
        return np.full(size, 7.0)


def test_rai_as_published():
    fan_in, draws = 4, 20000
    w, b = init.sample_rai(_MarkedBeta(0), 3, fan_in, draws=draws)
    v = np.concatenate([w, b[..., None]], axis=-1)
    marked = v == 7.0
    assert (marked.sum(-1) == 1).all()  # one entry per unit
    # the position is uniform over the fan_in + 1 entries, the bias included
    np.testing.assert_allclose(marked.mean((0, 1)), 1 / (fan_in + 1), atol=0.01)
    rest = v[~marked]
    assert rest.mean() == pytest.approx(0.0, abs=0.01)
    assert rest.std() == pytest.approx(0.6007 / math.sqrt(fan_in), rel=0.01)
    beta = init.sample_rai(np.random.default_rng(1), 1, 1, draws=100000, bias=False)[0]
    assert beta.mean() == pytest.approx(2 / 3, abs=0.01)  # Beta(2, 1), all positive
    assert (beta > 0).all()


def test_rai_torch_module():
    layer = init.rai_(torch.nn.Linear(5, 7), generator=torch.Generator().manual_seed(0))
    again = init.rai_(torch.nn.Linear(5, 7), generator=torch.Generator().manual_seed(0))
    assert torch.equal(layer.weight, again.weight) and torch.equal(layer.bias, again.bias)
    conv = init.rai_(torch.nn.Conv2d(2, 4, 3, bias=False))
    assert conv.weight.shape == (4, 2, 3, 3)


@pytest.mark.parametrize(("fan_out", "fan_in"), [(6, 6), (10, 1), (8, 3), (3, 8), (1, 5), (1, 1)])
def test_asymmetric_structure(fan_out, fan_in):
    w, b = init.sample_asymmetric(np.random.default_rng(0), fan_out, fan_in, draws=5)
    assert (b == 0).all()
    sums = w.sum(axis=-2)
    assert (sums > 0).all()
    np.testing.assert_allclose(sums, sums[..., :1] * np.ones_like(sums), atol=1e-12)
    s = math.sqrt(max(1.0, fan_out / fan_in))
    gram = (np.swapaxes(w, -1, -2) @ w) if fan_out >= fan_in else w @ np.swapaxes(w, -1, -2)
    eye = np.broadcast_to(s * s * np.eye(min(fan_out, fan_in)), gram.shape)
    np.testing.assert_allclose(gram, eye, atol=1e-12)


def test_asymmetric_never_dead_on_nonnegative_input():
    rng = np.random.default_rng(3)
    w, _ = init.sample_asymmetric(rng, 4, 16, draws=20000)
    h = np.maximum(rng.standard_normal((20000, 16, 1)) - 1.5, 0.0)  # sparse, nonnegative
    alive = h.sum(axis=(1, 2)) > 0
    pre = (w @ h)[..., 0]
    assert (pre.max(axis=-1)[alive] > 0).all()


def test_asymmetric_torch_modules():
    layer = init.asymmetric_(torch.nn.Linear(6, 6), generator=torch.Generator().manual_seed(1))
    w = layer.weight.detach().double()
    torch.testing.assert_close(w.T @ w, torch.eye(6, dtype=w.dtype), atol=1e-6, rtol=0)
    assert (layer.bias == 0).all()
    conv = init.asymmetric_(torch.nn.Conv2d(4, 8, 3, groups=2))
    blocks = conv.weight.detach().double().reshape(2, 4, 18)
    sums = blocks.sum(1)
    assert (sums > 0).all()


@pytest.mark.parametrize("fn", [init.rai_, init.asymmetric_])
def test_asymmetric_errors_name_the_layer(fn):
    for bad in (torch.nn.ConvTranspose2d(2, 2, 3), torch.nn.ReLU(), np.empty((3, 3))):
        with pytest.raises(TypeError, match="layer"):
            fn(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that it cannot initialise a 0-size layer
        empty = torch.nn.Linear(0, 3)
    with pytest.raises(ValueError, match="layer"):
        fn(empty)
    with pytest.raises(ValueError, match="fan_in"):
        init.sample_rai(np.random.default_rng(), 3, 0)


def _born_dead_module():
    spec = importlib.util.spec_from_file_location("born_dead", ROOT / "benchmarks" / "born_dead.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_born_dead_experiment_small():
    bd = _born_dead_module()
    rng = np.random.default_rng
    for width, depth in [(2, 10), (5, 50), (10, 50)]:
        ours = bd.measure(bd.ours, width, depth, 300, rng(0))
        rai = bd.measure(bd.rai, width, depth, 300, rng(0))
        he = bd.measure(bd.he, width, depth, 300, rng(0))
        assert ours["p_dead"] <= rai["p_dead"] + 0.02
        assert ours["p_dead"] <= he["p_dead"]
        if depth == 50:
            assert 0.1 <= ours["median_ratio"] <= 10
            assert rai["median_ratio"] < 1e-4  # RAI collapses
    assert bd.measure(bd.he, 2, 10, 300, rng(0))["p_dead"] > 0.8


# --- init_model_ ---------------------------------------------------------------------------


def test_init_model_sequential():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256),
        torch.nn.Sequential(torch.nn.BatchNorm1d(256), torch.nn.ELU(alpha=0.5)),
        torch.nn.Linear(256, 256),
        torch.nn.Dropout(0.1),
        torch.nn.PReLU(init=0.1),
        torch.nn.Linear(256, 256),
        torch.nn.Softsign(),  # not in the catalog
        torch.nn.Linear(256, 10),
    )
    before = model[5].weight.detach().clone()
    report = init.init_model_(model)
    got = {x.name: x for x in report.initialised}
    assert got["0"].activation == "elu" and got["0"].params == {"alpha": 0.5}
    assert got["0"].gain == init.gain("elu", alpha=0.5)
    assert got["2"].activation == "prelu"
    assert got["2"].gain == pytest.approx(init.gain("prelu", weight=0.1), 1e-7)
    assert got["7"].activation is None and got["7"].gain == 1.0
    assert model[0].weight.std().item() == pytest.approx(got["0"].std, rel=0.03)
    assert (model[0].bias == 0).all() and (model[7].bias == 0).all()
    assert set(report.unpaired) == {"5"} and "Softsign" in report.unpaired["5"]
    assert torch.equal(model[5].weight, before)  # unpaired layers are left alone
    assert "5: not initialised" in str(report)


class _Functional(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(4, 8)
        self.b = torch.nn.Linear(8, 8)
        self.c = torch.nn.Conv1d(1, 1, 3, padding=1)
        self.d = torch.nn.Linear(8, 8)
        self.e = torch.nn.Linear(8, 8)
        self.f = torch.nn.Linear(8, 2)
        self.act = torch.nn.GELU(approximate="tanh")
        self.slope = torch.nn.Parameter(torch.tensor([0.3]))

    def forward(self, x):
        h = torch.nn.functional.leaky_relu(self.a(x), 0.2)
        h = self.act(torch.nn.functional.dropout(self.b(h), 0.1, self.training))
        h = self.c(h.unsqueeze(1)).squeeze(1).relu()
        h = torch.nn.functional.prelu(self.d(h), self.slope)
        h = torch.sigmoid(self.e(h)) + h
        return self.f(h)


def test_init_model_fx():
    report = init.init_model_(_Functional())
    got = {x.name: (x.activation, x.params) for x in report.initialised}
    assert got["a"] == ("leaky_relu", {"negative_slope": 0.2})
    assert got["b"] == ("gelu", {"approximate": "tanh"})
    assert got["d"][0] == "prelu" and got["d"][1]["weight"] == pytest.approx([0.3])
    assert got["e"] == ("sigmoid", {})  # a catalog entry (the classical baseline) since #15
    assert got["f"] == (None, {})
    assert set(report.unpaired) == {"c"}  # c: squeeze before relu


def test_init_model_untraceable_and_errors():
    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(3, 3)

        def forward(self, x):
            return self.a(x) if x.sum() > 0 else x  # data-dependent control flow

    report = init.init_model_(Branchy())
    assert not report.initialised and "torch.fx" in report.unpaired["a"]
    with pytest.raises(TypeError, match="model"):
        init.init_model_(np.empty(3))
    with pytest.raises(ValueError, match="distribution"):
        init.init_model_(torch.nn.Linear(2, 2), distribution="beta")


def test_init_model_relukit_torch_modules():
    rt = pytest.importorskip("relukit.torch")
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), rt.ELU(alpha=2.0), torch.nn.Linear(8, 1))
    got = {x.name: x for x in init.init_model_(model).initialised}
    assert got["0"].activation == "elu" and got["0"].params == {"alpha": 2.0}


# --- LSUV ----------------------------------------------------------------------------------


def test_lsuv_reaches_unit_variance():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3),
        torch.nn.GELU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 6 * 6, 64),
        torch.nn.ELU(),
        torch.nn.Linear(64, 10),
    )
    batch = torch.randn(64, 3, 8, 8) * 3
    report = init.lsuv_(model, batch, tol=0.05)
    assert [x.name for x in report.layers] == ["0", "3", "5"]
    assert all(x.converged and abs(x.variance - 1) < 0.05 for x in report.layers)
    assert (model[3].bias == 0).all()
    assert "after" in str(report)


def test_lsuv_errors():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="tol"):
        init.lsuv_(model, torch.randn(4, 2), tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        init.lsuv_(model, torch.randn(4, 2), max_iter=-1)
    with pytest.raises(TypeError, match="batch"):
        init.lsuv_(model, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="batch"):
        init.lsuv_(model, torch.zeros(0, 2))
    with pytest.raises(ValueError, match="model"):
        init.lsuv_(torch.nn.Sequential(torch.nn.ReLU()), torch.randn(4, 2))


def test_linear_names_give_torchs_gain_of_one():
    for name in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose2d"):
        assert init.gain(name) == torch.nn.init.calculate_gain(name) == 1.0
        assert init.gain(name, mode="backward") == 1.0
    assert init.gain(None) == 1.0
    with pytest.raises(ValueError, match=r"activation must be .* or 'linear'"):
        init.gain("swish")


def test_gain_docstring_table_is_what_gain_computes():
    """The table in ``gain``'s docstring lists every catalog entry, with the computed values."""
    rows = {}
    for line in init.gain.__doc__.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in {a.name for a in relukit.catalog}:
            label = " ".join(parts[:-2])
            rows[label] = (float(parts[-2]), float(parts[-1]))
    assert {label.split()[0] for label in rows} == {a.name for a in relukit.catalog}
    for label, (fwd, bwd) in rows.items():
        name = label.split()[0]
        params = {"approximate": "tanh"} if label == "gelu (tanh)" else {}
        assert init.gain(name, **params) == pytest.approx(fwd, abs=1e-10), label
        assert init.gain(name, mode="backward", **params) == pytest.approx(bwd, abs=1e-10), label
