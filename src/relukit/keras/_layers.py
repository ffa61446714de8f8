"""Keras layers for relukit's activations; each layer's ``call`` is its function in ``_functions``.

All are registered with ``keras.saving.register_keras_serializable(package="relukit")``, so a model
saved with ``model.save("m.keras")`` loads with ``keras.models.load_model`` and no
``custom_objects``.
"""

from __future__ import annotations

import inspect
import numbers
import warnings
from typing import Any, Literal

import keras
from keras import constraints, initializers, ops, regularizers

from .._catalog import get
from . import _functions

__all__ = ["ELU", "GELU", "LeakyReLU", "PReLU", "ReLU"]

# He et al. (2015) start every slope at 0.25, as PyTorch's nn.PReLU(init=0.25) does (the catalog's
# initial value for PReLU's weight).
_PRELU_INIT = get("prelu").param("weight").initial

_register = keras.saving.register_keras_serializable(package="relukit")


def _checked(activation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The catalog's checks; layers raise ``ValueError`` for any bad parameter, as Keras' do."""
    try:
        return get(activation).check_params(**params)
    except TypeError as err:
        raise ValueError(str(err)) from None


class _ActivationLayer(keras.layers.Layer):
    """A stateless layer applying one catalog activation with fixed parameters."""

    _activation: str = ""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def _params(self) -> dict[str, Any]:
        return {p.name: getattr(self, p.name) for p in get(self._activation).params}

    def call(self, inputs):
        x = inputs
        if not get(self._activation).keeps_integers and not _functions._is_float(
            keras.backend.standardize_dtype(x.dtype)
        ):
            # Keras layers leave integer inputs alone and their ops then fail or truncate
            # (keras#23607); we compute them in the layer's compute dtype, as floats would be.
            x = ops.cast(x, self.compute_dtype)
        return getattr(_functions, self._activation)(x, **self._params())

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._params())
        return config


def _doc(activation: str, doc: str) -> str:
    return get(activation).docstring_core() + "\n\n" + inspect.cleandoc(doc)


@_register
class ReLU(_ActivationLayer):
    _activation = "relu"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)


ReLU.__doc__ = _doc(
    "relu",
    """
    Differs from ``keras.layers.ReLU`` in having no ``max_value``/``negative_slope``/``threshold``
    (use ``LeakyReLU`` for a slope) and in relu'(NaN) = NaN on every backend.

    Args:
        **kwargs: base layer keyword arguments (``name``, ``dtype``...).

    Shape:
        Any; the output has the input's shape. Integer inputs keep their dtype.

    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> np.asarray(relukit.keras.ReLU()(np.array([-1.0, 0.0, 2.0])))
        array([0., 0., 2.], dtype=float32)
    """,
)


@_register
class LeakyReLU(_ActivationLayer):
    _activation = "leaky_relu"

    def __init__(
        self, negative_slope: float = get("leaky_relu").defaults["negative_slope"], **kwargs
    ):
        if "alpha" in kwargs:
            # Keras 3 renamed LeakyReLU's alpha to negative_slope and still accepts it with a
            # warning; so do we (the seed's example spells alpha=0.01).
            negative_slope = kwargs.pop("alpha")
            warnings.warn(
                "Argument `alpha` is deprecated. Use `negative_slope` instead.",
                UserWarning,
                stacklevel=2,
            )
        params = _checked("leaky_relu", {"negative_slope": negative_slope})
        super().__init__(**kwargs)
        self.negative_slope = params["negative_slope"]


LeakyReLU.__doc__ = _doc(
    "leaky_relu",
    """
    Differs from ``keras.layers.LeakyReLU``: the default slope is 0.01 (Keras: 0.3), any finite
    slope is accepted (Keras refuses negative ones), f'(0) = negative_slope on every backend
    (Keras' is 1 on jax), and slopes > 1 are exact. ``alpha=`` is accepted as Keras' deprecated
    spelling of ``negative_slope``, with the same ``UserWarning``.

    Args:
        negative_slope: the slope for x ≤ 0; any finite real. Default: 0.01.
        **kwargs: base layer keyword arguments (``name``, ``dtype``...).

    Raises:
        ValueError: negative_slope is not a finite real number (named).

    Shape:
        Any; the output has the input's shape.

    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> layer = relukit.keras.LeakyReLU(negative_slope=0.1)
        >>> np.asarray(layer(np.array([-2.0, 0.0, 3.0])))
        array([-0.2,  0. ,  3. ], dtype=float32)
    """,
)


@_register
class ELU(_ActivationLayer):
    _activation = "elu"

    def __init__(self, alpha: float = get("elu").defaults["alpha"], **kwargs: Any):
        params = _checked("elu", {"alpha": alpha})
        super().__init__(**kwargs)
        self.alpha = params["alpha"]


ELU.__doc__ = _doc(
    "elu",
    """
    Same default as ``keras.layers.ELU``; differs in computing alpha·expm1(x) (exact near 0) and
    in accepting any finite alpha, negative too.

    Args:
        alpha: f approaches −alpha as x → −inf; any finite real. Default: 1.0.
        **kwargs: base layer keyword arguments (``name``, ``dtype``...).

    Raises:
        ValueError: alpha is not a finite real number (named).

    Shape:
        Any; the output has the input's shape.

    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> np.asarray(relukit.keras.ELU(alpha=2.0)(np.array([-np.inf, 1.0])))
        array([-2.,  1.], dtype=float32)
    """,
)


@_register
class GELU(_ActivationLayer):
    _activation = "gelu"

    def __init__(
        self,
        approximate: Literal["none", "tanh"] = get("gelu").defaults["approximate"],
        **kwargs: Any,
    ):
        params = _checked("gelu", {"approximate": approximate})
        super().__init__(**kwargs)
        self.approximate = params["approximate"]


GELU.__doc__ = _doc(
    "gelu",
    """
    Keras has no GELU layer (``keras.layers.Activation("gelu")`` is exact; ``keras.ops.gelu``
    defaults to the tanh form and spells it ``approximate=True``). Here the default is exact,
    gelu(−inf) = 0 rather than NaN, and the left tail keeps its relative precision.

    Args:
        approximate: ``"none"`` (x·Φ(x)) or ``"tanh"``. Default: ``"none"``.
        **kwargs: base layer keyword arguments (``name``, ``dtype``...).

    Raises:
        ValueError: approximate is not ``"none"`` or ``"tanh"`` (named).

    Shape:
        Any; the output has the input's shape.

    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> np.asarray(relukit.keras.GELU()(np.array([0.0, 1.0])))
        array([0.       , 0.8413447], dtype=float32)
    """,
)


def _check_axis(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value == 0:
        raise ValueError(f"{name} cannot be 0, the batch axis")
    return int(value)


@_register
class PReLU(keras.layers.Layer):
    def __init__(
        self,
        alpha_initializer: Any = None,
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: int | list[int] | tuple[int, ...] | None = None,
        channel_axis: int | None = -1,
        **kwargs: Any,
    ):
        if alpha_initializer is None:
            alpha_initializer = initializers.Constant(_PRELU_INIT)
        try:
            self_initializer = initializers.get(alpha_initializer)
            self_regularizer = regularizers.get(alpha_regularizer)
            self_constraint = constraints.get(alpha_constraint)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"PReLU: invalid alpha_initializer/regularizer/constraint: {err}"
            ) from None
        if shared_axes is not None:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            shared_axes = [_check_axis(a, "shared_axes") for a in axes]
        if channel_axis is not None:
            channel_axis = _check_axis(channel_axis, "channel_axis")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = self_initializer
        self.alpha_regularizer = self_regularizer
        self.alpha_constraint = self_constraint
        self.shared_axes = shared_axes
        self.channel_axis = channel_axis

    def _param_shape(self, input_shape) -> list[int]:
        rank = len(input_shape)
        if rank < 2 and (self.shared_axes is not None or self.channel_axis is not None):
            raise ValueError(
                f"PReLU needs inputs of shape (batch, ..., channels); got shape {input_shape}. "
                "Use channel_axis=None for one slope."
            )

        def positive(axis: int, name: str) -> int:
            a = axis + rank if axis < 0 else axis
            if not 1 <= a < rank:
                raise ValueError(
                    f"{name}={axis} is out of range for inputs of shape {tuple(input_shape)}"
                )
            return a

        if self.shared_axes is None:
            channel = None
            if self.channel_axis is not None:
                channel = positive(self.channel_axis, "channel_axis")
            shared = {i for i in range(1, rank) if i != channel}
        else:  # Keras' rule: one slope per element of the axes not shared
            shared = {positive(a, "shared_axes") for a in self.shared_axes}
        shape = [1 if i in shared else input_shape[i] for i in range(1, rank)]
        if None in shape:
            raise ValueError(
                f"PReLU needs the size of every axis that has its own slopes; got shape "
                f"{tuple(input_shape)} (unknown sizes on axes not shared)"
            )
        return shape

    def build(self, input_shape):
        shape = self._param_shape(input_shape)
        # autocast=False: under mixed precision the slopes stay float32 and the function rounds
        # the product once (x is computed in float32 too), instead of rounding the slope to float16.
        self.alpha = self.add_weight(
            shape=shape,
            name="alpha",
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
            autocast=False,
        )
        axes = {i + 1: d for i, d in enumerate(shape) if d != 1}
        self.input_spec = keras.layers.InputSpec(ndim=len(input_shape), axes=axes)

    def call(self, inputs):
        x = inputs
        if not _functions._is_float(keras.backend.standardize_dtype(x.dtype)):
            x = ops.cast(x, self.compute_dtype)
        return _functions._apply_prelu(x, ops.convert_to_tensor(self.alpha))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes,
                "channel_axis": self.channel_axis,
            }
        )
        return config


PReLU.__doc__ = _doc(
    "prelu",
    """
    Differs from ``keras.layers.PReLU`` in its defaults: one slope per channel on the last axis
    (``channel_axis=-1``, channels-last), initialised at 0.25 as in He et al. (2015) and PyTorch,
    where Keras starts every slope at 0 (a ReLU) with one slope per element of the input. Passing
    ``shared_axes`` gives Keras' layout (one slope per element of the axes not shared; e.g.
    ``shared_axes=[1, 2]`` for ``(N, H, W, C)`` is the default here), and the weight is stored
    in Keras' shape, so ``set_weights`` works across the two. Gradients follow the kink rule:
    ∂f/∂x = a at x = 0 (Keras: 0) and ∂f/∂a = min(x, 0); any real slope is allowed.

    Args:
        alpha_initializer: initializer of the slopes. Default: ``Constant(0.25)``.
        alpha_regularizer: regularizer of the slopes. Default: ``None``.
        alpha_constraint: constraint on the slopes. Default: ``None``.
        shared_axes: axes (≥ 1, or negative from the end) along which slopes are shared, as in
            Keras; when given, every other non-batch axis has its own slopes and
            ``channel_axis`` is not used. Default: ``None``.
        channel_axis: when ``shared_axes`` is ``None``, the axis with one slope per entry
            (1 for channels-first data); ``None`` for a single slope. Default: -1.
        **kwargs: base layer keyword arguments (``name``, ``dtype``...).

    Raises:
        ValueError: an invalid axis, initializer, regularizer or constraint (named), or, at
            build, a channel axis of unknown size.

    Shape:
        Input ``(N, *, C)``; output the same. Weight ``alpha``: ``(1, ..., 1, C)``.

    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> layer = relukit.keras.PReLU()
        >>> y = layer(np.array([[-2.0, 4.0, -1.0]]))
        >>> np.asarray(keras.ops.stop_gradient(y))
        array([[-0.5 ,  4.  , -0.25]], dtype=float32)
        >>> tuple(layer.alpha.shape)
        (3,)
    """,
)
