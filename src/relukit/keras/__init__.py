"""relukit for Keras 3: activations and layers that keep relukit's contract on every backend.

The functions (``relu``, ``leaky_relu``, ``prelu``, ``elu``, ``gelu``) run the catalog's math on
``keras.ops`` with gradients defined by relukit (``keras.ops.custom_gradient``), so the kink rule
(the derivative takes the ``x ≤ 0`` branch at a kink), NaN propagation and the special values hold
on the jax, tensorflow and torch backends alike. ``relu``, ``leaky_relu``, ``elu`` and ``gelu`` can
be passed as ``activation=`` to any Keras layer. The layers (``ReLU``, ``LeakyReLU``, ``PReLU``,
``ELU``, ``GELU``) call those functions, save and load with ``model.save("m.keras")`` /
``keras.models.load_model`` without ``custom_objects``, and run under mixed precision.

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
"""

from __future__ import annotations

try:
    import keras
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

if int(keras.__version__.split(".")[0]) < 3:
    raise ImportError(
        f'relukit.keras needs Keras 3; found {keras.__version__}: pip install "relukit[keras]"'
    )

from ._functions import compute_dtype, elu, gelu, leaky_relu, prelu, relu, result_dtype
from ._layers import ELU, GELU, LeakyReLU, PReLU, ReLU

__all__ = [
    "ELU",
    "GELU",
    "LeakyReLU",
    "PReLU",
    "ReLU",
    "compute_dtype",
    "elu",
    "gelu",
    "leaky_relu",
    "prelu",
    "relu",
    "result_dtype",
]
