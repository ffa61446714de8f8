"""relukit: the ReLU family of activation functions, exact and fast.

``import relukit`` gives the NumPy API (NumPy and SciPy only); ``relukit.torch`` and
``relukit.keras`` hold the framework backends, imported only when asked for.

>>> import numpy as np, relukit
>>> print(relukit.relu(np.array([-3, -0.5, 0, 1, 2])))
[0.  0.  0.  1.  2.]
>>> [a.name for a in relukit.catalog]
['relu', 'leaky_relu', 'prelu', 'elu', 'gelu']
"""

from __future__ import annotations

from ._catalog import CATALOG as catalog
from ._catalog import Activation, Param, Spelling, get
from ._numpy_api import NumpyActivation, NumpyPReLU

relu = NumpyActivation(
    get("relu"),
    """
    Args:
        x: array-like of real numbers (float, int or bool).
        out: optional array of x's shape and dtype to write into (``out=x`` works in place).

    Returns:
        max(0, x) with x's dtype: integer and bool inputs stay integer and bool.

    Shape:
        Any; the result has x's shape.

    Example:
        >>> import numpy as np, relukit
        >>> relukit.relu(np.array([-3, -0.7, 0, 1.2, 5]))
        array([0. , 0. , 0. , 1.2, 5. ])
        >>> relukit.relu.derivative(np.array([-1.0, 0.0, 2.0]))
        array([0., 0., 1.])
        >>> relukit.relu.backward(np.array([5.0, 5.0, 5.0]), np.array([-1.0, 0.0, 2.0]))
        array([0., 0., 5.])
    """,
)

leaky_relu = NumpyActivation(
    get("leaky_relu"),
    """
    Args:
        x: array-like of real numbers; integers and bools promote to float64.
        negative_slope: the slope for x ≤ 0, any finite real. Default: 0.01 (Keras' layer: 0.3).
        out: optional array of the result's shape and dtype to write into.

    Returns:
        x where x > 0, negative_slope·x elsewhere, in x's floating dtype.

    Shape:
        Any; the result has x's shape.

    Example:
        >>> import numpy as np, relukit
        >>> relukit.leaky_relu(np.array([-3.0, 0.0, 2.0]), 0.1)
        array([-0.3,  0. ,  2. ])
        >>> relukit.leaky_relu.derivative(np.array([-3.0, 0.0, 2.0]), negative_slope=0.1)
        array([0.1, 0.1, 1. ])
        >>> relukit.leaky_relu(np.array([-1.0, 1.0]), negative_slope=2.0)  # slopes > 1 work
        array([-2.,  1.])
    """,
)

prelu = NumpyPReLU(
    get("prelu"),
    """
    Args:
        x: array-like of real numbers; integers and bools promote to float64.
        weight: one slope, or one per channel along ``axis`` (PyTorch initialises them at 0.25).
        axis: the channel axis. Default: 1 (channels-first, as PyTorch); Keras uses -1.
        out: optional array of the result's shape and dtype to write into.

    Returns:
        x where x > 0, weight·x elsewhere. ``prelu.backward`` returns
        ``(grad_input, grad_weight)``, grad_weight summed to the weight's shape.

    Shape:
        x: ``(N, C, *)`` with ``axis=1``; weight: ``()``, ``(1,)`` or ``(C,)``.

    Example:
        >>> import numpy as np, relukit
        >>> x = np.array([[-2.0, 4.0], [-1.0, -3.0]])
        >>> relukit.prelu(x, np.array([0.25, 0.5]))
        array([[-0.5,  4. ],
               [-0.25, -1.5]])
        >>> gx, gw = relukit.prelu.backward(np.ones_like(x), x, np.array([0.25, 0.5]))
        >>> gw
        array([-3., -3.])
    """,
)

elu = NumpyActivation(
    get("elu"),
    """
    Args:
        x: array-like of real numbers; integers and bools promote to float64.
        alpha: the value f approaches as x → −inf is −alpha; any finite real. Default: 1.0.
        out: optional array of the result's shape and dtype to write into.

    Returns:
        x where x > 0, alpha·expm1(x) elsewhere, in x's floating dtype (float32 within
        0.5 ulp: computed in float64 and rounded once).

    Shape:
        Any; the result has x's shape.

    Example:
        >>> import numpy as np, relukit
        >>> relukit.elu(np.array([-np.inf, -1e-7, 0.0, 2.0]))
        array([-1.0000000e+00, -9.9999995e-08,  0.0000000e+00,  2.0000000e+00])
        >>> relukit.elu.derivative(np.array([0.0]), alpha=2.0)
        array([2.])
    """,
)

gelu = NumpyActivation(
    get("gelu"),
    """
    Args:
        x: array-like of real numbers; integers and bools promote to float64.
        approximate: ``"none"`` (exact, x·Φ(x)) or ``"tanh"``. Default: ``"none"``
            (JAX and ``keras.ops`` default to ``"tanh"``).
        out: optional array of the result's shape and dtype to write into.

    Returns:
        GELU of x in x's floating dtype: float32 within 1 ulp and float64 within 4 ulp of the
        mathematical value over the whole real line (the textbook 0.5·x·(1 + erf(x/√2)) returns
        0 below x ≈ −5.7 in float32).

    Shape:
        Any; the result has x's shape.

    Example:
        >>> import numpy as np, relukit
        >>> relukit.gelu(np.array([-10.0, 0.0, 1.0]))
        array([-7.61985302e-23,  0.00000000e+00,  8.41344746e-01])
        >>> relukit.gelu(np.array([-np.inf, np.inf]), approximate="tanh")
        array([ 0., inf])
        >>> float(relukit.gelu.derivative(0.0))
        0.5
    """,
)

__all__ = [
    "Activation",
    "NumpyActivation",
    "Param",
    "Spelling",
    "catalog",
    "elu",
    "gelu",
    "get",
    "leaky_relu",
    "prelu",
    "relu",
]
__version__ = "0.1.0"
