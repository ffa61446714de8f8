"""Per-unit statistics of a layer's activations: pure NumPy, streaming and mergeable.

This is the reference every framework hook is checked against. A layer's statistics are sums
and counts over every observation of every unit (batch elements times positions), so that two
parts of the data merge into the statistics of the whole by adding them: across batches,
workers and ranks. Counts merge exactly (integers); float64 sums merge to float64 rounding
(addition is not associative), and exactly when the sums are exact (dyadic data).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["UnitStats", "check_tau", "reduce_axes", "resolve_unit_axis"]


def check_tau(tau: Any, name: str = "tau") -> float:
    """``tau`` as a float in [0, ∞); otherwise an error naming it and what is accepted."""
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, inf), got {tau!r}")
    value = float(tau)
    if not (value >= 0.0) or math.isnan(value):
        raise ValueError(f"{name} must be a real number in [0, inf), got {tau!r}")
    return value


def resolve_unit_axis(ndim: int, unit_axis: int | None, where: str = "") -> int:
    """The non-negative unit axis of an ``ndim``-dimensional batch.

    Default (``None``): the last axis for ``(N, F)`` and ``(N, T, F)`` (and a 1-D ``(F,)``),
    axis 1 for ``(N, C, …)`` with two or more trailing axes (channels-first convolutions).
    A Conv1d's ``(N, C, L)`` is three-dimensional: pass ``unit_axis=1`` for it.
    """
    at = f" ({where})" if where else ""
    if unit_axis is None:
        return ndim - 1 if ndim <= 3 else 1
    if isinstance(unit_axis, bool) or not isinstance(unit_axis, numbers.Integral):
        raise TypeError(f"unit_axis must be an int or None, got {unit_axis!r}{at}")
    if not -ndim <= unit_axis < ndim:
        raise ValueError(
            f"unit_axis={unit_axis} is out of range for {ndim}-dimensional activations{at}; "
            f"accepted: -{ndim} ≤ unit_axis < {ndim}, or None"
        )
    return int(unit_axis) % ndim


def reduce_axes(ndim: int, axis: int) -> tuple[int, ...]:
    """Every axis but the unit axis: the axes a batch's statistics are summed over."""
    return tuple(d for d in range(ndim) if d != axis)


