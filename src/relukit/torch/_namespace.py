"""The torch array namespace the catalog's math runs on (relukit.torch's generic path).

Traceable (no data-dependent Python, no host synchronisation), so the same lines run eagerly,
under ``torch.compile``, ``torch.func`` and on any device. Two tiers, as in NumPy's namespace:
``EXACT`` (``exact=True``) for float64 results, with double-double arguments and the traceable
Φ of ``_catalog._special``; ``WIDE`` for float32 and half results computed in float64, where
plain float64 formulas are ~1e-13 relative, far below half a float32 ulp.
"""

from __future__ import annotations

from typing import Any

import torch

from .._catalog import _dd, _special

_INV_SQRT_2PI = 0.3989422804014327


def _no_out(out: Any) -> None:
    if out is not None:
        raise TypeError("the torch namespace takes no out= (the generic path is out of place)")


class TorchNamespace:
    """The elementwise operations of ``relukit._catalog.Namespace`` on torch tensors."""

    def __init__(self, exact: bool) -> None:
        self.exact = exact

    def __repr__(self) -> str:
        return f"TorchNamespace(exact={self.exact})"

    @staticmethod
    def maximum(x: Any, b: Any, *, out: Any = None) -> Any:
        _no_out(out)
        # clamp and maximum both propagate NaN (never fmax, which drops it).
        return torch.clamp(x, min=b) if not isinstance(b, torch.Tensor) else torch.maximum(x, b)

    @staticmethod
    def minimum(x: Any, b: Any, *, out: Any = None) -> Any:
        _no_out(out)
        return torch.clamp(x, max=b) if not isinstance(b, torch.Tensor) else torch.minimum(x, b)

    @staticmethod
    def add(a: Any, b: Any, *, out: Any = None) -> Any:
        _no_out(out)
        return a + b

    @staticmethod
    def clip(x: Any, lo: float, hi: float, *, out: Any = None) -> Any:
        _no_out(out)
        return torch.clamp(x, lo, hi)

    @staticmethod
    def abs(x: Any) -> Any:
        return torch.abs(x)

    @staticmethod
    def exp(x: Any) -> Any:
        return torch.exp(x)

    @staticmethod
    def expm1(x: Any) -> Any:
        return torch.expm1(x)

    @staticmethod
    def log1p(x: Any) -> Any:
        return torch.log1p(x)

    @staticmethod
    def tanh(x: Any) -> Any:
        return torch.tanh(x)

    @staticmethod
    def scale(a: Any, v: Any) -> Any:
        """a·v; where a is 0, a·clip(v, −1, 1): the zero slope's signed 0 (±inf·0 is NaN)."""
        return torch.where(a == 0, a * torch.clamp(v, -1.0, 1.0), a * v)

    @staticmethod
    def select(cond: Any, a: Any, b: Any, *, out: Any = None) -> Any:
        _no_out(out)
        if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
            a = torch.tensor(a, dtype=torch.float64, device=cond.device)
        return torch.where(cond, a, b)

    @staticmethod
    def select_positive(x: Any, positive: Any, nonpositive: Any, *, out: Any = None) -> Any:
        """The kink rule: ``positive`` for x > 0, ``nonpositive`` for x ≤ 0, NaN for NaN."""
        _no_out(out)
        if not isinstance(positive, torch.Tensor) and not isinstance(nonpositive, torch.Tensor):
            positive = torch.tensor(positive, dtype=x.dtype, device=x.device)
        r = torch.where(x > 0, positive, nonpositive)
        return torch.where(torch.isnan(x), x, r)

    @staticmethod
    def exp_neg(a: Any, a_lo: Any = 0.0) -> tuple[Any, Any]:
        # k = 0 always (no data-dependent rescaling): a subnormal product rounds twice, a few
        # subnormal steps at most, as in the Keras namespace.
        return torch.exp(-a) * (1.0 - a_lo), 0

    @staticmethod
    def ldexp(v: Any, k: Any, *, out: Any = None) -> Any:
        _no_out(out)
        if isinstance(k, int) and k == 0:
            return v
        return v * torch.pow(2.0, -k)

    def gaussian(self, x: Any) -> tuple[Any, Any, Any]:
        if not self.exact:
            return torch.special.ndtr(x), torch.exp(-0.5 * x * x) * _INV_SQRT_2PI, 0
        return _special.ndtr(self, x, torch.special.erfc), _special.normal_pdf(self, x), 0

    def two_prod(self, a: Any, b: Any, b_split: Any = None) -> tuple[Any, Any]:
        if not self.exact:
            return a * b, 0.0
        return _dd.two_prod(a, b, b_split)

    def two_sum(self, a: Any, b: Any) -> tuple[Any, Any]:
        if not self.exact:
            return a + b, 0.0
        return _dd.two_sum(a, b)


EXACT = TorchNamespace(exact=True)
WIDE = TorchNamespace(exact=False)
