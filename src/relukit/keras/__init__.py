"""relukit for Keras 3: activations and layers that keep relukit's contract on every backend.

One function and one layer per catalog entry, generated from the catalog: ``relu``,
``leaky_relu``, ``prelu``, ``elu``, ``gelu``, ``silu``... and ``ReLU``, ``LeakyReLU``, ``PReLU``,
``ELU``, ``GELU``, ``SiLU``.... The functions run the catalog's math on ``keras.ops`` with
gradients defined by relukit (``keras.ops.custom_gradient``), so the kink rule (the derivative
takes the ``x ≤ 0`` branch at a kink), NaN propagation and the special values hold on the jax,
tensorflow and torch backends alike; they can be passed as ``activation=`` to any Keras layer.
The layers call those functions, save and load with ``model.save("m.keras")`` /
``keras.models.load_model`` without ``custom_objects``, and run under mixed precision.

The verbs every backend has: ``function(activation)`` and ``layer(activation)`` build them for
any catalog entry; ``discover(model)`` lists a model's activation units (relukit's layers,
Keras' own activation layers, ``activation=`` arguments) and ``watch(model, callback)``
observes their outputs; ``compute_dtype`` and ``result_dtype`` state the dtype rules.

Defaults are relukit's (PyTorch's) where Keras' differ: ``LeakyReLU(negative_slope=0.01)``
(Keras: 0.3), ``GELU(approximate="none")`` (``keras.ops.gelu``: tanh), ``PReLU`` with one slope per
channel on the last axis starting at 0.25 (Keras: zeros, one per element).

Example:
    >>> import numpy as np, keras, relukit.keras
    >>> model = keras.Sequential([
    ...     keras.Input((10,)),
    ...     keras.layers.Dense(64),
    ...     relukit.keras.LeakyReLU(negative_slope=0.01),
    ...     keras.layers.Dense(1, activation="sigmoid"),
    ... ])
    >>> tuple(model(np.zeros((2, 10))).shape)
    (2, 1)

Every function is also a string activation for Keras' layers, ``"relukit>" + name``
(``keras.layers.Dense(8, activation="relukit>gelu")``), saved and loaded by ``model.save``
/ ``keras.models.load_model``.
"""

try:
    import keras as _keras
except ImportError as err:  # keras missing, or its configured backend is not installed
    if getattr(err, "name", None) == "keras":
        raise ImportError(
            'relukit.keras needs Keras 3: pip install "relukit[keras]" '
            "(and a backend: torch, jax or tensorflow)"
        ) from err
    raise ImportError(
        f"relukit.keras could not import Keras: {err}. Keras imports the backend named by the "
        "KERAS_BACKEND environment variable (or ~/.keras/keras.json); install it or choose an "
        'installed one, e.g. KERAS_BACKEND=torch. Keras itself: pip install "relukit[keras]"'
    ) from err

if int(_keras.__version__.split(".")[0]) < 3:
    raise ImportError(
        f'relukit.keras needs Keras 3; found {_keras.__version__}: pip install "relukit[keras]"'
    )

from .._catalog import CATALOG as _CATALOG
from ._functions import compute_dtype, function, result_dtype
from ._layers import layer
from ._models import Unit, Watch, discover, watch

# One function and one layer per catalog entry (relukit.keras.gelu, relukit.keras.GELU, ...).
globals().update({a.name: function(a) for a in _CATALOG})
globals().update({a.class_name: layer(a) for a in _CATALOG})
# Their __module__ is this module's name, so doctest collects their rendered examples from here
# (no __test__ needed, unlike relukit's NumPy functions, which are instances).


def _register_strings() -> None:
    """``"relukit>gelu"`` as a string activation (``Dense(8, activation="relukit>gelu")``).

    ``keras.activations.get`` looks strings up in Keras' table of its own activations only (not
    in the serializable registry), so each function is added there under its registered name,
    which cannot clash with Keras' names. A Keras without that table keeps working without
    the strings (the functions themselves are still accepted and serializable).
    """
    try:
        from keras.src import activations as _activations

        table = _activations.ALL_OBJECTS_DICT
    except (ImportError, AttributeError):  # pragma: no cover - a Keras that moved it
        return
    for a in _CATALOG:
        table.setdefault(f"relukit>{a.name}", function(a))


_register_strings()


def __getattr__(name: str):
    """``DeadUnitCallback`` (relukit.diagnostics, floor 3), imported on first use: importing
    it eagerly would make this floor-2 adapter import the tools built on it."""
    if name == "DeadUnitCallback":
        from ..diagnostics._keras import DeadUnitCallback

        return DeadUnitCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "DeadUnitCallback"})


__all__ = [  # pyright: ignore[reportUnsupportedDunderAll]
    "DeadUnitCallback",
    "Unit",
    "Watch",
    "compute_dtype",
    "discover",
    "function",
    "layer",
    "result_dtype",
    "watch",
    *(a.name for a in _CATALOG),
    *(a.class_name for a in _CATALOG),
]
