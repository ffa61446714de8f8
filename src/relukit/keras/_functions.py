"""relukit's activations as Keras functions whose gradients relukit defines.

Each function runs the catalog's math (floor 1) on the ``keras.ops`` namespace of ``_ops`` and
wraps it in ``keras.ops.custom_gradient``, so the kink rule, NaN propagation and the special values
hold on every Keras backend (Keras' own ``leaky_relu'(0)`` is 1 on jax and the slope on torch/tf;
its PReLU gives ``f'(0) = 0``). The functions take and return backend tensors (anything
``keras.ops.convert_to_tensor`` accepts goes in), accept symbolic ``keras.KerasTensor`` inputs, and
``relu``, ``leaky_relu``, ``elu`` and ``gelu`` are registered serializable, so
``Dense(64, activation=relukit.keras.gelu)`` saves and loads without ``custom_objects``.

dtypes: float16 and bfloat16 are computed in float32 and rounded once (also under a
``mixed_float16`` / ``mixed_bfloat16`` policy, where a layer hands us float16 tensors); float32 in
float32, float64 in float64. Integer and bool inputs: ``relu`` keeps their dtype (as
``keras.ops.relu`` does); the others compute in ``keras.config.floatx()`` (float32), as
``keras.ops.exp`` promotes integers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from .._catalog import Activation, get
from . import _ops as ns

__all__ = ["elu", "gelu", "leaky_relu", "prelu", "relu"]

_HALF = ("float16", "bfloat16")


def _standard(dtype) -> str:
    return keras.backend.standardize_dtype(dtype)


def _is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def compute_dtype(dtype) -> str:
    """The dtype relukit.keras computes in for a floating input of ``dtype``.

    float16 and bfloat16 compute in float32 (rounded once at the end); float32 and float64 in
    themselves.
    """
    dtype = _standard(dtype)
    return "float32" if dtype in _HALF else dtype


def result_dtype(activation: Activation, dtype) -> str:
    """Floating dtypes are preserved; integer/bool give ``floatx`` (``relu``: kept as is)."""
    dtype = _standard(dtype)
    if _is_float(dtype) or activation.keeps_integers:
        return dtype
    return keras.config.floatx()


def _cast(x, dtype: str):
    return x if _standard(x.dtype) == dtype else ops.cast(x, dtype)


def _round_params(params: dict[str, Any], dtype: str) -> dict[str, Any]:
    """Real parameters rounded to the compute dtype (as PyTorch and JAX round them), kept as
    Python floats so the catalog's ``if negative_slope == 0`` stays a Python test."""
    t = np.dtype(dtype).type
    return {k: float(t(v)) if isinstance(v, float) else v for k, v in params.items()}


def _input_grad(activation: Activation, g, x, params: dict[str, Any]):
    """``g·f'(x)`` in the compute dtype; for the piecewise-linear entries one select."""
    if activation.nonpositive_slope is not None:
        # grad·f' is g for x > 0, slope·g for x ≤ 0 (the kink rule), NaN for NaN x. A zero
        # slope gives an exact 0, never 0·inf = NaN for an infinite upstream gradient.
        slope = activation.nonpositive_slope(**params)
        if not isinstance(slope, float) or slope != 0:
            return ns.select_positive(x, g, slope * g)
        return ns.select_positive(x, g, 0.0)
    return g * activation.derivative(ns, x, **params)


def _sum_to(g, shape: tuple[int, ...]):
    """Sum ``g`` (x's shape) down to a ``shape`` that broadcasts against it (PReLU's weight)."""
    lead = g.ndim - len(shape)
    if lead > 0:
        g = ops.sum(g, axis=tuple(range(lead)))
    ones = tuple(i for i, d in enumerate(shape) if d == 1)
    if ones:
        g = ops.sum(g, axis=ones, keepdims=True)
    return ops.reshape(g, shape)


def _apply(activation: Activation, x, params: dict[str, Any]):
    """f(x) on backend tensors, with relukit's gradient."""
    dtype = _standard(x.dtype)
    if not _is_float(dtype):
        if activation.keeps_integers:  # ReLU: exact in the integer dtype, nothing to differentiate
            return _cast(activation.forward(ns, x), dtype)
        x = ops.cast(x, keras.config.floatx())
        dtype = _standard(x.dtype)
    cdtype = compute_dtype(dtype)
    p = _round_params(params, cdtype)

    @ops.custom_gradient
    def f(x):
        xc = _cast(x, cdtype)
        y = activation.forward(ns, xc, **p)

        def grad(*args, upstream=None):
            # torch calls grad(*saved_inputs, upstream=g); jax and tensorflow call grad(g).
            if upstream is None:
                (upstream,) = args
            g = _cast(upstream, cdtype)
            return _cast(_input_grad(activation, g, xc, p), dtype)

        return _cast(y, dtype), grad

    return f(x)