@dataclass
class UnitStats:
    """Streaming statistics of one layer's units, mergeable across batches, workers and ranks.

    For unit ``i`` over the ``n`` observations seen (batch elements × positions), with ``x`` the
    pre-activation and ``h`` the activation (output):

    - ``active[i] = #{x_i > 0}``: how often the unit is on the ``x > 0`` branch;
    - ``abs_sum[i] = Σ|h_i|``, ``sum[i] = Σh_i``;
    - optionally ``grad_abs_sum[i] = Σ|∂L/∂x_i|`` over ``grad_n`` observations.

    From these: ``frequency = active/n``, ``mean_abs = E|h_i|``, ``mean = E h_i``, ReDo's score
    ``s_i = E|h_i| / mean_k E|h_k|`` (:attr:`score`) and the gradient score
    ``g_i = E|∂L/∂x_i| / mean_k E|∂L/∂x_k|`` (:attr:`grad_score`); a unit is *dead* if it was
    never active (``active[i] == 0`` with ``n > 0``) and *τ-dormant* if ``s_i ≤ τ``.

    Unlike keras-contrib's ``DeadReluDetector`` (ReLU only: a unit whose output summed over
    the training set is 0), "dead" is read on the pre-activation, so it means the same for every
    activation (a Leaky ReLU or ELU unit that never leaves its ``x ≤ 0`` branch is dead though
    its outputs are not 0). Unlike ReDo (a score per batch), the statistics accumulate over as
    much data as is shown and merge exactly, so a report covers a whole epoch or all ranks.

    Example:
        >>> import numpy as np
        >>> from relukit.diagnostics import UnitStats
        >>> x = np.array([[1.0, -1.0, 2.0], [3.0, -2.0, -1.0]])  # (N, F): 3 units
        >>> s = UnitStats.observe(np.maximum(x, 0), pre=x)
        >>> s.active.tolist(), s.dead().tolist()
        ([2, 0, 1], [1])
        >>> s.score.round(3).tolist()
        [2.0, 0.0, 1.0]
        >>> (s.observe(x[:1]).merge(s.observe(x[1:])) == s.observe(x))
        True
    """

    n: int
    active: np.ndarray
    abs_sum: np.ndarray
    sum: np.ndarray
    grad_n: int = 0
    grad_abs_sum: np.ndarray | None = None

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def empty(cls, units: int, *, gradients: bool = False) -> UnitStats:
        """The statistics of no data for ``units`` units."""
        zeros = np.zeros(units, dtype=np.float64)
        return cls(
            0,
            np.zeros(units, dtype=np.int64),
            zeros.copy(),
            zeros.copy(),
            0,
            zeros.copy() if gradients else None,
        )

    @classmethod
    def observe(
        cls,
        h: Any,
        *,
        pre: Any = None,
        unit_axis: int | None = None,
        grad: Any = None,
    ) -> UnitStats:
        """The statistics of one batch.

        Args:
            h: the activations (a layer's outputs), any array of at least one dimension.
            pre: the pre-activations, same shape; activity is ``pre > 0``. Default: ``h``
                itself (a layer's outputs read as pre-activations, e.g. a Linear before a
                functional ``relu``).
            unit_axis: the axis of units (see :func:`resolve_unit_axis`). Default: last axis
                for ``(N, F)``/``(N, T, F)``, axis 1 for ``(N, C, …)``.
            grad: ``∂L/∂pre`` for the same batch, same shape, or ``None``.
        """
        h = np.asarray(h)
        if h.ndim == 0:
            raise ValueError("h must have at least one dimension (the units), got a scalar")
        x = h if pre is None else np.asarray(pre)
        if x.shape != h.shape:
            raise ValueError(f"pre has shape {x.shape} but h has shape {h.shape}; they must match")
        axis = resolve_unit_axis(h.ndim, unit_axis)
        dims = reduce_axes(h.ndim, axis)
        units = h.shape[axis]
        n = h.size // units if units else 0
        stats = cls(
            n,
            np.sum(x > 0, axis=dims, dtype=np.int64).reshape(units),
            np.sum(np.abs(h), axis=dims, dtype=np.float64).reshape(units),
            np.sum(h, axis=dims, dtype=np.float64).reshape(units),
        )
        if grad is not None:
            g = np.asarray(grad)
            if g.shape != h.shape:
                raise ValueError(f"grad has shape {g.shape} but h has {h.shape}; they must match")
            stats.grad_n = n
            stats.grad_abs_sum = np.sum(np.abs(g), axis=dims, dtype=np.float64).reshape(units)
        return stats

    # --- merging --------------------------------------------------------------------------------

    def merge(self, other: UnitStats) -> UnitStats:
        """The statistics of both parts of the data (counts and sums add)."""
        if not isinstance(other, UnitStats):
            raise TypeError(f"other must be UnitStats, got {type(other).__name__}")
        if other.units != self.units:
            raise ValueError(
                f"cannot merge statistics of {self.units} and {other.units} units; "
                "other must describe the same layer"
            )
        grad = self.grad_abs_sum
        if other.grad_abs_sum is not None:
            grad = other.grad_abs_sum if grad is None else grad + other.grad_abs_sum
        return UnitStats(
            self.n + other.n,
            self.active + other.active,
            self.abs_sum + other.abs_sum,
            self.sum + other.sum,
            self.grad_n + other.grad_n,
            None if grad is None else np.array(grad, dtype=np.float64),
        )

    __add__ = merge

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UnitStats):
            return NotImplemented
        mine, theirs = self.grad_abs_sum, other.grad_abs_sum
        same_grad = (mine is None and theirs is None) or (
            mine is not None and theirs is not None and np.array_equal(mine, theirs)
        )
        return bool(
            self.n == other.n
            and self.grad_n == other.grad_n
            and np.array_equal(self.active, other.active)
            and np.array_equal(self.abs_sum, other.abs_sum)
            and np.array_equal(self.sum, other.sum)
            and same_grad
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    # --- derived quantities -----------------------------------------------------------------------

    @property
    def units(self) -> int:
        """The number of units."""
        return int(self.active.shape[0])

    @property
    def frequency(self) -> np.ndarray:
        """``active/n``: the fraction of observations on the ``x > 0`` branch (0 if none seen)."""
        return self.active / self.n if self.n else np.zeros(self.units)

    @property
    def mean_abs(self) -> np.ndarray:
        """``E|h_i|``."""
        return self.abs_sum / self.n if self.n else np.zeros(self.units)

    @property
    def mean(self) -> np.ndarray:
        """``E h_i``."""
        return self.sum / self.n if self.n else np.zeros(self.units)

    @property
    def sparsity(self) -> float:
        """The fraction of all observations on the ``x ≤ 0`` branch (``1 − Σactive/(n·units)``)."""
        total = self.n * self.units
        return 1.0 - float(self.active.sum()) / total if total else 0.0

    @property
    def score(self) -> np.ndarray:
        """ReDo's score ``s_i = E|h_i| / mean_k E|h_k|`` (all 0 when every ``E|h_k|`` is 0)."""
        return _normalised(self.mean_abs)

    @property
    def grad_score(self) -> np.ndarray | None:
        """``E|∂L/∂x_i| / mean_k E|∂L/∂x_k|``, or ``None`` where no gradient was recorded."""
        if self.grad_abs_sum is None or not self.grad_n:
            return None
        return _normalised(self.grad_abs_sum / self.grad_n)

    def dead(self) -> np.ndarray:
        """Indices of the units never active on the data seen (none before any data)."""
        if not self.n:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.active == 0)

    def dormant(self, tau: float = 0.1) -> np.ndarray:
        """Indices of the τ-dormant units, ``s_i ≤ tau`` (none before any data)."""
        tau = check_tau(tau)
        if not self.n:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(self.score <= tau)

    def to_dict(self) -> dict[str, Any]:
        """The raw counts and sums as JSON-ready lists (``from_dict`` reads them back)."""
        return {
            "n": self.n,
            "active": self.active.tolist(),
            "abs_sum": self.abs_sum.tolist(),
            "sum": self.sum.tolist(),
            "grad_n": self.grad_n,
            "grad_abs_sum": None if self.grad_abs_sum is None else self.grad_abs_sum.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitStats:
        """Statistics from :meth:`to_dict`'s output."""
        grad = data.get("grad_abs_sum")
        return cls(
            int(data["n"]),
            np.asarray(data["active"], dtype=np.int64),
            np.asarray(data["abs_sum"], dtype=np.float64),
            np.asarray(data["sum"], dtype=np.float64),
            int(data.get("grad_n", 0)),
            None if grad is None else np.asarray(grad, dtype=np.float64),
        )


def _normalised(values: np.ndarray) -> np.ndarray:
    """``v_i / mean_k v_k``; zeros when the mean is 0 (no unit carries any signal)."""
    mean = float(values.mean()) if values.size else 0.0
    if mean == 0.0 or not math.isfinite(mean):
        return np.zeros_like(values) if mean == 0.0 else values / mean
    return values / mean
