"""``torch.nn`` modules for relukit's activations: drop-in replacements for torch.nn's five.

Each module has torch.nn's constructor arguments, ``extra_repr`` and ``state_dict`` keys, and its
``forward`` calls the function of ``relukit.torch.functional`` (modules are derived from
functions). They derive from ``torch.nn.Module``, not from torch.nn's classes, so code that
special-cases ``nn.ReLU`` (fusers, quantisers) does not silently swap relukit's rules back out.
"""

from __future__ import annotations

import inspect
from typing import Literal

import torch
from torch import nn

from .._catalog import Activation, get
from . import functional as F

__all__ = ["ELU", "GELU", "LeakyReLU", "PReLU", "ReLU"]

# PReLU's initial slope, 0.25 (He et al. 2015; torch.nn's ``init``), from the catalog.
_PRELU_INIT = get("prelu").param("weight").initial


def _doc(activation: Activation, text: str) -> str:
    return activation.docstring_core() + "\n\n" + inspect.cleandoc(text)


class _Activation(nn.Module):
    """Base: ``activation`` is the catalog entry, ``torch_class`` the torch.nn class it replaces."""

    activation: Activation

    @classmethod
    def torch_class(cls) -> type[nn.Module]:
        """The ``torch.nn`` module this one replaces (same class name)."""
        return getattr(nn, cls.__name__)

    @classmethod
    def from_torch(cls, module: nn.Module) -> _Activation:  # pragma: no cover - overridden
        raise NotImplementedError


class ReLU(_Activation):
    activation = get("relu")
    __doc__ = _doc(
        activation,
        """
        Args:
            inplace: overwrite the input. Default: ``False``.

        Saved for backward: the output (as ``torch.nn.ReLU``); NaN inputs get NaN gradients.

        Shape:
            Input: ``(*)``, any shape. Output: ``(*)``, the same shape.

        Example:
            >>> import torch
            >>> from torch import nn
            >>> from relukit.torch import ReLU
            >>> model = nn.Sequential(nn.Linear(5, 3), ReLU())
            >>> model(torch.ones(2, 5)).shape
            torch.Size([2, 3])
            >>> ReLU(inplace=True)
            ReLU(inplace=True)
        """,
    )

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""

    @classmethod
    def from_torch(cls, module: nn.Module) -> ReLU:
        return cls(inplace=module.inplace)


class LeakyReLU(_Activation):
    activation = get("leaky_relu")
    __doc__ = _doc(
        activation,
        """
        Args:
            negative_slope: the slope for x ≤ 0, any finite real. Default: ``0.01``.
            inplace: overwrite the input; also with a negative slope. Default: ``False``.

        Saved for backward: the output for ``negative_slope > 0`` (``torch.nn.LeakyReLU`` saves
        the input: in ``Linear → LeakyReLU → Linear`` relukit stores the hidden tensor once,
        torch.nn twice), the input for a negative slope.

        Shape:
            Input: ``(*)``, any shape. Output: ``(*)``, the same shape.

        Example:
            >>> import torch
            >>> from relukit.torch import LeakyReLU
            >>> m = LeakyReLU(0.2)
            >>> m
            LeakyReLU(negative_slope=0.2)
            >>> m(torch.tensor([-1.0, 2.0]))
            tensor([-0.2000,  2.0000])
        """,
    )

    def __init__(
        self,
        negative_slope: float = activation.param("negative_slope").default,
        inplace: bool = False,
    ) -> None:
        super().__init__()
        self.negative_slope = self.activation.param("negative_slope").check(negative_slope)
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace}"

    @classmethod
    def from_torch(cls, module: nn.Module) -> LeakyReLU:
        return cls(module.negative_slope, inplace=module.inplace)


