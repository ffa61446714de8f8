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

# relukit.keras' float32 bound (value, derivative) against the NumPy float64 reference: the
# contract's, on every backend. The piecewise-linear entries compute in float32, the smooth ones in
# float64 rounded once (also on jax without x64), so f and f' are within 1 ulp, f' in units of the
# terms it sums where it crosses zero (as ULPS is measured); keras_ulp.md measures ≤ 0.84 / 0.50.
# A case whose backend cannot meet it records its measured bound in ``keras_float32_ulps``.
KERAS_FLOAT32_ULPS = (ULPS["float32"], ULPS["float32"])

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
        kink_derivatives: f' at each of ``kinks`` where it is not the same at all of them
            (ReLU6, Hardswish: PyTorch's rule); ``kink_points`` pairs them up.
        lipschitz: the largest |f'| where it exceeds 1 and no parameter bounds it (SELU's λα,
            Hardswish's 1.5).
        textbook: the formula people type, in NumPy (the benchmarks' baseline).
        textbook_derivative: the textbook f'.
        identity_above: f(x) == x exactly in float64 for every x above this.
        torch_oracle: ``torch_oracle(torch.nn.functional, x, **params)``: PyTorch's own
            counterpart with every parameter passed explicitly (PReLU's slope as a tensor).
        saves: what relukit.torch saves for backward out of place: ``"input"`` or ``"output"``
            (torch.nn saves the input for all but ReLU; DESIGN.md §2's saved-tensor policy).
        oracle_where: ``oracle_where(x, **params)`` → a mask of where PyTorch's counterpart
            computes the same function (Softplus: β·x ≤ threshold, beyond which it returns x);
            elsewhere only relukit's own references apply. ``None``: everywhere.
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
    kink_derivatives: tuple[float, ...] = ()
    lipschitz: float | None = None
    derivative_scale: Callable[..., Any] | None = None
    monotone: bool = False
    lower_bound: float | None = None
    identity_above: float = 0.0
    torch_oracle: Callable[..., Any] | None = None
    saves: str = "input"
    oracle_where: Callable[..., Any] | None = None
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

    @property
    def kink_points(self) -> tuple[tuple[float, float], ...]:
        """``(x, f'(x))`` at each kink, the kink rule applied (a kink at 0 also as −0)."""
        ds = self.kink_derivatives or (self.kink_derivative,) * len(self.kinks)
        points = []
        for k, d in zip(self.kinks, ds, strict=True):
            points += [(k, d), (-0.0, d)] if k == 0 else [(k, d)]
        return tuple(points)

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


def _leaky_relu_cases():
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


# --- SELU and CELU -------------------------------------------------------------------------------

_SELU_LAMBDA = mp.mpf("1.0507009873554804934193349852946")
_SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")


def _selu_cases():
    lam, lam_alpha = float(_SELU_LAMBDA), float(_SELU_LAMBDA * _SELU_ALPHA)

    def value(x, **_):
        return _SELU_LAMBDA * x if x > 0 else _SELU_LAMBDA * _SELU_ALPHA * mp.expm1(x)

    def derivative(x, **_):
        return _SELU_LAMBDA if x > 0 else _SELU_LAMBDA * _SELU_ALPHA * mp.exp(x)

    return [
        Case(
            activation=relukit.get("selu"),
            params={},
            value=value,
            derivative=derivative,
            specials=(
                (INF, INF, lam),
                (-INF, -lam_alpha, 0.0),
                (0.0, 0.0, lam_alpha),
                _nan_triple(),
            ),
            kinks=(0.0,),
            kink_derivative=lam_alpha,
            textbook=lambda x, **p: np.where(x > 0, lam * x, lam_alpha * (np.exp(x) - 1)),
            textbook_derivative=lambda x, **p: np.where(x > 0, lam, lam_alpha * np.exp(x)),
            monotone=True,
            lower_bound=-lam_alpha,
            identity_above=INF,
            lipschitz=lam_alpha,
            torch_oracle=lambda f, x: f.selu(x, inplace=False),
            keras_oracle=lambda k: k.ops.selu,
        )
    ]


def _celu_case(alpha: float) -> Case:
    def value(x, **_):
        return x if x > 0 else mp.mpf(alpha) * mp.expm1(x / mp.mpf(alpha))

    def derivative(x, **_):
        return mp.mpf(1) if x > 0 else mp.exp(x / mp.mpf(alpha))

    return Case(
        activation=relukit.get("celu"),
        params={"alpha": alpha},
        value=value,
        derivative=derivative,
        specials=((INF, INF, 1.0), (-INF, -alpha, 0.0), (0.0, 0.0, 1.0), _nan_triple()),
        textbook=lambda x, **p: np.where(x > 0, x, alpha * (np.exp(x / alpha) - 1)),
        textbook_derivative=lambda x, **p: np.where(x > 0, 1.0, np.exp(x / alpha)),
        monotone=True,
        lower_bound=-alpha,
        lipschitz=1.0,
        torch_oracle=lambda f, x, alpha: f.celu(x, alpha=alpha, inplace=False),
        keras_oracle=lambda k, alpha: lambda x: k.ops.celu(x, alpha=alpha),
    )


def _celu_cases():
    return [_celu_case(a) for a in (1.0, 0.5, 2.0, 0.25)]


# --- ReLU6 and Hardswish: kinks away from 0, PyTorch's rule at them -----------------------------


def _relu6_cases():
    return [
        Case(
            activation=relukit.get("relu6"),
            params={},
            value=lambda x, **_: min(max(x, mp.mpf(0)), mp.mpf(6)),
            derivative=lambda x, **_: mp.mpf(1 if 0 < x < 6 else 0),
            specials=(
                (INF, 6.0, 0.0),
                (-INF, 0.0, 0.0),
                (0.0, 0.0, 0.0),
                (-0.0, 0.0, 0.0),
                (6.0, 6.0, 0.0),
                _nan_triple(),
            ),
            kinks=(0.0, 6.0),
            kink_derivative=0.0,
            textbook=lambda x, **p: np.minimum(np.maximum(x, 0), 6),
            textbook_derivative=lambda x, **p: ((x > 0) & (x < 6)).astype(x.dtype),
            monotone=True,
            lower_bound=0.0,
            identity_above=INF,
            torch_oracle=lambda f, x: f.relu6(x, inplace=False),
            saves="output",
            keras_oracle=lambda k: k.ops.relu6,
        )
    ]


def _hardswish_cases():
    def value(x, **_):
        return x * min(max(x + 3, mp.mpf(0)), mp.mpf(6)) / 6

    def derivative(x, **_):
        return mp.mpf(0) if x <= -3 else (mp.mpf(1) if x >= 3 else (2 * x + 3) / 6)

    return [
        Case(
            activation=relukit.get("hardswish"),
            params={},
            value=value,
            derivative=derivative,
            specials=(
                (INF, INF, 1.0),
                (-INF, 0.0, 0.0),
                (0.0, 0.0, 0.5),
                (-1.5, -0.375, 0.0),
                _nan_triple(),
            ),
            kinks=(-3.0, 3.0),
            kink_derivatives=(0.0, 1.0),
            textbook=lambda x, **p: x * np.minimum(np.maximum(x + 3, 0), 6) / 6,
            textbook_derivative=lambda x, **p: np.where(
                x <= -3, 0.0, np.where(x >= 3, 1.0, x / 3 + 0.5)
            ),
            lower_bound=-0.375,
            identity_above=3.0,
            lipschitz=1.5,
            torch_oracle=lambda f, x: f.hardswish(x, inplace=False),
            keras_oracle=lambda k: k.ops.hard_swish,
        )
    ]


# --- Mish and Softplus ---------------------------------------------------------------------------


def _mish_cases():
    def softplus(x):
        return mp.log1p(mp.exp(x))

    def value(x, **_):
        return x * mp.tanh(softplus(x))

    def terms(x):
        sp = softplus(x)
        return mp.tanh(sp), x * mp.sech(sp) ** 2 / (1 + mp.exp(-x))

    derivative, scale = _sum_of_terms(terms)

    def textbook(x, **_):
        return x * np.tanh(np.log1p(np.exp(x)))

    def textbook_derivative(x, **_):
        sp = np.log1p(np.exp(x))
        return np.tanh(sp) + x / np.cosh(sp) ** 2 / (1 + np.exp(-x))

    return [
        Case(
            activation=relukit.get("mish"),
            params={},
            value=value,
            derivative=derivative,
            derivative_scale=scale,
            specials=((INF, INF, 1.0), (-INF, 0.0, 0.0), (0.0, 0.0, 0.6), _nan_triple()),
            textbook=textbook,
            textbook_derivative=textbook_derivative,
            identity_above=40.0,
            lipschitz=1.1,
            torch_oracle=lambda f, x: f.mish(x, inplace=False),
            keras_oracle=lambda k: k.activations.mish,
        )
    ]


def _softplus_case(beta: float) -> Case:
    b = mp.mpf(beta)

    def value(x, **_):
        return mp.log1p(mp.exp(b * x)) / b

    def derivative(x, **_):
        return 1 / (1 + mp.exp(-b * x))

    ln2 = float(mp.log(2) / b)
    if beta > 0:
        specials = ((INF, INF, 1.0), (-INF, 0.0, 0.0), (0.0, ln2, 0.5), _nan_triple())
    else:
        specials = ((INF, 0.0, 0.0), (-INF, -INF, 1.0), (0.0, ln2, 0.5), _nan_triple())
    return Case(
        activation=relukit.get("softplus"),
        params={"beta": beta, "threshold": 20.0},
        value=value,
        derivative=derivative,
        specials=specials,
        textbook=lambda x, **p: np.log1p(np.exp(beta * x)) / beta,
        textbook_derivative=lambda x, **p: 1 / (1 + np.exp(-beta * x)),
        monotone=True,
        lower_bound=0.0 if beta > 0 else None,
        identity_above=40.0 / beta if beta > 0 else INF,
        lipschitz=1.0,
        torch_oracle=lambda f, x, beta, threshold: f.softplus(x, beta=beta, threshold=threshold),
        # PyTorch returns x where beta·x > threshold: 2.1e-9/beta off at beta·x = 20 in float64
        # (at the default threshold; OpInfo's samples pass smaller ones).
        oracle_atol={"float64": 5e-9},
        oracle_where=lambda x, beta=1.0, threshold=20.0: x * beta <= threshold,
        keras_oracle=lambda k, beta, threshold: lambda x: k.ops.softplus(x * beta) / beta,
    )


def _softplus_cases():
    return [_softplus_case(b) for b in (1.0, 2.0, 0.5, -1.0)]


# --- the classical baselines ---------------------------------------------------------------------


def _sigmoid_cases():
    def value(x, **_):
        return 1 / (1 + mp.exp(-x))

    def derivative(x, **_):
        e = mp.exp(-abs(x))  # σ(1 − σ) without 1 − σ's cancellation
        return e / (1 + e) ** 2

    return [
        Case(
            activation=relukit.get("sigmoid"),
            params={},
            value=value,
            derivative=derivative,
            specials=((INF, 1.0, 0.0), (-INF, 0.0, 0.0), (0.0, 0.5, 0.25), _nan_triple()),
            textbook=lambda x, **p: 1 / (1 + np.exp(-x)),
            textbook_derivative=lambda x, **p: np.exp(-x) / (1 + np.exp(-x)) ** 2,
            monotone=True,
            lower_bound=0.0,
            identity_above=INF,
            torch_oracle=lambda f, x: torch_sigmoid(x),
            keras_oracle=lambda k: k.ops.sigmoid,
        )
    ]


def _tanh_cases():
    return [
        Case(
            activation=relukit.get("tanh"),
            params={},
            value=lambda x, **_: mp.tanh(x),
            derivative=lambda x, **_: mp.sech(x) ** 2,
            specials=((INF, 1.0, 0.0), (-INF, -1.0, 0.0), (0.0, 0.0, 1.0), _nan_triple()),
            textbook=lambda x, **p: np.tanh(x),
            textbook_derivative=lambda x, **p: 1 - np.tanh(x) ** 2,
            monotone=True,
            lower_bound=-1.0,
            identity_above=INF,
            torch_oracle=lambda f, x: torch_tanh(x),
            keras_oracle=lambda k: k.ops.tanh,
        )
    ]


def torch_sigmoid(x):
    """torch.sigmoid (torch.nn.functional.sigmoid is its deprecated alias)."""
    import torch

    return torch.sigmoid(x)


def torch_tanh(x):
    """torch.tanh (torch.nn.functional.tanh is its deprecated alias)."""
    import torch

    return torch.tanh(x)


def _gelu_cases():
    return [_gelu_exact_cases(), _gelu_tanh_cases()]


# Each catalog entry's cases come from the function named ``_<name>_cases`` above: a new entry
# adds that one function (no list of names to extend); an entry without one fails at import.
_BUILDERS = {a.name: globals().get(f"_{a.name}_cases") for a in relukit.catalog}
_MISSING = [name for name, build in _BUILDERS.items() if build is None]
if _MISSING:
    raise LookupError(f"tests/cases.py has no _<name>_cases() for: {', '.join(_MISSING)}")

CASES: list[Case] = [case for a in relukit.catalog for case in _BUILDERS[a.name]()]
CASE_IDS = [c.id for c in CASES]
BUILT_FOR = frozenset(name for name, build in _BUILDERS.items() if build is not None)


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