def _apply_prelu(x, weight):
    """PReLU on backend tensors; ``weight`` broadcasts against x. Gradients for both."""
    activation = get("prelu")
    dtype = _standard(x.dtype)
    if not _is_float(dtype):
        x = ops.cast(x, keras.config.floatx())
        dtype = _standard(x.dtype)
    wdtype = _standard(weight.dtype)
    if not _is_float(wdtype):
        weight = ops.cast(weight, dtype)
        wdtype = dtype
    cdtype = compute_dtype(dtype)
    wshape = tuple(weight.shape)

    @ops.custom_gradient
    def f(x, w):
        xc = _cast(x, cdtype)
        # The weight is rounded to the compute dtype, as PyTorch rounds it to the input's.
        wc = _cast(w, cdtype)
        y = activation.forward(ns, xc, wc)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            g = _cast(upstream, cdtype)
            gx = _input_grad(activation, g, xc, {"weight": wc})
            # ∂f/∂a = min(x, 0) (0 at the kink, NaN for NaN), summed to the weight's shape.
            gw = _sum_to(g * activation.weight_derivative(ns, xc), wshape)
            return _cast(gx, dtype), _cast(gw, wdtype)

        return _cast(y, dtype), grad

    return f(x, weight)


@keras.saving.register_keras_serializable(package="relukit", name="ActivationOp")
class _SymbolicActivation(keras.Operation):
    """The Keras ``Operation`` a function becomes on symbolic inputs (functional models).

    Registered, so a functional model that calls ``relukit.keras.gelu(t)`` on a symbolic tensor
    saves and loads; PReLU's weight is then a constant of the graph, not a trained variable
    (use the ``PReLU`` layer to learn it).
    """

    def __init__(self, activation: str, params: dict[str, Any], axis: int = -1, name=None):
        super().__init__(name=name)
        self.activation = activation
        self.params = params
        self.axis = axis

    def call(self, x, *weight):
        fn = _FUNCTIONS[self.activation]
        if weight:
            return fn(x, *weight, axis=self.axis)
        return fn(x, **self.params)

    def compute_output_spec(self, x, *weight):
        dtype = result_dtype(get(self.activation), x.dtype)
        return keras.KerasTensor(x.shape, dtype=dtype)

    def get_config(self):
        return {
            "activation": self.activation,
            "params": self.params,
            "axis": self.axis,
            "name": self.name,
        }


