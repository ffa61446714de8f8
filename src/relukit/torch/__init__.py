"""relukit for PyTorch: drop-in activation modules that keep relukit's contract and save less.

``relukit.torch.functional`` has ``relu``, ``leaky_relu``, ``prelu``, ``elu`` and ``gelu`` with
``torch.nn.functional``'s signatures; the modules ``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU`` and
``GELU`` take ``torch.nn``'s constructor arguments; ``convert(model)`` swaps torch.nn's
activations inside an existing model.

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
from ._convert import convert
from ._modules import ELU, GELU, LeakyReLU, PReLU, ReLU

__all__ = ["ELU", "GELU", "LeakyReLU", "PReLU", "ReLU", "convert", "functional"]