class PReLU(_Activation):
    activation = get("prelu")
    __doc__ = _doc(
        activation,
        """
        Args:
            num_parameters: 1 (one slope) or the number of channels (dim 1 of the input).
                Default: ``1``.
            init: the slopes' initial value. Default: ``0.25`` (torch.nn's; Keras starts at 0).
            device: the weight's device. Default: ``None``.
            dtype: the weight's dtype. Default: ``None``.

        Attributes:
            weight: the learnable slopes, shape ``(num_parameters,)``; the ``state_dict`` key is
                ``"weight"``, so a ``torch.nn.PReLU`` checkpoint loads unchanged.

        Saved for backward: the input and the weight (as ``torch.nn.PReLU``).

        Shape:
            Input: ``(N, C, *)`` or any shape with ``num_parameters=1``. Output: the same shape.

        Example:
            >>> import torch
            >>> from relukit.torch import PReLU
            >>> m = PReLU(num_parameters=2)
            >>> m
            PReLU(num_parameters=2)
            >>> m(torch.tensor([[-4.0, 4.0]]))
            tensor([[-1.,  4.]], grad_fn=<PReluBackward>)
            >>> list(m.state_dict())
            ['weight']
        """,
    )

    def __init__(
        self, num_parameters: int = 1, init: float = _PRELU_INIT, device=None, dtype=None
    ) -> None:
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int):
            raise TypeError(f"num_parameters must be an int, got {num_parameters!r}")
        if num_parameters < 1:
            raise ValueError(f"num_parameters must be at least 1, got {num_parameters}")
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = nn.Parameter(torch.empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set every slope to ``init``."""
        nn.init.constant_(self.weight, self.init)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

    @classmethod
    def from_torch(cls, module: nn.Module) -> PReLU:
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.num_parameters = module.num_parameters
        new.init = getattr(module, "init", _PRELU_INIT)
        new.weight = module.weight  # the same Parameter: optimizers keep tracking it
        return new


class ELU(_Activation):
    activation = get("elu")
    __doc__ = _doc(
        activation,
        """
        Args:
            alpha: −alpha is the limit at −inf; any finite real. Default: ``1.0``.
            inplace: overwrite the input; also with a negative alpha. Default: ``False``.

        Saved for backward: the output for ``alpha ≥ 0`` (``torch.nn.ELU`` saves the input), the
        input for a negative alpha.

        Shape:
            Input: ``(*)``, any shape. Output: ``(*)``, the same shape.

        Example:
            >>> import torch
            >>> from relukit.torch import ELU
            >>> ELU(alpha=2.0)(torch.tensor([-1e-7, 1.0]))
            tensor([-2.0000e-07,  1.0000e+00])
        """,
    )

    def __init__(
        self, alpha: float = activation.param("alpha").default, inplace: bool = False
    ) -> None:
        super().__init__()
        self.alpha = self.activation.param("alpha").check(alpha)
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace}"

    @classmethod
    def from_torch(cls, module: nn.Module) -> ELU:
        return cls(module.alpha, inplace=module.inplace)


class GELU(_Activation):
    activation = get("gelu")
    __doc__ = _doc(
        activation,
        """
        Args:
            approximate: ``"none"`` or ``"tanh"``. Default: ``"none"``.
            backward_bits: ``None`` (exact backward, saves the input as ``torch.nn.GELU``) or
                1–4: save a k-bit code per element and back-propagate through a piecewise-
                constant approximation of f' (Few-Bit Backward). Default: ``None``.

        Shape:
            Input: ``(*)``, any shape. Output: ``(*)``, the same shape.

        Example:
            >>> import torch
            >>> from relukit.torch import GELU
            >>> GELU(approximate="tanh")
            GELU(approximate='tanh')
            >>> GELU()(torch.tensor([-float("inf"), 0.0, float("inf")]))
            tensor([0., 0., inf])
        """,
    )

    def __init__(
        self,
        approximate: Literal["none", "tanh"] = activation.param("approximate").default,
        *,
        backward_bits: int | None = None,
    ) -> None:
        super().__init__()
        self.approximate = self.activation.param("approximate").check(approximate)
        self.backward_bits = F._check_bits(backward_bits)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return F.gelu(input, self.approximate, backward_bits=self.backward_bits)

    def extra_repr(self) -> str:
        bits = "" if self.backward_bits is None else f", backward_bits={self.backward_bits}"
        return f"approximate={self.approximate!r}{bits}"

    @classmethod
    def from_torch(cls, module: nn.Module) -> GELU:
        return cls(module.approximate)


MODULES: dict[str, type[_Activation]] = {
    cls.activation.name: cls for cls in (ReLU, LeakyReLU, PReLU, ELU, GELU)
}
