"""``function(activation)``: any catalog entry as a Keras function with relukit's gradient.

The function runs the catalog's math (floor 1) on the ``keras.ops`` namespace of ``_ops`` inside
``keras.ops.custom_gradient``, whose gradient is the catalog's derivative (and, for a weight
such as PReLU's slopes, its ``weight_derivative`` summed to the weight's shape). So the kink
rule, NaN propagation and the special values hold on the jax, tensorflow and torch backends
alike (Keras' own ``leaky_relu'(0)`` is 1 on jax and the slope on torch/tf; its PReLU gives
``f'(0) = 0``). Functions take and return backend tensors (anything
``keras.ops.convert_to_tensor`` accepts goes in), accept symbolic ``keras.KerasTensor`` inputs
(they become a registered ``keras.Operation``), and are registered serializable, so
``Dense(64, activation=relukit.keras.gelu)`` saves and loads without ``custom_objects``.

dtypes: float16 and bfloat16 are computed in float32 and rounded once (also under a
``mixed_float16`` / ``mixed_bfloat16`` policy, where a layer hands us half tensors); float32 in
float32, float64 in float64. Integer and bool inputs: entries that keep integers (ReLU) keep
their dtype, as ``keras.ops.relu`` does; the others compute in ``keras.config.floatx()``, as
``keras.ops.exp`` promotes integers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from .._catalog import Activation, Namespace, _docs, get
from . import _ops

__all__ = ["compute_dtype", "function", "result_dtype"]

NS: Namespace = _ops  # the module is the namespace (a structural ``Namespace``)

_HALF = ("float16", "bfloat16")


def _standard(dtype: Any) -> str:
    return keras.backend.standardize_dtype(dtype)


def is_float(dtype: Any) -> bool:
    """A floating dtype (float16/32/64, bfloat16)."""
    return _standard(dtype).startswith(("float", "bfloat"))


def compute_dtype(dtype: Any) -> str:
    """The dtype relukit.keras computes in for a floating input of ``dtype``.

    float16 and bfloat16 compute in float32 (rounded once at the end); float32 and float64 in
    themselves.
    """
    dtype = _standard(dtype)
    return "float32" if dtype in _HALF else dtype


def result_dtype(activation: Activation, dtype: Any) -> str:
    """Floating dtypes are preserved; integer/bool give ``floatx`` (``relu``: kept as is)."""
    dtype = _standard(dtype)
    if is_float(dtype) or activation.keeps_integers:
        return dtype
    return keras.config.floatx()


def _cast(x: Any, dtype: str) -> Any:
    return x if _standard(x.dtype) == dtype else ops.cast(x, dtype)


def _round_params(params: dict[str, Any], dtype: str) -> dict[str, Any]:
    """Real parameters rounded to the compute dtype (as PyTorch and JAX round them), kept as
    Python floats so the catalog's ``if negative_slope == 0`` stays a Python test."""
    t = np.dtype(dtype).type
    return {k: float(t(v)) if isinstance(v, float) else v for k, v in params.items()}


def _input_grad(activation: Activation, g: Any, x: Any, params: dict[str, Any]) -> Any:
    """``g·f'(x)`` in the compute dtype; for the piecewise-linear entries one select."""
    if activation.nonpositive_slope is not None:
        # grad·f' is g for x > 0, slope·g for x ≤ 0 (the kink rule), NaN for NaN x. A zero
        # slope passes 0 back, never 0·inf = NaN for an infinite upstream gradient.
        slope = activation.nonpositive_slope(**params)
        return NS.select_positive(x, g, NS.scale(slope, g))
    return g * activation.derivative(NS, x, **params)


