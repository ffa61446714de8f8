"""relukit for PyTorch: drop-in activation modules that keep relukit's contract and save less.

``relukit.torch.functional`` has one function per catalog entry (``relu``, ``leaky_relu``,
``prelu``, ``elu``, ``gelu``, ``silu``...) with ``torch.nn.functional``'s signatures; the modules
(``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, ``GELU``, ``SiLU``...) take ``torch.nn``'s
constructor arguments; ``convert(model)`` swaps torch.nn's activations inside an existing model;
``discover(model)`` and ``watch(model, callback)`` find and observe a model's activation units.

>>> import torch
>>> from torch import nn
>>> from relukit.torch import ReLU
>>> model = nn.Sequential(nn.Linear(5, 3), ReLU())
>>> model(torch.zeros(4, 5)).shape
torch.Size([4, 3])
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'relukit.torch needs PyTorch, which is not installed: pip install "relukit[torch]"'
    ) from err

from . import functional
from ._adapter import (
    ActivationModule,
    Unit,
    Watch,
    activation_of,
    discover,
    function,
    module,
    watch,
)
from ._convert import convert, revert
from ._modules import MODULES

globals().update({cls.activation.class_name: cls for cls in MODULES.values()})

__all__ = [  # pyright: ignore[reportUnsupportedDunderAll]
    "ActivationModule",
    "Unit",
    "Watch",
    "activation_of",
    "convert",
    "discover",
    "function",
    "functional",
    "module",
    "revert",
    "watch",
    *(cls.activation.class_name for cls in MODULES.values()),
]