_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def _make(name: str, doc: str) -> Callable[..., Any]:
    """The Keras function for catalog entry ``name``: parameters, defaults and checks from it."""
    activation = get(name)
    names = [p.name for p in activation.params]

    def fn(x, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(
                f"{name} takes at most {len(names) + 1} positional arguments "
                f"({len(args) + 1} given)"
            )
        params = dict(zip(names, args, strict=False))
        for key in kwargs:
            if key in params:
                raise TypeError(f"{name} got multiple values for {key!r}")
        params.update(kwargs)
        params = activation.check_params(**params)
        if isinstance(x, keras.KerasTensor):
            return _SymbolicActivation(name, params)(x)
        return _apply(activation, ops.convert_to_tensor(x), params)

    P = inspect.Parameter
    fn.__signature__ = inspect.Signature(
        [P("x", P.POSITIONAL_OR_KEYWORD)]
        + [P(p.name, P.POSITIONAL_OR_KEYWORD, default=p.default) for p in activation.params]
    )
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "relukit.keras"
    fn.__doc__ = activation.docstring_core() + "\n\n" + inspect.cleandoc(doc)
    _FUNCTIONS[name] = fn
    return keras.saving.register_keras_serializable(package="relukit", name=name)(fn)


_SHAPE = """
    Shape:
        Any; the result has x's shape.
"""

relu = _make(
    "relu",
    """
    Args:
        x: a tensor (or array-like) of real numbers.

    Returns:
        max(0, x) in x's dtype: integer and bool inputs stay integer and bool.
    """
    + _SHAPE
    + """
    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> y = relukit.keras.relu(np.array([-2.0, 0.0, 3.0]))
        >>> np.asarray(y)
        array([0., 0., 3.])
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation=relukit.keras.relu)])
    """,  # noqa: E501
)

leaky_relu = _make(
    "leaky_relu",
    """
    Args:
        x: a tensor (or array-like) of real numbers; integers and bools compute in floatx.
        negative_slope: the slope for x ≤ 0, any finite real (also > 1 or < 0). Default: 0.01
            (``keras.ops.leaky_relu``: 0.2; ``keras.layers.LeakyReLU``: 0.3).

    Returns:
        x where x > 0, negative_slope·x elsewhere. Gradient: 1 for x > 0, negative_slope for
        x ≤ 0 (Keras' own gives 1 at x = 0 on the jax backend).
    """
    + _SHAPE
    + """
    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> y = relukit.keras.leaky_relu(np.array([-2.0, 0.0, 3.0]), negative_slope=0.1)
        >>> np.asarray(y)
        array([-0.2,  0. ,  3. ])
    """,
)

elu = _make(
    "elu",
    """
    Args:
        x: a tensor (or array-like) of real numbers; integers and bools compute in floatx.
        alpha: f approaches −alpha as x → −inf; any finite real. Default: 1.0.

    Returns:
        x where x > 0, alpha·expm1(x) elsewhere (expm1: exact near 0, unlike exp(x) − 1).
        Gradient: 1 for x > 0, alpha·exp(x) for x ≤ 0, so alpha at 0.
    """
    + _SHAPE
    + """
    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> y = relukit.keras.elu(np.array([-np.inf, 0.0, 2.0]), alpha=2.0)
        >>> np.asarray(y)
        array([-2.,  0.,  2.])
    """,
)

gelu = _make(
    "gelu",
    """
    Args:
        x: a tensor (or array-like) of real numbers; integers and bools compute in floatx.
        approximate: ``"none"`` (exact, x·Φ(x)) or ``"tanh"``. Default: ``"none"``
            (``keras.ops.gelu`` defaults to the tanh form and spells it ``approximate=True``).

    Returns:
        GELU of x, with gelu(−inf) = 0 and gelu(+inf) = +inf (Keras' own give NaN at −inf).
        float32 is computed in float32 with an erfc-based Φ: within 3 ulp of the mathematical
        value for the value and 4 ulp for the derivative (measured; see ``_ops``), where
        0.5·x·(1 + erf(x/√2)) returns 0 below x ≈ −5.7.
    """
    + _SHAPE
    + """
    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> y = relukit.keras.gelu(np.array([-np.inf, -10.0, 0.0, 1.0]))
        >>> np.asarray(y)
        array([-0.00000000e+00, -7.61985302e-23,  0.00000000e+00,  8.41344746e-01])
    """,
)


def prelu(x, weight, *, axis: int = -1):
    """PReLU with relukit's gradients for the input and the slopes.

    Args:
        x: a tensor (or array-like) of real numbers; integers and bools compute in floatx.
        weight: the slopes: one value, a 1-D tensor of one slope per channel along ``axis``, or
            a tensor that broadcasts against x as it is (the layout ``relukit.keras.PReLU``
            and ``keras.layers.PReLU`` store, e.g. ``(1, 1, C)`` for ``(N, H, W, C)`` inputs).
        axis: the channel axis for a 1-D weight. Default: -1 (channels-last, Keras' layout;
            the NumPy and PyTorch backends default to 1).

    Returns:
        x where x > 0, weight·x elsewhere. Gradients: ∂f/∂x = 1 for x > 0, else the slope (at
        x = 0 too); ∂f/∂a = min(x, 0), summed to the weight's shape.

    Shape:
        x: ``(N, *, C)`` with ``axis=-1``; weight: ``()``, ``(1,)``, ``(C,)`` or broadcastable.

    Raises:
        ValueError: a 1-D weight whose size is neither 1 nor the number of channels, or an axis
            out of range (named).

    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> x = np.array([[-2.0, 4.0], [-1.0, -3.0]])
        >>> np.asarray(relukit.keras.prelu(x, np.array([0.25, 0.5])))
        array([[-0.5 ,  4.  ],
               [-0.25, -1.5 ]])
    """
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {axis!r}")
    if isinstance(x, keras.KerasTensor) or isinstance(weight, keras.KerasTensor):
        return _SymbolicActivation("prelu", {}, axis=int(axis))(x, weight)
    x = ops.convert_to_tensor(x)
    if not hasattr(weight, "dtype"):
        # A Python number or list is rounded once, to the compute dtype (floatx for integer
        # x): a float64 x gets the slope -0.1 in float64, a float16 x gets it in float32.
        xdtype = _standard(x.dtype)
        weight = ops.convert_to_tensor(weight, compute_dtype(xdtype) if _is_float(xdtype) else None)
    weight = ops.convert_to_tensor(weight)
    if weight.ndim <= 1 and weight.ndim < x.ndim:
        weight = _shape_weight(weight, x, int(axis))
    return _apply_prelu(x, weight)


def _shape_weight(weight, x, axis: int):
    """A scalar or 1-D weight reshaped to broadcast along ``axis`` of x (differentiably)."""
    size = int(np.prod(weight.shape))
    if size == 1:
        return ops.reshape(weight, ())
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"axis {axis} is out of range for x with {x.ndim} dimensions; a weight of {size} "
            "slopes needs a channel axis"
        )
    channels = x.shape[axis]
    if size != channels:
        raise ValueError(
            f"weight has {size} slopes but x has {channels} channels along axis {axis}; "
            f"weight must have size 1 or {channels}"
        )
    shape = [1] * x.ndim
    shape[axis] = channels
    return ops.reshape(weight, shape)


prelu.__doc__ = get("prelu").docstring_core() + "\n\n" + inspect.cleandoc(prelu.__doc__)
_FUNCTIONS["prelu"] = prelu
