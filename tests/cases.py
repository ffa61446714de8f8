"""The shared case table (relukit's OpInfo): one entry per activation × parameter sample.

Each ``Case`` carries independent references — mpmath formulas typed here from the papers, not
from relukit's code — plus the exact special values, the kink, the accepted error in ulps, and the
textbook NumPy formula that benchmarks use as their baseline. Every backend's tests parametrize
over ``CASES``; ``test_numpy_api.py::test_every_catalog_entry_has_cases`` keeps the table and the
catalog in step.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mpmath as mp
import numpy as np
from scipy import special

import relukit

mp.mp.dps = 50

INF = math.inf
NAN = math.nan

# Accepted error, in units in the last place of the result's dtype (DESIGN.md §1, issue #2).
ULPS = {"float16": 1.0, "float32": 1.0, "float64": 4.0}

# relukit.keras computes float32 in float32 (jax has no float64 without x64): the measured bound
# for the smooth entries, in ulps against the NumPy reference (value, derivative in units of the
# terms' size where f' crosses zero). Cases record where a backend's own erfc/exp costs more.
KERAS_FLOAT32_ULPS = (4.5, 6.0)

# (rtol, atol) for comparing two backends' results of the same dtype (torch or Keras vs NumPy,
# or against torch.nn.functional away from kinks).
TOLERANCES = {
    "float64": (1e-10, 1e-12),
    "float32": (2e-6, 1e-6),
    "float16": (2e-3, 1e-3),
    "bfloat16": (1.6e-2, 1e-2),
}


@dataclass(frozen=True)
class Case:
    """One activation with one parameter sample.

    Attributes:
        activation: the catalog entry.
        params: keyword parameters (PReLU: ``{"weight": a}`` with a scalar slope).
        value: mpmath reference f(x; params).
        derivative: mpmath reference f'(x; params) away from kinks.
        derivative_scale: mpmath magnitude of the terms f' sums, where f' crosses zero
            (GELU near x ≈ −0.75); ulp errors of f' are measured against it. ``None``: |f'|.
        specials: ``(x, f(x), f'(x))`` triples that must hold exactly.
        kinks: points where f' jumps; there f' must equal ``kink_derivative`` exactly.
        kink_derivative: f' at the kinks (the ``x ≤ 0`` branch).
        textbook: the formula people type, in NumPy (the benchmarks' baseline).
        textbook_derivative: the textbook f'.
        identity_above: f(x) == x exactly in float64 for every x above this.
        torch_oracle: ``torch_oracle(torch.nn.functional, x, **params)``: PyTorch's own
            counterpart with every parameter passed explicitly (PReLU's slope as a tensor).
        saves: what relukit.torch saves for backward out of place: ``"input"`` or ``"output"``
            (torch.nn saves the input for all but ReLU; DESIGN.md §2's saved-tensor policy).
        oracle_atol: per dtype, an absolute tolerance for the oracle where PyTorch's own kernel
            is known to be less accurate than the contract (a known divergence, as data).
        keras_oracle: ``keras_oracle(keras, **params)`` → Keras' own counterpart, a function of
            one tensor, every parameter passed explicitly.
        keras_oracle_atol: float32 absolute tolerance against it where Keras' own is less
            accurate than the contract.
        keras_float32_ulps: per Keras backend, the measured float32 bound (value, derivative)
            in ulps where that backend's own functions cost more than ``KERAS_FLOAT32_ULPS``.
    """

    activation: relukit.Activation
    params: dict[str, Any]
    value: Callable[..., Any]
    derivative: Callable[..., Any]
    specials: tuple[tuple[float, float, float], ...]
    textbook: Callable[..., np.ndarray]
    textbook_derivative: Callable[..., np.ndarray]
    kinks: tuple[float, ...] = ()
    kink_derivative: float | None = None
    derivative_scale: Callable[..., Any] | None = None
    monotone: bool = False
    lower_bound: float | None = None
    identity_above: float = 0.0
    torch_oracle: Callable[..., Any] | None = None
    saves: str = "input"
    oracle_atol: dict[str, float] = field(default_factory=dict)
    keras_oracle: Callable[..., Any] | None = None
    keras_oracle_atol: float = 0.0
    keras_float32_ulps: dict[str, tuple[float, float]] = field(default_factory=dict)
    tags: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.activation.name}({inner})"

    @property
    def name(self) -> str:
        return self.activation.name

    def numpy_fn(self):
        """relukit's NumPy function for this case (the reference other backends compare to)."""
        return getattr(relukit, self.activation.name)


def _nan_triple():
    return (NAN, NAN, NAN)


# --- piecewise linear --------------------------------------------------------------------------


def _has_weight(activation) -> bool:
    return any(p.kind == "weight" for p in activation.params)


def _piecewise_linear(activation, slope: float, params: dict, oracle=None) -> Case:
    def value(x, **_):
        return x if x > 0 else mp.mpf(slope) * x

    def derivative(x, **_):
        return mp.mpf(1) if x > 0 else mp.mpf(slope)

    left_inf = -INF * slope if slope != 0 else 0.0
    return Case(
        activation=activation,
        params=params,
        value=value,
        derivative=derivative,
        specials=(
            (INF, INF, 1.0),
            (-INF, left_inf, slope),
            (0.0, 0.0, slope),
            (-0.0, 0.0, slope),
            _nan_triple(),
        ),
        kinks=(0.0,),
        kink_derivative=slope,
        textbook=lambda x, **p: np.where(x > 0, x, slope * x),
        textbook_derivative=lambda x, **p: np.where(x > 0, 1.0, slope),
        monotone=slope >= 0,
        lower_bound=0.0 if slope == 0 else None,
        torch_oracle=oracle,
        # Output-saving where the output's sign is the input's (slope ≥ 0); PReLU's slope is
        # learned, so it keeps the input (as torch.nn).
        saves="output" if slope >= 0 and not _has_weight(activation) else "input",
    )


def _relu_cases():
    case = _piecewise_linear(relukit.get("relu"), 0.0, {}, lambda f, x: f.relu(x, inplace=False))
    return [
        dataclasses.replace(
            case,
            keras_oracle=lambda k: k.ops.relu,
            textbook=lambda x, **p: np.maximum(0, x),
            textbook_derivative=lambda x, **p: (x > 0).astype(x.dtype),
        )
    ]


def _leaky_cases():
    return [
        dataclasses.replace(
            _piecewise_linear(
                relukit.get("leaky_relu"),
                s,
                {"negative_slope": s},
                lambda f, x, negative_slope: f.leaky_relu(
                    x, negative_slope=negative_slope, inplace=False
                ),
            ),
            keras_oracle=lambda k, negative_slope: (
                lambda x: k.ops.leaky_relu(x, negative_slope=negative_slope)
            ),
        )
        for s in (0.01, 0.2, 1.5, -0.5, 0.0)
    ]


def _prelu_cases():
    # The textbook formulas take the weight, so benchmarks can pass one slope per channel.
    return [
        dataclasses.replace(
            _piecewise_linear(
                relukit.get("prelu"),
                a,
                {"weight": a},
                lambda f, x, weight: f.prelu(x, x.new_tensor([weight])),
            ),
            textbook=lambda x, weight, **p: np.where(x > 0, x, weight * x),
            textbook_derivative=lambda x, weight, **p: np.where(x > 0, 1.0, weight),
            # Keras' PReLU layer with one shared slope, applied to x as one column.
            keras_oracle=lambda k, weight: (
                lambda x: k.layers.PReLU(
                    alpha_initializer=k.initializers.Constant(weight), shared_axes=[1]
                )(k.ops.reshape(x, (-1, 1)))[:, 0]
            ),
        )
        for a in (0.25, -0.1, 2.0)
    ]


# --- ELU ---------------------------------------------------------------------------------------


def _elu_case(alpha: float) -> Case:
    def value(x, **_):
        return x if x > 0 else mp.mpf(alpha) * mp.expm1(x)

    def derivative(x, **_):
        return mp.mpf(1) if x > 0 else mp.mpf(alpha) * mp.exp(x)

    return Case(
        activation=relukit.get("elu"),
        params={"alpha": alpha},
        value=value,
        derivative=derivative,
        specials=((INF, INF, 1.0), (-INF, -alpha, 0.0), (0.0, 0.0, alpha), _nan_triple()),
        kinks=(0.0,) if alpha != 1.0 else (),
        kink_derivative=alpha,
        textbook=lambda x, **p: np.where(x > 0, x, alpha * (np.exp(x) - 1)),
        textbook_derivative=lambda x, **p: np.where(x > 0, 1.0, alpha * np.exp(x)),
        monotone=alpha >= 0,
        lower_bound=-alpha if alpha >= 0 else None,
        torch_oracle=lambda f, x, alpha: f.elu(x, alpha=alpha, inplace=False),
        keras_oracle=lambda k, alpha: lambda x: k.ops.elu(x, alpha=alpha),
    )


def _elu_cases():
    return [_elu_case(a) for a in (1.0, 0.5, 2.0, -0.5)]


# --- GELU --------------------------------------------------------------------------------------

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _sum_of_terms(terms):
    """(f', its error scale) for an f' that is a sum of two terms which cancel near its zero."""

    def derivative(x, **_):
        a, b = terms(x)
        return a + b

    def scale(x, **_):
        a, b = terms(x)
        return abs(a) + abs(b)

    return derivative, scale


# x times a smooth gate rising from 0 to 1 (GELU's Φ or σ(2u), SiLU's σ): f(−inf) = 0 with f' = 0,
# f(+inf) = +inf with f' = 1, f'(0) = 1/2, and f(x) = x exactly once the gate rounds to 1.
_GATED = {
    "specials": ((INF, INF, 1.0), (-INF, 0.0, 0.0), (0.0, 0.0, 0.5), _nan_triple()),
    "identity_above": 40.0,
}


def _gelu_case(approximate, value, derivative, scale, textbook, textbook_derivative) -> Case:
    return Case(
        activation=relukit.get("gelu"),
        params={"approximate": approximate},
        value=value,
        derivative=derivative,
        derivative_scale=scale,
        textbook=textbook,
        textbook_derivative=textbook_derivative,
        **_GATED,
        torch_oracle=lambda f, x, approximate: f.gelu(x, approximate=approximate),
        keras_oracle=lambda k, approximate: (
            lambda x: k.ops.gelu(x, approximate=approximate == "tanh")
        ),
        # Keras' own tanh GELU computes 1 + tanh(u) in float32: its gradient is off by up to
        # 1.8e-6 near x = −4 on jax and tensorflow.
        keras_oracle_atol=4e-6,
        # XLA's float32 erfc (jax: 57 ulp in GELU's left tail) and Eigen's (tensorflow).
        keras_float32_ulps={"jax": (60.0, 6.0), "tensorflow": (8.0, 6.0)},
        # ATen's 0.5·x·(1 + erf(x/√2)) is off by up to 1.03e-6 in float32 on [-5.7, -3], just
        # above float32's atol (relukit's native kernels are exact; see gelu's docstring).
        oracle_atol={"float32": 1.2e-6},
    )


_FAR = 1e4  # beyond |x| = 1e4, Φ(x) differs from 0 or 1 by less than exp(-5e7)


def _gelu_exact_cases():
    def value(x, **_):
        if abs(x) > _FAR:
            return x if x > 0 else mp.mpf(0)
        return x * mp.ncdf(x)

    def derivative(x, **_):
        if abs(x) > _FAR:
            return mp.mpf(1 if x > 0 else 0)
        return mp.ncdf(x) + x * mp.npdf(x)

    def scale(x, **_):
        if abs(x) > _FAR:
            return mp.mpf(1 if x > 0 else 0)
        return abs(mp.ncdf(x)) + abs(x * mp.npdf(x))

    def textbook(x, **_):
        return x * 0.5 * (1 + special.erf(x / np.sqrt(2)))

    def textbook_derivative(x, **_):
        return 0.5 * (1 + special.erf(x / np.sqrt(2))) + x * np.exp(-0.5 * x * x) / np.sqrt(
            2 * np.pi
        )

    return _gelu_case("none", value, derivative, scale, textbook, textbook_derivative)


def _gelu_tanh_cases():
    k = mp.sqrt(2 / mp.pi)
    c = mp.mpf("0.044715")

    def u(x):
        return k * (x + c * x**3)

    # 1 ± tanh(u) cancel in the tails beyond any fixed precision; 1 + tanh(u) = 2/(1 + e^(-2u))
    # and 1 - tanh(u)² = 4e^(-2u)/(1 + e^(-2u))² are the same reals without the cancellation.
    def one_plus_tanh(x):
        return 2 / (1 + mp.exp(-2 * u(x)))

    def one_minus_tanh_sq(x):
        e = mp.exp(-2 * abs(u(x)))
        return 4 * e / (1 + e) ** 2

    def value(x, **_):
        return x / 2 * one_plus_tanh(x)

    def terms(x):
        return one_plus_tanh(x) / 2, x / 2 * one_minus_tanh_sq(x) * k * (1 + 3 * c * x * x)

    derivative, scale = _sum_of_terms(terms)

    def textbook(x, **_):
        return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))

    def textbook_derivative(x, **_):
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)

    return _gelu_case("tanh", value, derivative, scale, textbook, textbook_derivative)


# --- SiLU --------------------------------------------------------------------------------------


def _silu_cases():
    def sigmoid(x):
        return 1 / (1 + mp.exp(-x))

    def value(x, **_):
        return x * sigmoid(x)

    def terms(x):
        s = sigmoid(x)
        return s, x * s * (1 - s)

    derivative, scale = _sum_of_terms(terms)

    def textbook(x, **_):
        return x / (1 + np.exp(-x))

    def textbook_derivative(x, **_):
        s = 1 / (1 + np.exp(-x))
        return s * (1 + x * (1 - s))

    return [
        Case(
            activation=relukit.get("silu"),
            params={},
            value=value,
            derivative=derivative,
            derivative_scale=scale,
            textbook=textbook,
            textbook_derivative=textbook_derivative,
            **_GATED,
            torch_oracle=lambda f, x: f.silu(x, inplace=False),
            keras_oracle=lambda k: k.ops.silu,
        )
    ]


_BUILDERS = {
    "relu": _relu_cases,
    "leaky_relu": _leaky_cases,
    "prelu": _prelu_cases,
    "elu": _elu_cases,
    "gelu": lambda: [_gelu_exact_cases(), _gelu_tanh_cases()],
    "silu": _silu_cases,
}

CASES: list[Case] = [case for a in relukit.catalog for case in _BUILDERS[a.name]()]
CASE_IDS = [c.id for c in CASES]
BUILT_FOR = frozenset(_BUILDERS)


def default_case(name: str) -> Case:
    """The case whose parameters are the activation's defaults (PReLU: slope 0.25)."""
    activation = relukit.get(name)
    defaults = dict(activation.defaults)
    for case in CASES:
        if case.name == name and all(case.params.get(k) == v for k, v in defaults.items()):
            return case
    raise LookupError(name)


def call(case: Case, fn, *args, **extra):
    """Call a backend's function on ``args`` with the case's parameters spelled as keywords."""
    return fn(*args, **case.params, **extra)


def sample_points(dtype, n: int = 160) -> np.ndarray:
    """Log-spaced magnitudes of both signs across dtype's range, plus 0 and the tails of interest.

    Includes subnormals, and dense coverage of [-40, 40] where GELU and ELU bend and where
    GELU's left tail underflows (x ≈ −38.5 in float64, −14 in float32).
    """
    info = np.finfo(dtype)
    lo = math.log10(float(info.smallest_subnormal)) + 0.5
    hi = math.log10(float(info.max)) - 0.5
    mags = np.concatenate([np.logspace(lo, hi, n), np.linspace(0.01, 40, 4 * n)])
    xs = np.concatenate([mags, -mags, [0.0]]).astype(dtype)
    return np.unique(xs[np.isfinite(xs)])
