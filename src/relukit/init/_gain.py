"""Gains: 1/√E[f(z)²] (forward) and 1/√E[f'(z)²] (backward) for z ~ N(0, 1), from the catalog."""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, Literal

import numpy as np

from .._catalog import Activation, get

GainMode = Literal["forward", "backward"]

# Composite Gauss–Legendre on each half-line [0, ±L]: the integrands are analytic on each side of
# the kink at 0 (not across it: ELU's f' has a kink there, and a plain Gauss–Hermite rule over the
# whole line converges only algebraically, ~1e-5 with 100 nodes). Beyond |z| = 16 the Gaussian
# weight φ(16) ≈ 1.4e-56 makes the tails negligible; 32 panels of 16 nodes integrate each analytic
# half to ~1e-16 (checked against mpmath in tests/test_init.py).
_HALF_LINE = 16.0
_PANELS = 32
_NODES = 16


@functools.lru_cache(maxsize=1)
def _half_line_rule() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (φ included) of the rule for ∫_0^L g(z) φ(z) dz."""
    t, w = np.polynomial.legendre.leggauss(_NODES)
    h = _HALF_LINE / _PANELS
    left = np.arange(_PANELS)[:, None] * h
    nodes = (left + (t + 1.0) * (h / 2.0)).ravel()
    weights = np.tile(w * (h / 2.0), _PANELS) * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
    return nodes, weights


def gaussian_expectation(g) -> float:
    """E[g(z)] for z ~ N(0, 1), split at 0, for g analytic on each half-line (vectorised g)."""
    nodes, weights = _half_line_rule()
    with np.errstate(all="ignore"):
        return float(weights @ np.asarray(g(nodes)) + weights @ np.asarray(g(-nodes)))


# torch.nn.init.calculate_gain's names for layers without a nonlinearity: gain 1.
LINEAR_NAMES = frozenset(
    {
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
    }
)


def resolve(activation: Any) -> Activation | None:
    """The catalog entry for ``activation`` (a name or an entry); ``None`` stays ``None`` (linear),
    and so do ``torch.nn.init.calculate_gain``'s linear names (``"linear"``, ``"conv2d"``...).

    Raises:
        ValueError: ``activation`` is not in the catalog; the message names the argument and lists
            the known activations.
    """
    if activation is None or isinstance(activation, Activation):
        return activation
    if isinstance(activation, str) and activation in LINEAR_NAMES:
        return None
    try:
        return get(activation)
    except KeyError:
        from .. import _catalog

        known = ", ".join(a.name for a in _catalog.CATALOG)
        raise ValueError(
            f"activation must be a relukit catalog name or entry ({known}), None or 'linear' "
            f"for a linear layer; got {activation!r}"
        ) from None


def _slopes(name: str, value: Any) -> float | np.ndarray:
    """A weight parameter (PReLU's slopes) as a float or a 1-D float64 array; errors name it.

    Accepts a real number, a sequence or NumPy array of reals, or a torch tensor of any floating
    dtype and device (copied to the CPU in float64; the caller's tensor is not changed).
    """
    what = f"{name} must be a finite real number or an array of finite real slopes"
    if isinstance(value, bool):
        raise TypeError(f"{what}, got {value!r}")
    if hasattr(value, "detach"):  # a torch tensor or Parameter, e.g. prelu.weight
        import torch

        if isinstance(value, torch.nn.parameter.UninitializedParameter):
            raise ValueError(f"{what}, got an uninitialised (lazy) parameter")
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{what}, got a tensor of dtype {value.dtype}")
        try:
            value = value.detach().to("cpu", torch.float64).numpy()
        except (RuntimeError, NotImplementedError) as err:  # a meta tensor has no values
            raise ValueError(f"{what}; its values cannot be read: {err}") from None
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested sequences
        raise TypeError(f"{what}, got {type(value).__name__}") from None
    if arr.dtype.kind not in "iuf" and arr.dtype != object:
        raise TypeError(f"{what}, got {type(value).__name__} of dtype {arr.dtype}")
    try:
        if arr.dtype == object and any(
            isinstance(v, bool) or not isinstance(v, numbers.Real) for v in arr.ravel()
        ):
            raise TypeError
        arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what}, got {type(value).__name__}") from None
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(f"{what}, got a value beyond the float64 range") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} (at least one), got {value!r}")
    return float(arr.ravel()[0]) if arr.size == 1 else arr.ravel()


def _params(entry: Activation, params: dict[str, Any]) -> dict[str, Any]:
    """Validated parameters; a ``"weight"`` parameter (PReLU's slopes) becomes a float array.

    Every error names the parameter (a Python int too large for a float included).
    """
    for p in entry.params:
        value = params.get(p.name)
        if p.kind == "real" and isinstance(value, numbers.Real) and not isinstance(value, bool):
            try:
                float(value)
            except OverflowError:
                raise ValueError(
                    f"{p.name} must be a finite real number, got {value!r:.40}... "
                    "(beyond the float64 range)"
                ) from None
    checked = entry.check_params(**params)
    for p in entry.params:
        if p.kind == "weight":
            # the catalog's initial slope (0.25) when not given
            checked[p.name] = _slopes(p.name, checked.get(p.name, p.initial))
    return checked


@functools.lru_cache(maxsize=256)
def _quadrature_moment(name: str, mode: str, items: tuple[tuple[str, Any], ...]) -> float:
    import relukit

    fn = getattr(relukit, name)
    fn = fn.derivative if mode == "backward" else fn
    params = dict(items)
    return gaussian_expectation(lambda z: fn(z, **params) ** 2)


def _prepare(activation: Any, mode: Any, params: dict[str, Any]) -> tuple[Activation | None, dict]:
    """The catalog entry (``None``: linear) and its checked parameters; errors name the argument."""
    if not isinstance(mode, str) or mode not in ("forward", "backward"):
        raise ValueError(f"mode must be 'forward' or 'backward', got {mode!r}")
    entry = resolve(activation)
    if entry is None:
        if params:
            raise TypeError(
                f"a linear layer (activation=None) takes no parameters, got {', '.join(params)}"
            )
        return None, {}
    return entry, _params(entry, params)


def _nonpositive_slope(entry: Activation, checked: dict[str, Any]) -> Any:
    """The slope for x ≤ 0 of a piecewise-linear entry, or ``None`` for the others."""
    if not entry.piecewise_linear or entry.nonpositive_slope is None:
        return None
    return entry.nonpositive_slope(**checked)


def second_moment(activation: Any, *, mode: GainMode = "forward", **params: Any) -> float:
    """E[f(z)²] (``mode="forward"``) or E[f'(z)²] (``"backward"``) for z ~ N(0, 1).

    Closed form (1 + mean(a²))/2 for piecewise-linear entries with slope a for x ≤ 0 (for both
    modes: f(z)² and f'(z)² are z² and 1, or a²z² and a², each with probability 1/2); quadrature
    otherwise. ``activation=None`` (linear) gives 1. It is ``inf`` where it overflows (a slope
    beyond ~1e154); :func:`gain` computes the gain without forming it there.
    """
    entry, checked = _prepare(activation, mode, params)
    if entry is None:
        return 1.0
    slope = _nonpositive_slope(entry, checked)
    if slope is not None:
        slope = np.asarray(slope, dtype=np.float64)
        with np.errstate(over="ignore", under="ignore"):
            return 0.5 * (1.0 + float(np.mean(slope**2)))
    return _quadrature(entry, mode, checked)


def _quadrature(entry: Activation, mode: str, checked: dict[str, Any]) -> float:
    for key, value in checked.items():
        if not isinstance(value, (numbers.Real, str)):
            raise TypeError(f"{key} must be a scalar for {entry.name}'s gain, got {value!r}")
    return _quadrature_moment(entry.name, mode, tuple(sorted(checked.items())))


def _piecewise_gain(slope: Any) -> float:
    """√(2/(1 + mean(a²))) without overflow.

    Where 1 + mean(a²) is a normal float this is the formula itself, bit-identical to torch's
    ``calculate_gain`` (``math.sqrt(2.0 / (1 + a**2))``). Beyond (|a| ≳ 1e150, where a² would
    overflow to inf and the gain to 0) the slopes are scaled by s = max|a| first:
    √2 / (s·√(1/s² + mean((a/s)²))), the hypot form of √2/√(1 + a²).
    """
    a = np.abs(np.asarray(slope, dtype=np.float64).ravel())
    with np.errstate(over="ignore", under="ignore"):
        total = 1.0 + float(np.mean(a**2))
    if total < 1e300:
        return math.sqrt(2.0 / total)
    s = float(a.max())
    with np.errstate(under="ignore"):
        q = float(np.mean((a / s) ** 2))  # in [1/n, 1]
    return math.sqrt(2.0) / s / math.sqrt(1.0 / (s * s) + q)


def gain(activation: Any = "relu", *, mode: GainMode = "forward", **params: Any) -> float:
    r"""The initialisation gain of a catalog activation: exact, framework-free.

    For z ~ N(0, 1):

    * ``mode="forward"``: :math:`1/\sqrt{E[f(z)^2]}`. Weights with std ``gain/√fan_in`` keep the
      second moment of the pre-activations at 1 from layer to layer (He et al. 2015's forward
      argument: Var(Wx) = fan_in·std²·E[f(z)²]).
    * ``mode="backward"``: :math:`1/\sqrt{E[f'(z)^2]}`. Weights with std ``gain/√fan_out`` keep the
      second moment of the back-propagated gradients at 1 (the backward argument).

    For the positively homogeneous entries (ReLU, Leaky ReLU, PReLU; decided from the catalog's
    ``piecewise_linear`` / ``nonpositive_slope``), with a the slope for x ≤ 0, both are
    :math:`\sqrt{2/(1+a^2)}` in closed form, and exact at every input scale. For the others they
    are computed by Gaussian quadrature split at z = 0 (composite Gauss–Legendre against the
    normal density on each half-line, in panels of width 1/2, so the kinks of ReLU6 at 6 and
    Hardswish at ±3 fall on panel ends; ~1e-15 absolute on the second moment, checked against
    mpmath to 1e-12) through relukit's own NumPy functions,
    so one definition serves; they hold exactly only at unit pre-activation variance. That fixed
    point attracts for ELU (the variance map q ↦ gain²·E[f(√q z)²] has slope 0.89 at q = 1) but
    repels for GELU (slope 1.144: GELU is ≈ x/2 for small inputs and ≈ ReLU for large ones, and
    gain² = 2.35 lies between 2 and 4), so in deep GELU stacks without normalisation the noise of
    finite-width layers grows ×1.144 per layer; use normalisation or :func:`relukit.init.lsuv_`.

    ===========================  ================  ================
    activation                   forward           backward
    ===========================  ================  ================
    relu                         1.4142135624      1.4142135624
    leaky_relu (0.01)            1.4141428570      1.4141428570
    prelu (weight 0.25)          1.3719886811      1.3719886811
    elu (alpha 1.0)              1.2451983007      1.2234285576
    selu                         1.0000000000      0.9660257770
    celu (alpha 1.0)             1.2451983007      1.2234285576
    relu6                        1.4142135651      1.4142135638
    gelu (exact)                 1.5335304412      1.4811144127
    gelu (tanh)                  1.5335805217      1.4811680581
    silu                         1.6765324703      1.6233202580
    mish                         1.4868475813      1.4447552325
    hardswish                    1.7366572128      1.6700763674
    softplus (beta 1.0)          1.0418668355      1.8462285453
    sigmoid                      1.8462285453      4.7226460859
    tanh                         1.5925374197      1.4674135916
    ===========================  ================  ================

    Unlike ``torch.nn.init.calculate_gain``, which raises for GELU, ELU, PReLU, SiLU, Mish...
    and uses one gain for both modes, this covers every catalog activation and tells forward from
    backward (they differ for all but the positively homogeneous ones). For ``relu``,
    ``leaky_relu(a)`` and the linear names (``"linear"``, ``"conv2d"``...: 1) it equals
    ``calculate_gain`` bit for bit. PyTorch's ``tanh`` 5/3, ``selu`` 3/4 and ``sigmoid`` 1 are
    heuristics and differ from these second-moment gains on purpose: SELU's forward gain is 1
    (it is self-normalising: E[selu(z)²] = 1), where PyTorch's 3/4 was chosen empirically;
    sigmoid's 1.85 rescales its non-zero mean too. Keras and JAX have no gain helper: pass
    ``scale=gain(...)**2`` to ``keras.initializers.VarianceScaling`` /
    ``jax.nn.initializers.variance_scaling``.

    Args:
        activation: a catalog name (``relukit.get``) or entry; ``None`` or ``"linear"`` (or
            another of ``calculate_gain``'s linear names) for a linear layer (gain 1).
            Default: ``"relu"``.
        mode: ``"forward"`` or ``"backward"``. Default: ``"forward"``.
        **params: the activation's parameters (``negative_slope``, ``alpha``, ``approximate``);
            defaults are the catalog's (PyTorch's). PReLU's ``weight`` is its current slope: a
            float, an array or a torch tensor of slopes (per-channel slopes enter through the
            mean of a²). Default: 0.25, PyTorch's ``nn.PReLU`` init.

    Returns:
        The gain, a Python float.

    The result is always a finite positive float: piecewise-linear gains are computed without
    overflow (a slope of 1e155 gives ≈ 1.4e-155, not 0), and a parameter whose gain overflows
    anyway (ELU's ``alpha`` beyond ~1e154, where E[f(z)²] is inf) is refused.

    Raises:
        ValueError: unknown ``activation``, bad ``mode``, or a parameter out of range: not
            finite, beyond the float64 range, or one for which the gain is not a finite positive
            number (each named).
        TypeError: a parameter the activation does not take, or of the wrong type (named).

    Example:
        >>> from relukit.init import gain
        >>> gain("relu")
        1.4142135623730951
        >>> round(gain("leaky_relu", negative_slope=0.2), 6)
        1.386750
        >>> round(gain("gelu"), 6), round(gain("gelu", mode="backward"), 6)
        (1.53353, 1.481114)
        >>> round(gain("prelu", weight=0.25), 6)
        1.371989
    """
    entry, checked = _prepare(activation, mode, params)
    if entry is None:
        return 1.0
    slope = _nonpositive_slope(entry, checked)
    moment: float | None = None
    if slope is not None:
        value = _piecewise_gain(slope)
    else:
        moment = _quadrature(entry, mode, checked)
        value = math.sqrt(2.0 / (2.0 * moment)) if moment > 0 else math.inf
    if not (math.isfinite(value) and value > 0.0):
        given = ", ".join(f"{k}={v!r}" for k, v in checked.items()) or "its defaults"
        names = " or ".join(checked) or "its parameters"
        why = f"E[f²] = {moment!r}" if mode == "forward" else f"E[f'²] = {moment!r}"
        raise ValueError(
            f"{names} out of range: {entry.name}'s {mode} gain is not a finite positive number "
            f"for {given} ({why}); use a smaller magnitude"
        )
    return value