def _sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` (x's shape) down to a ``shape`` that broadcasts against it (a weight's)."""
    lead = len(g.shape) - len(shape)
    if lead > 0:
        g = ops.sum(g, axis=tuple(range(lead)))
    ones = tuple(i for i, d in enumerate(shape) if d == 1)
    if ones:
        g = ops.sum(g, axis=ones, keepdims=True)
    return ops.reshape(g, shape)


def apply(activation: Activation, x: Any, params: dict[str, Any], weights: dict[str, Any]) -> Any:
    """f(x) on backend tensors with relukit's gradient, for x and for each weight.

    ``params`` are checked values; ``weights`` are tensors that broadcast against x.
    """
    dtype = _standard(x.dtype)
    if not is_float(dtype):
        if activation.keeps_integers and not weights:
            # ReLU: exact in the integer dtype, nothing to differentiate.
            return _cast(activation.forward(NS, x, **params), dtype)
        x = ops.cast(x, keras.config.floatx())
        dtype = _standard(x.dtype)
    cdtype = compute_dtype(dtype)
    p = _round_params(params, cdtype)
    names = list(weights)
    ws = [w if is_float(w.dtype) else ops.cast(w, dtype) for w in weights.values()]
    wdtypes = [_standard(w.dtype) for w in ws]
    wshapes = [tuple(w.shape) for w in ws]

    @ops.custom_gradient
    def f(x, *ws):
        xc = _cast(x, cdtype)
        # Weights are rounded to the compute dtype, as PyTorch rounds them to the input's.
        full = {**p, **{n: _cast(w, cdtype) for n, w in zip(names, ws, strict=True)}}
        y = activation.forward(NS, xc, **full)

        def grad(*args, upstream=None):
            # torch calls grad(*saved_inputs, upstream=g); jax and tensorflow call grad(g).
            if upstream is None:
                (upstream,) = args
            g = _cast(upstream, cdtype)
            gx = _cast(_input_grad(activation, g, xc, full), dtype)
            if not ws:
                return gx
            # ∂L/∂a = Σ g·∂f/∂a over the axes the weight is broadcast along.
            gw = _sum_to(g * activation.weight_derivative(NS, xc), wshapes[0])
            return gx, _cast(gw, wdtypes[0])

        return _cast(y, dtype), grad

    return f(x, *ws)


def shape_weight(weight: Any, x: Any, axis: int, name: str) -> Any:
    """A scalar or 1-D weight reshaped to broadcast along ``axis`` of x (differentiably);
    a weight of higher rank is taken as already broadcastable (Keras' stored layout)."""
    if len(weight.shape) > 1 or len(weight.shape) >= len(x.shape):
        return weight
    size = int(np.prod(weight.shape))
    if size == 1:
        return ops.reshape(weight, ())
    if not -len(x.shape) <= axis < len(x.shape):
        raise ValueError(
            f"axis {axis} is out of range for x with {len(x.shape)} dimensions; a {name} of "
            f"{size} values needs a channel axis"
        )
    channels = x.shape[axis]
    if size != channels:
        raise ValueError(
            f"{name} has {size} slopes but x has {channels} channels along axis {axis}; "
            f"{name} must have size 1 or {channels}"
        )
    shape = [1] * len(x.shape)
    shape[axis] = channels
    return ops.reshape(weight, shape)


def _weight_tensor(weight: Any, x: Any) -> Any:
    """A weight as a tensor: a Python number or list rounded once, to x's compute dtype (floatx
    for integer x); a variable read into a tensor (tf.custom_gradient refuses captured ones)."""
    if hasattr(weight, "assign"):  # a keras.Variable or a backend variable
        return ops.copy(weight)
    if not hasattr(weight, "dtype"):
        xdtype = _standard(x.dtype)
        return ops.convert_to_tensor(weight, compute_dtype(xdtype) if is_float(xdtype) else None)
    return ops.convert_to_tensor(weight)


@keras.saving.register_keras_serializable(package="relukit", name="ActivationOp")
class _SymbolicActivation(keras.Operation):
    """The Keras ``Operation`` a function becomes on symbolic inputs (functional models).

    Registered, so a functional model that calls ``relukit.keras.gelu(t)`` on a symbolic tensor
    saves and loads; a weight (PReLU's) is then an input of the graph, not a trained variable
    (use the layer to learn it).
    """

    def __init__(self, activation: str, params: dict[str, Any], axis: int = -1, name=None):
        super().__init__(name=name)
        self.activation = activation
        self.params = params
        self.axis = axis

    def _activation(self) -> Activation:
        return get(self.activation)

    def call(self, x, *weights):
        fn = function(self._activation())
        if weights:
            return fn(x, *weights, axis=self.axis, **self.params)
        return fn(x, **self.params)

    def compute_output_spec(self, x, *weights):
        return keras.KerasTensor(x.shape, dtype=result_dtype(self._activation(), x.dtype))

    def get_config(self):
        return {
            "activation": self.activation,
            "params": self.params,
            "axis": self.axis,
            "name": self.name,
        }


_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def function(activation: Activation | str) -> Callable[..., Any]:
    """The Keras function of a catalog entry (``relukit.keras.<name>`` is ``function(name)``).

    Signature ``(x, <catalog parameters with defaults>)``; an entry with a weight (PReLU) takes
    it after x and the keyword-only ``axis=-1`` (channels-last) for a 1-D weight. Parameters
    are checked by the catalog (``TypeError``/``ValueError`` naming them). Registered
    serializable as ``relukit>{name}``; the docstring is rendered from the catalog.
    """
    activation = get(activation)
    if activation.name not in _FUNCTIONS:
        _FUNCTIONS[activation.name] = _make(activation)
    return _FUNCTIONS[activation.name]


def _make(activation: Activation) -> Callable[..., Any]:
    name = activation.name
    weights = [p.name for p in activation.params if p.kind == "weight"]
    if len(weights) > 1:  # the catalog's weight_derivative is one array
        raise NotImplementedError(f"{name}: more than one weight parameter")

    def fn(x, *args, **kwargs):
        axis = kwargs.pop("axis", -1) if weights else -1
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int, got {axis!r}")
        bound = activation.bind(args, kwargs)
        values = {k: v for k, v in bound.items() if k not in weights}
        given = [bound[w] for w in weights]
        if isinstance(x, keras.KerasTensor) or any(isinstance(w, keras.KerasTensor) for w in given):
            return _SymbolicActivation(name, values, axis=int(axis))(x, *given)
        x = ops.convert_to_tensor(x)
        shaped = {
            w: shape_weight(_weight_tensor(v, x), x, int(axis), w)
            for w, v in zip(weights, given, strict=True)
        }
        return apply(activation, x, values, shaped)

    fn.__signature__ = _signature(activation, bool(weights))  # type: ignore[attr-defined]
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "relukit.keras"
    fn.__doc__ = _render_doc(activation, bool(weights))
    return keras.saving.register_keras_serializable(package="relukit", name=name)(fn)


def _signature(activation: Activation, has_weight: bool) -> inspect.Signature:
    P = inspect.Parameter
    params = [P("x", P.POSITIONAL_OR_KEYWORD)]
    params += [
        P(p.name, P.POSITIONAL_OR_KEYWORD, default=P.empty if p.kind == "weight" else p.default)
        for p in activation.params
    ]
    if has_weight:
        params.append(P("axis", P.KEYWORD_ONLY, default=-1))
    return inspect.Signature(params)


_WEIGHT_DOC = (
    "A scalar, a 1-D tensor of one value per channel along ``axis``, or a tensor that "
    "broadcasts against x as it is (the layout the layer and ``keras.layers.PReLU`` store, "
    "e.g. ``(1, 1, C)`` for ``(N, H, W, C)`` inputs)."
)


def _render_doc(activation: Activation, has_weight: bool) -> str:
    name = activation.name
    integers = (
        "integer and bool inputs keep their dtype"
        if activation.keeps_integers
        else "integers and bools compute in ``keras.config.floatx()``"
    )
    args = [("x", f"a tensor (or array-like) of real numbers; {integers}.")]
    args += [(p.name, _docs.param_doc(p, weight=_WEIGHT_DOC)) for p in activation.params]
    if has_weight:
        args.append(
            (
                "axis",
                "the channel axis of x for a 1-D weight. Default: ``-1`` (channels-last, "
                "Keras' layout; the NumPy and PyTorch backends default to 1).",
            )
        )
    gradient = "relukit's on every Keras backend: the catalog's derivative, kink rule included"
    if has_weight:
        gradient += ", and the weight's gradient summed to its shape"
    return _docs.render(
        activation,
        args=args,
        returns=(
            f"f(x) as a backend tensor in x's floating dtype ({integers}); float16 and bfloat16 "
            f"are computed in float32 and rounded once. Gradient: {gradient}. On a symbolic "
            "``keras.KerasTensor`` the call is a serializable Keras operation."
        ),
        sections=[("Shape", "Any; the result has x's shape.")],
        example=_docs.example_lines(
            activation,
            setup=[
                "import numpy as np, keras, relukit.keras",
                f"x = keras.ops.convert_to_tensor({_docs.example_input(activation)})",
            ],
            call=lambda args: f"relukit.keras.{name}({args})",
            value=lambda expr: f"np.asarray({expr}).tolist()",
            derivative=None,
        ),
    )
