"""What Keras spells or defaults differently, as data keyed by catalog name.

The adapter (``_functions``, ``_layers``, ``_models``) is generic over the catalog; the few
Keras-specific facts it needs live here. An entry without facts (SiLU) needs none: its function,
layer and docstrings come from the catalog alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # data only at run time: scripts/make_stubs.py loads this file on its own
    from .._catalog import Activation


@dataclass(frozen=True)
class KerasArg:
    """A constructor argument of Keras' layer that the catalog entry does not have, accepted by
    relukit's layer with Keras' meaning (``ReLU(max_value=6.0)``); at its default the layer is
    the catalog entry unchanged.

    Attributes:
        name: Keras' keyword (also positional, in this order, after the catalog's parameters).
        default: Keras' default, which is the catalog entry's behaviour.
        annotation: its type in the stubs (``"float | None"``).
        doc: its docstring line.
    """

    name: str
    default: Any
    annotation: str
    doc: str


@dataclass(frozen=True)
class KerasFacts:
    """Keras' side of one catalog entry.

    Attributes:
        layer_note: a paragraph for the layer's docstring: where the Keras layer (or its absence)
            differs from ours beyond the catalog's spellings.
        aliases: Keras' deprecated keywords for a parameter (``LeakyReLU(alpha=)``), accepted
            by our layer with Keras' own ``UserWarning``.
        weight_names: Keras' name for a weight parameter (the variable and its
            ``*_initializer``/``*_regularizer``/``*_constraint`` arguments), so weights and
            configs move between ``keras.layers.PReLU`` and ours.
        neutral: attributes of Keras' own layer (same class name) that must hold these values
            for it to be this activation (``keras.layers.ReLU(max_value=6)`` is not ReLU).
        layer_args: Keras' layer arguments beyond the catalog's parameters, accepted by our
            layer with Keras' meaning (``_layers`` computes them); their defaults are
            ``neutral``.
    """

    layer_note: str = ""
    aliases: Mapping[str, str] = field(default_factory=dict)
    weight_names: Mapping[str, str] = field(default_factory=dict)
    neutral: Mapping[str, Any] = field(default_factory=dict)
    layer_args: tuple[KerasArg, ...] = ()


FACTS: Mapping[str, KerasFacts] = {
    "relu": KerasFacts(
        layer_note=(
            "Takes ``keras.layers.ReLU``'s ``max_value``, ``negative_slope`` and ``threshold`` "
            "with Keras' meaning: f(x) = min(x, max_value) for x > threshold, "
            "negative_slope·(x − threshold) for x ≤ threshold, computed in the compute dtype "
            "(float32 for half inputs, rounded once; integer inputs in the layer's compute "
            "dtype once any of them is given). Gradient: 1 for threshold < x < max_value, 0 for "
            "x ≥ max_value (the clipped branch, as ``tf.nn.relu6`` and ``torch.nn.ReLU6``), "
            "negative_slope for x ≤ threshold (the kink rule: f'(threshold) takes the left "
            "branch, as f(threshold) does); NaN gives NaN (value and gradient) on every backend, "
            "and a zero slope gives 0 at −inf. Any finite values are accepted (Keras refuses "
            "negative ones); ``max_value=None`` is no clipping. At the defaults the layer is "
            "relukit's ReLU (relu'(0) = 0, relu'(NaN) = NaN, integers keep their dtype)."
        ),
        neutral={"max_value": None, "negative_slope": 0.0, "threshold": 0.0},
        layer_args=(
            KerasArg(
                "max_value",
                None,
                "float | None",
                "the output's upper bound (finite), or ``None`` for none. Default: ``None``.",
            ),
            KerasArg(
                "negative_slope",
                0.0,
                "float",
                "slope for x ≤ threshold; any finite real. Default: ``0.0``.",
            ),
            KerasArg(
                "threshold",
                0.0,
                "float",
                "x > threshold takes the identity branch; any finite real. Default: ``0.0``.",
            ),
        ),
    ),
    "leaky_relu": KerasFacts(
        layer_note=(
            "Differs from ``keras.layers.LeakyReLU``: the default slope is 0.01 (Keras: 0.3), "
            "any finite slope is accepted (Keras refuses negative ones), f'(0) = negative_slope "
            "on every backend (Keras' is 1 on jax), and slopes > 1 are exact. ``alpha=`` is "
            "accepted as Keras' deprecated spelling of ``negative_slope``, with the same "
            "``UserWarning``."
        ),
        aliases={"alpha": "negative_slope"},
    ),
    "prelu": KerasFacts(
        layer_note=(
            "Differs from ``keras.layers.PReLU`` in its defaults: one slope per channel on the "
            "last axis (``channel_axis=-1``, channels-last), initialised at 0.25 as in He et al. "
            "(2015) and PyTorch, where Keras starts every slope at 0 (a ReLU) with one slope per "
            "element of the input. Passing ``shared_axes`` gives Keras' layout (one slope per "
            "element of the axes not shared; e.g. ``shared_axes=[1, 2]`` for ``(N, H, W, C)`` is "
            "the default here), and the weight is stored in Keras' shape, so ``set_weights`` "
            "works across the two. Gradients follow the kink rule: ∂f/∂x = a at x = 0 (Keras: "
            "0) and ∂f/∂a = min(x, 0); any real slope is allowed. Under mixed precision the "
            "slopes stay float32."
        ),
        weight_names={"weight": "alpha"},
    ),
    "elu": KerasFacts(
        layer_note=(
            "Same default as ``keras.layers.ELU``; differs in computing alpha·expm1(x) (exact "
            "near 0) and in accepting any finite alpha, negative too."
        ),
    ),
    "gelu": KerasFacts(
        layer_note=(
            'Keras has no GELU layer (``keras.layers.Activation("gelu")`` is exact; '
            "``keras.ops.gelu`` defaults to the tanh form and spells it ``approximate=True``). "
            'Keras\' spelling is accepted: ``approximate=True`` is ``"tanh"``, ``False`` is '
            '``"none"`` (the config stores the string). Here the default is exact, '
            "gelu(−inf) = 0 rather than NaN, and the left tail keeps "
            "its relative precision."
        ),
    ),
}

# Keras' spelling of a catalog parameter's values (``keras.activations.gelu(approximate=False)``).
VALUES: Mapping[str, Mapping[Any, Any]] = {"approximate": {False: "none", True: "tanh"}}

_NONE = KerasFacts()


def facts(activation: Activation) -> KerasFacts:
    """The Keras facts of ``activation`` (empty for an entry Keras has nothing to say about)."""
    return FACTS.get(activation.name, _NONE)


def weight_name(activation: Activation, param: str) -> str:
    """Keras' name for a weight parameter (``"alpha"`` for PReLU's ``"weight"``)."""
    return facts(activation).weight_names.get(param, param)


def from_keras(param: str, value: Any) -> Any:
    """A parameter value as Keras spells it, in the catalog's spelling (``True`` only, not
    ``1``, is Keras' ``approximate=True``)."""
    for keras_value, ours in VALUES.get(param, {}).items():
        if type(value) is type(keras_value) and value == keras_value:
            return ours
    return value
