"""``Report``: per-layer dead and dormant units, as a table, a dict, plots and logged scalars.

Pure NumPy over :class:`~relukit.diagnostics.UnitStats` (matplotlib only inside ``plot``):
framework monitors build one, and so can anyone with arrays.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._stats import UnitStats, check_tau

__all__ = ["LayerSummary", "Report"]


@dataclass(frozen=True)
class LayerSummary:
    """One row of a :class:`Report`.

    Attributes:
        layer: the layer's name (a module's qualified name; ``name#2`` for its second call in
            one forward).
        kind: what the layer is (the catalog name, or the module's class name).
        units: the number of units; ``seen``: observations per unit.
        dead: units never active (pre-activation > 0 never seen); ``dormant``: τ-dormant units
            (ReDo score ≤ τ).
        sparsity: the fraction of observations on the ``x ≤ 0`` branch.
        grad_dormant: units whose gradient score is ≤ τ, ``None`` where not recorded.

    Example:
        >>> import numpy as np
        >>> from relukit.diagnostics import Report, UnitStats
        >>> x = np.array([[1.0, -1.0], [2.0, -3.0]])
        >>> row = Report({"fc": UnitStats.observe(np.maximum(x, 0), pre=x)}).summary()[0]
        >>> row.units, row.seen, row.dead, row.dead_fraction
        (2, 2, 1, 0.5)
    """

    layer: str
    kind: str
    units: int
    seen: int
    dead: int
    dormant: int
    sparsity: float
    grad_dormant: int | None

    @property
    def dead_fraction(self) -> float:
        """``dead / units`` (0 for a layer without units)."""
        return self.dead / self.units if self.units else 0.0

    @property
    def dormant_fraction(self) -> float:
        """``dormant / units`` (0 for a layer without units)."""
        return self.dormant / self.units if self.units else 0.0


@dataclass
class Report:
    """Dead and τ-dormant units per layer and overall, from each layer's :class:`UnitStats`.

    A unit is *dead* if its pre-activation was never > 0 on the data seen, and *τ-dormant* if
    its ReDo score ``s_i = E|h_i| / mean_k E|h_k|`` is ≤ ``tau``; where gradients were recorded,
    *grad-dormant* if its gradient score ``E|∂L/∂x_i| / mean_k E|∂L/∂x_k|`` is ≤ ``tau``.

    ``print(report)`` is a table; :meth:`to_dict` is JSON-ready; :meth:`dead_units` and
    :meth:`dormant_units` give indices; :meth:`plot` draws the score histograms; :meth:`log`
    writes to a TensorBoard-style writer.

    Unlike keras-contrib's ``DeadReluDetector`` (prints a warning per layer after a full extra
    pass over the training set), a report is data: it can be compared, logged, merged across
    ranks and handed to :func:`~relukit.diagnostics.recycle_`.

    Args:
        stats: ``{layer name: UnitStats}`` in model order.
        kinds: ``{layer name: kind}`` shown in the table. Default: ``"-"`` for each.
        tau: the dormancy threshold τ ≥ 0. Default: ``0.1`` (ReDo's experiments; its paper
            suggests 0.025 as a milder default).

    Example:
        >>> import numpy as np
        >>> from relukit.diagnostics import Report, UnitStats
        >>> x = np.array([[1.0, -1.0, 0.05], [3.0, -2.0, 0.05]])
        >>> report = Report({"fc1": UnitStats.observe(np.maximum(x, 0), pre=x)}, {"fc1": "relu"})
        >>> print(report)
        layer    kind  units  seen  dead        dormant(τ=0.1)  sparsity
        fc1      relu      3     2  1 (33.3%)   2 (66.7%)          33.3%
        overall            3        1 (33.3%)   2 (66.7%)          33.3%
        >>> report.dead_units("fc1").tolist(), report.dormant_units("fc1").tolist()
        ([1], [1, 2])
    """

    stats: dict[str, UnitStats]
    kinds: dict[str, str] = field(default_factory=dict)
    tau: float = 0.1

    def __post_init__(self) -> None:
        if not isinstance(self.stats, Mapping):
            raise TypeError(
                f"stats must be a mapping of layer name to UnitStats, got {self.stats!r}"
            )
        for name, s in self.stats.items():
            if not isinstance(s, UnitStats):
                raise TypeError(f"stats[{name!r}] must be UnitStats, got {type(s).__name__}")
        self.stats = dict(self.stats)
        self.kinds = dict(self.kinds)
        self.tau = check_tau(self.tau)

    # --- per layer ------------------------------------------------------------------------------

    @property
    def layers(self) -> list[str]:
        """The layer names, in model order."""
        return list(self.stats)

    def _get(self, layer: str) -> UnitStats:
        try:
            return self.stats[layer]
        except (KeyError, TypeError):
            known = ", ".join(map(repr, self.stats)) or "none"
            raise KeyError(f"layer {layer!r} is not in this report; its layers: {known}") from None

    def dead_units(self, layer: str) -> np.ndarray:
        """Indices of ``layer``'s dead units (never active on the data seen)."""
        return self._get(layer).dead()

    def dormant_units(self, layer: str, tau: float | None = None) -> np.ndarray:
        """Indices of ``layer``'s τ-dormant units (score ≤ ``tau``; default: the report's τ)."""
        return self._get(layer).dormant(self.tau if tau is None else tau)

    def summary(self) -> list[LayerSummary]:
        """One :class:`LayerSummary` per layer, in model order."""
        rows = []
        for name, s in self.stats.items():
            g = s.grad_score
            rows.append(
                LayerSummary(
                    layer=name,
                    kind=self.kinds.get(name, "-"),
                    units=s.units,
                    seen=s.n,
                    dead=len(s.dead()),
                    dormant=len(s.dormant(self.tau)),
                    sparsity=s.sparsity,
                    grad_dormant=None if g is None else int((g <= self.tau).sum()),
                )
            )
        return rows

    def overall(self) -> dict[str, Any]:
        """Totals over all layers: units, dead, dormant (counts and fractions), sparsity."""
        rows = self.summary()
        units = sum(r.units for r in rows)
        observed = sum(r.units * r.seen for r in rows)
        inactive = sum(r.sparsity * r.units * r.seen for r in rows)
        dead = sum(r.dead for r in rows)
        dormant = sum(r.dormant for r in rows)
        grads = [r.grad_dormant for r in rows if r.grad_dormant is not None]
        return {
            "units": units,
            "dead": dead,
            "dead_fraction": dead / units if units else 0.0,
            "dormant": dormant,
            "dormant_fraction": dormant / units if units else 0.0,
            "sparsity": inactive / observed if observed else 0.0,
            "grad_dormant": sum(grads) if grads else None,
        }

    # --- rendering ------------------------------------------------------------------------------

    def __str__(self) -> str:
        rows = self.summary()
        grads = any(r.grad_dormant is not None for r in rows)

        def count(k: int | None, units: int) -> str:
            if k is None:
                return "-"
            return f"{k} ({100 * k / units:.1f}%)" if units else str(k)

        head = ["layer", "kind", "units", "seen", "dead", f"dormant(τ={self.tau:g})", "sparsity"]
        if grads:
            head.append("grad-dormant")
        table = []
        for r in rows:
            line = [r.layer, r.kind, str(r.units), str(r.seen), count(r.dead, r.units)]
            line += [count(r.dormant, r.units), f"{100 * r.sparsity:.1f}%"]
            if grads:
                line.append(count(r.grad_dormant, r.units))
            table.append(line)
        o = self.overall()
        line = ["overall", "", str(o["units"]), "", count(o["dead"], o["units"])]
        line += [count(o["dormant"], o["units"]), f"{100 * o['sparsity']:.1f}%"]
        if grads:
            line.append(count(o["grad_dormant"], o["units"]))
        table.append(line)
        right = {2, 3, 6}  # numbers right-aligned; counts with percentages left
        widths = [max(len(x) for x in col) for col in zip(head, *table, strict=True)]
        widths[4] = max(widths[4], 10)

        def fmt(cells: list[str]) -> str:
            out = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(out).rstrip()

        return "\n".join([fmt(head), *(fmt(t) for t in table)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: τ, overall totals, and per layer the summary, dead/dormant indices and the
        per-unit frequency, mean |h|, mean h, score and gradient score (lists of floats)."""
        layers = {}
        for r in self.summary():
            s = self.stats[r.layer]
            g = s.grad_score
            layers[r.layer] = {
                "kind": r.kind,
                "units": r.units,
                "seen": r.seen,
                "dead": s.dead().tolist(),
                "dormant": s.dormant(self.tau).tolist(),
                "dead_fraction": r.dead_fraction,
                "dormant_fraction": r.dormant_fraction,
                "sparsity": r.sparsity,
                "frequency": s.frequency.tolist(),
                "mean_abs": s.mean_abs.tolist(),
                "mean": s.mean.tolist(),
                "score": s.score.tolist(),
                "grad_score": None if g is None else g.tolist(),
                "grad_dormant": r.grad_dormant,
            }
        return {"tau": self.tau, "overall": self.overall(), "layers": layers}

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Per-layer histograms of the ReDo scores (and gradient scores where recorded), with
        τ marked, saved to ``path`` (``.png`` or ``.svg``; needs matplotlib).

        Example:
            >>> import numpy as np, tempfile, pathlib
            >>> from relukit.diagnostics import Report, UnitStats
            >>> r = Report({"a": UnitStats.observe(np.random.default_rng(0).normal(size=(8, 4)))})
            >>> with tempfile.TemporaryDirectory() as d:
            ...     r.plot(pathlib.Path(d) / "scores.svg")
        """
        suffix = os.fspath(path).rsplit(".", 1)[-1].lower() if "." in os.fspath(path) else ""
        if suffix not in ("png", "svg"):
            raise ValueError(f"path must end in .png or .svg, got {os.fspath(path)!r}")
        from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

        names = self.layers
        cols = min(3, max(1, len(names)))
        rows = max(1, -(-len(names) // cols))
        fig = Figure(figsize=(4 * cols, 2.6 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax, name in zip(axes.flat, names, strict=False):
            s = self.stats[name]
            ax.hist(s.score, bins=30, alpha=0.8, label="score E|h|")
            g = s.grad_score
            if g is not None:
                ax.hist(g, bins=30, alpha=0.5, label="grad score")
                ax.legend(fontsize=7)
            ax.axvline(self.tau, color="k", linestyle="--", linewidth=1)
            ax.set_title(f"{name} ({len(s.dead())} dead / {s.units})", fontsize=9)
            ax.set_xlabel("score (layer mean = 1)", fontsize=8)
        for ax in list(axes.flat)[len(names) :]:
            ax.set_visible(False)
        fig.savefig(path, format=suffix)

    def log(self, writer: Any, step: int, *, prefix: str = "relukit") -> None:
        """Write per-layer dead/dormant fractions and sparsity as scalars, and the score
        distributions as histograms, to a TensorBoard-style writer.

        Any object with ``add_scalar(tag, value, step)`` and ``add_histogram(tag, values,
        step)`` works: ``torch.utils.tensorboard.SummaryWriter``, tensorboardX's. Tags are
        ``{prefix}/{kind of value}/{layer}`` (``relukit/dead_fraction/fc1``), so TensorBoard
        groups each quantity's layers on one card; ``layer`` ``overall`` holds the totals.

        Example:
            >>> import numpy as np
            >>> from relukit.diagnostics import Report, UnitStats
            >>> class Printer:
            ...     def add_scalar(self, tag, value, step): print(tag, round(value, 3), step)
            ...     def add_histogram(self, tag, values, step): print(tag, len(values), step)
            >>> Report({"fc": UnitStats.observe(np.eye(3) - 0.5)}).log(Printer(), 7)
            relukit/dead_fraction/fc 0.0 7
            relukit/dormant_fraction/fc 0.0 7
            relukit/sparsity/fc 0.667 7
            relukit/score/fc 3 7
            relukit/dead_fraction/overall 0.0 7
            relukit/dormant_fraction/overall 0.0 7
            relukit/sparsity/overall 0.667 7
        """
        for name in ("add_scalar", "add_histogram"):
            if not callable(getattr(writer, name, None)):
                raise TypeError(
                    f"writer must have add_scalar and add_histogram (a TensorBoard "
                    f"SummaryWriter or tensorboardX's); {type(writer).__name__} has no {name}"
                )
        for r in self.summary():
            s = self.stats[r.layer]
            writer.add_scalar(f"{prefix}/dead_fraction/{r.layer}", r.dead_fraction, step)
            writer.add_scalar(f"{prefix}/dormant_fraction/{r.layer}", r.dormant_fraction, step)
            writer.add_scalar(f"{prefix}/sparsity/{r.layer}", r.sparsity, step)
            if s.units:
                writer.add_histogram(f"{prefix}/score/{r.layer}", s.score, step)
            g = s.grad_score
            if g is not None and s.units:
                writer.add_histogram(f"{prefix}/grad_score/{r.layer}", g, step)
        o = self.overall()
        writer.add_scalar(f"{prefix}/dead_fraction/overall", o["dead_fraction"], step)
        writer.add_scalar(f"{prefix}/dormant_fraction/overall", o["dormant_fraction"], step)
        writer.add_scalar(f"{prefix}/sparsity/overall", o["sparsity"], step)
