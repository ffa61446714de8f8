"""``layer(activation)``: the Keras layer of a catalog entry, derived from its function.

Constructor arguments are the catalog's parameters with their defaults (positional or keyword,
checked by the catalog, ``ValueError`` naming a bad one, as Keras' layers raise), plus base
layer keywords (``name``, ``dtype``...). An entry with a weight parameter (PReLU) gets a
trainable variable under Keras' name for it (``alpha``) with ``<name>_initializer`` (default
``Constant(<catalog initial>)``), ``<name>_regularizer``, ``<name>_constraint``, Keras'
``shared_axes`` and a ``channel_axis`` (default -1, channels-last). Every layer is registered
with ``keras.saving.register_keras_serializable(package="relukit")``, so a model saved with
``model.save("m.keras")`` loads with ``keras.models.load_model`` and no ``custom_objects``.
Integer inputs are computed in the layer's compute dtype (entries that keep integers, ReLU,
keep them); under a mixed-precision policy a layer computes half inputs in float32 and keeps
its weights in float32.

Bad input, as for the functions (``_functions``' docstring): a call on something that is not a
dense tensor or array of real numbers (complex, string, ``None``, an object, a masked array)
raises ``TypeError`` naming the input and what is accepted, before Keras converts it. A real
parameter must be finite in the layer's compute dtype (float32 for half policies): that is
checked at construction, when the dtype policy is known (``LeakyReLU(1e39)`` raises
``ValueError`` under a float32 policy, is accepted under float64). A weight's initializer must
give finite slopes (checked when the weight is built, ``ValueError`` naming the initializer);
slopes set later (``set_weights``, training) are checked at each eager call on the CPU, where
their values are known, and not under ``jit`` (see ``_functions``).
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from typing import Any, ClassVar

import keras
import numpy as np
from keras import constraints, initializers, ops, regularizers

from .._catalog import Activation, Param, _docs, get
from . import _facts
from ._functions import (
    check_input,
    check_param_range,
    compute_dtype,
    is_float,
    known_values,
    param_dtype,
    run,
)

__all__ = ["ActivationLayer", "layer"]

_P = inspect.Parameter


class ActivationLayer(keras.layers.Layer):
    """Base of relukit's Keras layers: one catalog activation, its parameters fixed and its
    weights (if any) trained. ``relukit_activation`` is the catalog entry."""

    relukit_activation: ClassVar[Activation]
    _init_signature: ClassVar[inspect.Signature]
    _weight_labels: ClassVar[dict[str, str] | None] = None  # per class, built by _labels()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        activation = cls.relukit_activation
        for alias, target in _facts.facts(activation).aliases.items():
            if alias in kwargs:
                # Keras renamed e.g. LeakyReLU's alpha to negative_slope and still accepts it with
                # this warning; so do we.
                kwargs.setdefault(target, kwargs.pop(alias))
                warnings.warn(
                    f"Argument `{alias}` is deprecated. Use `{target}` instead.",
                    UserWarning,
                    stacklevel=3,
                )
        own = cls._init_signature.parameters
        base = {k: kwargs.pop(k) for k in list(kwargs) if k not in own}
        bound = cls._init_signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        values = {
            p.name: _facts.from_keras(p.name, given.pop(p.name))
            for p in activation.params
            if p.kind != "weight"
        }
        try:
            values = activation.check_params(**values)
        except TypeError as err:
            raise ValueError(str(err)) from None
        extras = {a.name: _check_extra(cls.__name__, a.name, given.pop(a.name)) for a in
                  _facts.facts(activation).layer_args}  # fmt: skip
        options = self._check_options(given)
        super().__init__(**base)
        # The range rule against the dtype this layer computes in (its policy's, float32 for
        # half ones), known now: an overflowing parameter is refused here, as Keras' layers
        # refuse bad arguments at construction.
        pdtype = param_dtype(self.compute_dtype)
        try:
            check_param_range(activation, values, pdtype, "this layer's")
            _check_extras_range(extras, pdtype)
        except ValueError as err:
            raise ValueError(
                f"{cls.__name__}: {err} (its dtype policy: {self.dtype_policy.name!r})"
            ) from None
        self.supports_masking = True
        for k, v in {**values, **extras, **options}.items():
            setattr(self, k, v)
        # Keras' protocol for a layer without state (keras.layers.ReLU's): built at
        # construction unless a subclass overrides build(), which Keras then calls on the first
        # input. Layers with weights (PReLU) build on the first input.
        build_at_init = getattr(self, "_build_at_init", None)
        if build_at_init is not None and not self._weight_params():
            build_at_init()

    # --- hooks for layers with weights (no-ops for stateless ones) ----------------------------

    @classmethod
    def _weight_params(cls) -> list[Param]:
        return [p for p in cls.relukit_activation.params if p.kind == "weight"]

    def _check_options(self, given: dict[str, Any]) -> dict[str, Any]:
        return given

    def _weights_now(self) -> dict[str, Any]:
        return {}

    def _values(self) -> dict[str, Any]:
        """The catalog parameters (weights excluded), as set at construction."""
        return {
            p.name: getattr(self, p.name)
            for p in self.relukit_activation.params
            if p.kind != "weight"
        }

    def _extras(self) -> dict[str, Any]:
        """Keras' layer arguments beyond the catalog's (``_facts.KerasArg``), as set."""
        return {
            a.name: getattr(self, a.name) for a in _facts.facts(self.relukit_activation).layer_args
        }

    def _is_catalog(self) -> bool:
        """Whether this layer is its catalog entry (Keras' extra arguments at their defaults)."""
        return all(
            getattr(self, a.name) == a.default
            for a in _facts.facts(self.relukit_activation).layer_args
        )

    # --- the layer ------------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{type(self).__name__}: the input"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Checked before Keras converts the input: Keras' own errors for a string, None or an
        # object do not say what is accepted, and it would drop a complex input's imaginary
        # part or a masked array's mask without a word.
        if args:
            check_input(self.relukit_activation, args[0], self._where())
        elif "inputs" in kwargs:
            check_input(self.relukit_activation, kwargs["inputs"], self._where())
        return super().__call__(*args, **kwargs)

    def call(self, inputs):
        x = inputs
        if not self._is_catalog():
            if not is_float(x.dtype):
                x = ops.cast(x, self.compute_dtype)
            return _EXTENDED[self.relukit_activation.name](x, **self._extras())
        if not self.relukit_activation.keeps_integers and not is_float(x.dtype):
            # Keras layers leave integer inputs alone and their ops then fail or truncate
            # (keras#23607); we compute them in the layer's compute dtype, as floats would be.
            x = ops.cast(x, self.compute_dtype)
        activation = self.relukit_activation
        # __call__ has checked the input (run would again: ~5 µs a call, measured on torch).
        return run(
            activation,
            x,
            self._values(),
            self._weights_now(),
            where=self._where(),
            labels=self._labels(),
            checked=True,
        )

    @classmethod
    def _labels(cls) -> dict[str, str]:
        """Keras' names of the weights (PReLU's ``alpha``), built once per class."""
        labels = cls.__dict__.get("_weight_labels")
        if labels is None:
            activation = cls.relukit_activation
            labels = {p.name: _facts.weight_name(activation, p.name) for p in cls._weight_params()}
            cls._weight_labels = labels
        return labels

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._values())
        config.update(self._extras())
        return config


