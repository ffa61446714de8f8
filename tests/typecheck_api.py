"""Typed uses of relukit's public API: mypy must accept this file (``tests/test_stubs.py``).

Nothing runs at import; pytest's doctest collection imports it and finds nothing to run.
"""

from __future__ import annotations

import numpy as np
import torch

import relukit
import relukit.keras
import relukit.torch
from relukit.torch import functional as F


def numpy_api() -> None:
    x = np.linspace(-3.0, 3.0, 7)
    relukit.relu(x)
    relukit.leaky_relu(x, 0.1)
    relukit.leaky_relu.derivative(x, negative_slope=0.2)
    relukit.gelu(x, approximate="tanh")
    relukit.prelu(x, np.array([0.25]), axis=0)
    grads: tuple[object, object] = relukit.prelu.backward(np.ones(7), x, 0.25)
    assert len(grads) == 2
    relukit.silu.backward(np.ones(7), x)
    entry: relukit.Activation = relukit.get("elu")
    assert entry.name == "elu" and len(relukit.catalog) > 0


def torch_api() -> None:
    x = torch.randn(4, 3)
    y: torch.Tensor = F.gelu(x, "tanh", backward_bits=4)
    F.leaky_relu(x, negative_slope=0.2, inplace=False)
    F.prelu(x, torch.tensor([0.25, 0.5, 0.75]))
    F.silu(y)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 3), relukit.torch.GELU(approximate="none"), relukit.torch.SiLU()
    )
    relukit.torch.convert(model)
    relukit.torch.PReLU(num_parameters=3, init=0.1)
    units = relukit.torch.discover(model)
    assert all(isinstance(u.activation, relukit.Activation) for u in units)


def keras_api() -> None:
    layer = relukit.keras.LeakyReLU(negative_slope=0.2, name="act")
    relukit.keras.GELU(approximate="tanh")
    relukit.keras.PReLU(channel_axis=1)
    y = relukit.keras.silu(np.zeros(3))
    relukit.keras.prelu(y, np.array([0.25]), axis=-1)
    assert relukit.keras.discover(layer) == []
