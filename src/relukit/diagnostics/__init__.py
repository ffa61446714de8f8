"""Dead and dormant units: diagnosed (statistics, monitors, reports) and repaired (``recycle_``).

Floor 3 (DESIGN.md §2): pure, mergeable statistics over arrays, with NumPy as the reference,
plus thin framework hooks. ``import relukit.diagnostics`` needs NumPy only; the PyTorch parts
import torch when first used.

- :class:`UnitStats` — per-unit counts and sums of one layer's activations (NumPy), mergeable
  across batches, workers and ranks.
- :class:`Report` — dead units (never active), τ-dormant units (ReDo's score ≤ τ), sparsity and
  the gradient score per layer: a table, a dict, plots, TensorBoard scalars.
- :class:`UnitMonitor` (PyTorch) — hooks on a model's activations that accumulate the
  statistics on the activations' device, without host synchronisation.
- :func:`recycle_` (PyTorch) — ReDo-style repair of the units a report selects.
- ``relukit.keras.DeadUnitCallback`` — the Keras side.

Example:
    >>> import torch, relukit.diagnostics as rd
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    >>> with torch.no_grad():
    ...     model[0].bias[:3] = -100.0  # three units killed by construction
    >>> with rd.UnitMonitor(model) as monitor:
    ...     _ = model(torch.randn(64, 4))
    >>> monitor.report().dead_units("1").tolist()
    [0, 1, 2]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._report import LayerSummary, Report
from ._stats import UnitStats

if TYPE_CHECKING:
    from ._recycle import RecyclePlan, recycle_
    from ._torch import UnitMonitor

__all__ = ["LayerSummary", "RecyclePlan", "Report", "UnitMonitor", "UnitStats", "recycle_"]

# The PyTorch parts, imported on first use: ``import relukit.diagnostics`` stays NumPy-only.
_LAZY = {
    "UnitMonitor": "._torch",
    "recycle_": "._recycle",
    "RecyclePlan": "._recycle",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