def _check_extra(layer_name: str, name: str, value: Any) -> Any:
    """A Keras layer argument (``_facts.KerasArg``): a real number (``None`` for
    ``max_value``), kept as a Python float."""
    if value is None and name == "max_value":
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{layer_name}: {name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        hint = " (use max_value=None for no bound)" if name == "max_value" else ""
        raise ValueError(f"{layer_name}: {name} must be finite, got {value!r}{hint}")
    return value


def _check_extras_range(extras: dict[str, Any], dtype: str) -> None:
    limit = float(np.finfo(dtype).max)
    for name, value in extras.items():
        if value is not None and abs(value) > limit:
            raise ValueError(
                f"{name}={value!r} overflows {dtype}, the dtype this layer's parameters must be "
                f"finite in; use a value of magnitude at most {limit:.4g}"
            )


def _keras_relu(x: Any, max_value: float | None, negative_slope: float, threshold: float) -> Any:
    """Keras' ReLU with relukit's rules (``_facts``' note on ``relu``): f(x) = min(x, max_value)
    for x > threshold, negative_slope·(x − threshold) otherwise; f' = 1 inside, 0 for
    x ≥ max_value, negative_slope for x ≤ threshold; NaN → NaN. On a floating ``x``."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    cdtype = compute_dtype(dtype)
    to = np.dtype(cdtype).type
    m = None if max_value is None else float(to(max_value))
    s, t = float(to(negative_slope)), float(to(threshold))

    def cast(v: Any, d: str) -> Any:
        return v if keras.backend.standardize_dtype(v.dtype) == d else ops.cast(v, d)

    @ops.custom_gradient
    def f(x):
        xc = cast(x, cdtype)
        above = ops.greater(xc, t)
        nan = ops.isnan(xc)
        upper = xc if m is None else ops.minimum(xc, m)
        if s == 0:  # 0 (never 0·(−inf) = NaN); ±0 keeps its sign at threshold 0, NaN stays
            lower = ops.where(ops.logical_or(nan, ops.equal(xc, 0)), xc, ops.zeros_like(xc))
        else:  # at threshold 0, slope·(±0): the sign-of-zero rule f(±0) = f'(0)·(±0)
            lower = s * (xc - t) if t != 0 else s * xc
        y = ops.where(above, upper, lower)

        def grad(*args, upstream=None):
            # torch calls grad(*saved_inputs, upstream=g); jax and tensorflow call grad(g).
            if upstream is None:
                (upstream,) = args
            g = cast(upstream, cdtype)
            zero = ops.zeros_like(g)
            inside = g if m is None else ops.where(ops.less(xc, m), g, zero)
            left = zero if s == 0 else s * g
            gx = ops.where(nan, xc, ops.where(above, inside, left))  # f'(NaN) = NaN
            return cast(gx, dtype)

        return cast(y, dtype), grad

    return f(x)


# Layers with Keras' extra arguments given (not at their defaults) compute these.
_EXTENDED = {"relu": _keras_relu}


def _check_axis(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value == 0:
        raise ValueError(f"{name} cannot be 0, the batch axis")
    return int(value)


class WeightLayer(ActivationLayer):
    """A layer whose activation has a weight parameter (PReLU's slopes): one trainable variable
    per weight, laid out by ``shared_axes`` / ``channel_axis``."""

    def _check_options(self, given: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for p in self._weight_params():
            key = _facts.weight_name(self.relukit_activation, p.name)
            init = given[f"{key}_initializer"]
            if init is None:
                init = initializers.Constant(p.initial if p.initial is not None else 0.0)
            try:
                options[f"{key}_initializer"] = initializers.get(init)
                options[f"{key}_regularizer"] = regularizers.get(given[f"{key}_regularizer"])
                options[f"{key}_constraint"] = constraints.get(given[f"{key}_constraint"])
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"{type(self).__name__}: invalid {key}_initializer/regularizer/constraint: "
                    f"{err}"
                ) from None
        shared = given["shared_axes"]
        if shared is not None:
            axes = list(shared) if isinstance(shared, (list, tuple)) else [shared]
            shared = [_check_axis(a, "shared_axes") for a in axes]
        channel = given["channel_axis"]
        if channel is not None:
            channel = _check_axis(channel, "channel_axis")
        options["shared_axes"] = shared
        options["channel_axis"] = channel
        return options

    def _param_shape(self, input_shape) -> list[int]:
        rank = len(input_shape)
        name = type(self).__name__
        if rank < 2 and (self.shared_axes is not None or self.channel_axis is not None):
            raise ValueError(
                f"{name} needs inputs of shape (batch, ..., channels); got shape {input_shape}. "
                "Use channel_axis=None for one value."
            )

        def positive(axis: int, what: str) -> int:
            a = axis + rank if axis < 0 else axis
            if not 1 <= a < rank:
                raise ValueError(
                    f"{what}={axis} is out of range for inputs of shape {tuple(input_shape)}"
                )
            return a

        if self.shared_axes is None:
            channel = None
            if self.channel_axis is not None:
                channel = positive(self.channel_axis, "channel_axis")
            shared = {i for i in range(1, rank) if i != channel}
        else:  # Keras' rule: one value per element of the axes not shared
            shared = {positive(a, "shared_axes") for a in self.shared_axes}
        shape = [1 if i in shared else input_shape[i] for i in range(1, rank)]
        if None in shape:
            raise ValueError(
                f"{name} needs the size of every axis that has its own values; got shape "
                f"{tuple(input_shape)} (unknown sizes on axes not shared)"
            )
        return shape

    def build(self, input_shape):
        shape = self._param_shape(input_shape)
        for p in self._weight_params():
            key = _facts.weight_name(self.relukit_activation, p.name)
            # autocast=False: under mixed precision the weights stay float32 and the function
            # rounds the product once (x is computed in float32 too).
            variable = self.add_weight(
                shape=shape,
                name=key,
                initializer=_FiniteInitializer(getattr(self, f"{key}_initializer"), key),
                regularizer=getattr(self, f"{key}_regularizer"),
                constraint=getattr(self, f"{key}_constraint"),
                autocast=False,
            )
            setattr(self, key, variable)
        axes = {i + 1: d for i, d in enumerate(shape) if d != 1}
        self.input_spec = keras.layers.InputSpec(ndim=len(input_shape), axes=axes)

    def _weights_now(self) -> dict[str, Any]:
        return {
            p.name: getattr(self, _facts.weight_name(self.relukit_activation, p.name))
            for p in self._weight_params()
        }

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for p in self._weight_params():
            key = _facts.weight_name(self.relukit_activation, p.name)
            config[f"{key}_initializer"] = initializers.serialize(
                getattr(self, f"{key}_initializer")
            )
            config[f"{key}_regularizer"] = regularizers.serialize(
                getattr(self, f"{key}_regularizer")
            )
            config[f"{key}_constraint"] = constraints.serialize(getattr(self, f"{key}_constraint"))
        config["shared_axes"] = self.shared_axes
        config["channel_axis"] = self.channel_axis
        return config


class _FiniteInitializer:
    """An initializer whose values must be finite slopes (``alpha_initializer=Constant(nan)``
    is refused by name when the weight is built). Only the variable sees this wrapper; the
    layer keeps and serializes the initializer it was given."""

    def __init__(self, initializer: Any, key: str) -> None:
        self.initializer = initializer
        self.key = key

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        value = self.initializer(shape, dtype=dtype)
        values = known_values(value)  # None for a traced value (a weight built inside jit)
        if values is not None and not np.isfinite(values).all():
            raise ValueError(
                f"{self.key} must hold finite slopes; {self.key}_initializer="
                f"{_describe(self.initializer)} gave a NaN or an infinity"
            )
        return value


def _describe(initializer: Any) -> str:
    try:
        config = initializer.get_config()
    except (AttributeError, NotImplementedError):
        return repr(initializer)
    inner = ", ".join(f"{k}={v!r}" for k, v in config.items())
    return f"{type(initializer).__name__}({inner})"


_LAYERS: dict[str, type[ActivationLayer]] = {}


def layer(activation: Activation | str) -> type[ActivationLayer]:
    """The Keras layer class of a catalog entry (``relukit.keras.<ClassName>``).

    Named ``activation.class_name``, its ``call`` is ``function(activation)``; constructor
    arguments, defaults, checks and docstring come from the catalog (and Keras' spellings from
    ``_facts``). Registered serializable as ``relukit><ClassName>``.
    """
    activation = get(activation)
    if activation.name not in _LAYERS:
        _LAYERS[activation.name] = _make(activation)
    return _LAYERS[activation.name]


def _make(activation: Activation) -> type[ActivationLayer]:
    weights = [p for p in activation.params if p.kind == "weight"]
    params = [
        _P(p.name, _P.POSITIONAL_OR_KEYWORD, default=p.default)
        for p in activation.params
        if p.kind != "weight"
    ]
    for p in weights:
        key = _facts.weight_name(activation, p.name)
        params += [
            _P(f"{key}_{what}", _P.POSITIONAL_OR_KEYWORD, default=None)
            for what in ("initializer", "regularizer", "constraint")
        ]
    if weights:
        params += [
            _P("shared_axes", _P.POSITIONAL_OR_KEYWORD, default=None),
            _P("channel_axis", _P.POSITIONAL_OR_KEYWORD, default=-1),
        ]
    params += [
        _P(a.name, _P.POSITIONAL_OR_KEYWORD, default=a.default)
        for a in _facts.facts(activation).layer_args
    ]
    signature = inspect.Signature(params)
    base = WeightLayer if weights else ActivationLayer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, *args, **kwargs)

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_P("self", _P.POSITIONAL_OR_KEYWORD), *params, _P("kwargs", _P.VAR_KEYWORD)]
    )
    cls = type(
        activation.class_name,
        (base,),
        {
            "__init__": __init__,
            "__doc__": _render_doc(activation),
            "__module__": "relukit.keras",
            "relukit_activation": activation,
            "_init_signature": signature,
        },
    )
    __init__.__qualname__ = f"{activation.class_name}.__init__"
    return keras.saving.register_keras_serializable(package="relukit")(cls)


def _render_doc(activation: Activation) -> str:
    weights = [p for p in activation.params if p.kind == "weight"]
    args = [(p.name, _docs.param_doc(p)) for p in activation.params if p.kind != "weight"]
    args += [(a.name, a.doc) for a in _facts.facts(activation).layer_args]
    shape = "Any; the output has the input's shape."
    if activation.keeps_integers:
        shape += " Integer inputs keep their dtype."
    for p in weights:
        key = _facts.weight_name(activation, p.name)
        args += [
            (
                f"{key}_initializer",
                f"initializer of ``{key}``, {p.doc}. Default: ``Constant({p.initial!r})``.",
            ),
            (f"{key}_regularizer", f"regularizer of ``{key}``. Default: ``None``."),
            (f"{key}_constraint", f"constraint on ``{key}``. Default: ``None``."),
        ]
        shape = (
            f"Input ``(N, *, C)``; output the same. Weight ``{key}``: ``(1, ..., 1, C)`` "
            "(one value per channel) by default."
        )
    if weights:
        args += [
            (
                "shared_axes",
                "axes (≥ 1, or negative from the end) along which values are shared, as in "
                "Keras; when given, every other non-batch axis has its own values and "
                "``channel_axis`` is not used. Default: ``None``.",
            ),
            (
                "channel_axis",
                "when ``shared_axes`` is ``None``, the axis with one value per entry (1 for "
                "channels-first data); ``None`` for a single value. Default: ``-1``.",
            ),
        ]
    args.append(("**kwargs", "base layer keyword arguments (``name``, ``dtype``...)."))
    sections = []
    note = _facts.facts(activation).layer_note
    if note:
        sections.append(("Keras", note))
    raises = (
        "ValueError: a parameter that is not accepted (named), or one that overflows the "
        "layer's compute dtype (float32 for half policies)"
    )
    if weights:
        raises += (
            " or, at build, an axis out of range or of unknown size, or an initializer that "
            "gives non-finite slopes"
        )
    raises += (
        ". TypeError, when called: an input that is not a dense tensor or array of real "
        "numbers (complex, string, ``None``, an object, a masked array)"
    )
    sections += [("Raises", raises + "."), ("Shape", shape)]
    return _docs.render(
        activation, args=args, sections=sections, example=_example(activation, weights)
    )


def _example(activation: Activation, weights: list[Param]) -> str:
    ex = activation.example
    if ex is None:
        return ""
    kwargs = []
    for k, v in ex.params.items():
        p = activation.param(k)
        if p.kind != "weight":
            kwargs.append(f"{k}={v!r}")
        elif v != p.initial:
            key = _facts.weight_name(activation, k)
            kwargs.append(f"{key}_initializer=keras.initializers.Constant({v!r})")
    make = f"relukit.keras.{activation.class_name}({', '.join(kwargs)})"
    return _docs.example_lines(
        activation,
        setup=[
            "import numpy as np, keras, relukit.keras",
            f"x = np.array([{_docs.example_input(activation)}])",
        ],
        call=lambda _args: f"{make}(x)",
        value=lambda expr: f"np.asarray(keras.ops.stop_gradient({expr}))[0].tolist()",
        derivative=None,
    )
