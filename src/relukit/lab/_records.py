"""The lab's typed records: what experiments return and renderers read (DESIGN.md §2, floor 4).

Every record is a dataclass of plain values (numbers, strings, lists), so a whole run is JSON
(``results.json``) and comes back from it unchanged (:meth:`CompareResult.from_dict`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=64)
def t_quantile(n: int) -> float:
    """Student's t 0.975 quantile with ``n − 1`` degrees of freedom (the 95% interval's factor).

    Example:
        >>> round(t_quantile(3), 3)
        4.303
    """
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its 95% Student-t interval.

    ``lo``/``hi`` are ``None`` with fewer than two finite values (no interval).

    Example:
        >>> iv = Interval.of([1.0, 2.0, 3.0])
        >>> iv.mean, round(iv.lo, 3), round(iv.hi, 3), iv.n
        (2.0, -0.484, 4.484, 3)
        >>> str(Interval.of([0.5, 0.5]))
        '0.5 [0.5, 0.5]'
        >>> str(Interval.of([0.0, 0.1], bounds=(0.0, 1.0)))  # a fraction: never below 0
        '0.05 [0, 0.685]'
    """

    mean: float | None
    lo: float | None
    hi: float | None
    n: int

    @classmethod
    def of(
        cls,
        values: list[float] | tuple[float, ...],
        bounds: tuple[float, float] | None = None,
    ) -> Interval:
        """The mean and 95% interval of the finite ``values`` (``None`` entries skipped);
        ``bounds``: the quantity's range (a fraction's ``(0, 1)``), which clips the interval
        (a t-interval of few seeds can run past it)."""
        xs = [float(v) for v in values if v is not None and math.isfinite(v)]
        n = len(xs)
        if n == 0:
            return cls(None, None, None, 0)
        mean = sum(xs) / n
        if n < 2:
            return cls(mean, None, None, n)
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
        half = t_quantile(n) * sd / math.sqrt(n)
        lo, hi = mean - half, mean + half
        if bounds is not None:
            lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
        return cls(mean, lo, hi, n)

    def fmt(self, spec: str = ".3g") -> str:
        """``mean [lo, hi]`` with ``spec`` (``-`` if there is no value)."""
        if self.mean is None:
            return "-"
        if self.lo is None or self.hi is None:
            return format(self.mean, spec)
        return f"{self.mean:{spec}} [{self.lo:{spec}}, {self.hi:{spec}}]"

    def __str__(self) -> str:
        return self.fmt()


@dataclass
class RunRecord:
    """One training run: one activation on one task with one seed.

    Attributes:
        activation: the activation's label (``leaky_relu:negative_slope=0.2``); ``name``: its
            catalog name; ``task``: the task's name; ``seed``: the seed of the initial weights
            and batch order.
        loss: the training loss after each epoch; ``test_accuracy_curve``: test accuracy after
            each epoch.
        train_accuracy, test_accuracy, final_loss: at the end; ``epochs_to_threshold``: the
            first epoch whose training loss is ≤ the task's threshold (``None``: never).
        dead_init, dead_end: the fraction of hidden units never active (pre-activation > 0
            never seen) on the training set at initialisation and after training
            (``relukit.diagnostics.UnitMonitor``); ``dead_curve``: ``[epoch, fraction]`` pairs;
            ``dead_per_layer``: per hidden layer, after training.
        zeros: the fraction of exact zeros among the hidden activations on the training set,
            after training; ``mean_activation``: their mean per hidden layer.
        histogram: counts of the last hidden layer's activations over the task's bins.
        slopes: PReLU's learned slopes per layer (empty for other activations).
        seconds: the run's wall time.
    """

    activation: str
    name: str
    task: str
    seed: int
    loss: list[float]
    test_accuracy_curve: list[float]
    train_accuracy: float
    test_accuracy: float
    final_loss: float
    epochs_to_threshold: int | None
    dead_init: float
    dead_end: float
    dead_curve: list[list[float]]
    dead_per_layer: list[float]
    zeros: float
    mean_activation: list[float]
    histogram: list[int]
    slopes: list[float]
    seconds: float


@dataclass
class SpeedRecord:
    """Time of one activation relative to ReLU, paired in the same process (one seed).

    Attributes:
        activation, name, seed: as in :class:`RunRecord`.
        alone: median forward+backward time of the activation alone on a float32 tensor,
            divided by ReLU's, interleaved repetitions, torch.nn's modules; ``alone_relukit``:
            the same with relukit.torch's modules (against relukit's ReLU).
        step: median time of a full-batch training step of the digits network, divided by
            ReLU's (relukit.torch's modules).
        saved_bytes: bytes saved for backward by one training step of the digits network
            divided by ReLU's, relukit.torch's modules; ``saved_bytes_torch``: torch.nn's.
    """

    activation: str
    name: str
    seed: int
    alone: float
    alone_relukit: float
    step: float
    saved_bytes: float
    saved_bytes_torch: float


@dataclass
class GradientRecord:
    """Weight-gradient norm per layer at initialisation in a deep MLP (one seed).

    Attributes:
        activation, name, seed: as in :class:`RunRecord`.
        init: ``"torch"`` (PyTorch's default init) or ``"relukit"`` (``relukit.init``'s
            He init with the activation's own gain).
        norms: the Frobenius norm of each Linear layer's weight gradient, first to last.
        ratio: ``norms[0] / norms[-1]`` (≪ 1: the gradient vanishes towards the input).
    """

    activation: str
    name: str
    seed: int
    init: str
    norms: list[float]
    ratio: float


@dataclass
class Verdict:
    """One claim of the seed's table and what this run says about it.

    Attributes:
        activation: the catalog name the claim is about; ``side``: ``"pro"`` or ``"con"``.
        claim: the seed's words; ``verdict``: ``"confirmed"``, ``"contradicted"``,
            ``"inconclusive"`` or ``"not measured"``.
        rule: the rule applied, in words; ``evidence``: the numbers it was applied to.
    """

    activation: str
    side: str
    claim: str
    verdict: str
    rule: str
    evidence: str


@dataclass
class CompareResult:
    """Everything one ``relukit compare`` run measured, with its settings and context.

    ``partial`` is true when the run was interrupted: the records are those that finished.
    """

    settings: dict[str, Any]
    environment: dict[str, Any]
    runs: list[RunRecord] = field(default_factory=list)
    speed: list[SpeedRecord] = field(default_factory=list)
    gradients: list[GradientRecord] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    partial: bool = False
    format: int = 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``from_dict`` inverts it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareResult:
        """The result :meth:`to_dict` wrote.

        Example:
            >>> r = CompareResult({"seeds": 1}, {"python": "3"})
            >>> CompareResult.from_dict(r.to_dict()) == r
            True
        """
        kinds = {"runs": RunRecord, "speed": SpeedRecord, "gradients": GradientRecord}
        kinds["verdicts"] = Verdict
        out = dict(data)
        for key, kind in kinds.items():
            names = {f.name for f in fields(kind)}
            out[key] = [kind(**{k: v for k, v in d.items() if k in names}) for d in data[key]]
        return cls(**out)

    def activations(self) -> list[str]:
        """The activation labels, in the order they were given."""
        return list(self.settings.get("activations", []))

    def tasks(self) -> list[str]:
        """The tasks run, in order."""
        return list(self.settings.get("tasks", []))


@dataclass
class DyingRecord:
    """One deep narrow MLP trained at a high learning rate: its dead units over training.

    Attributes:
        activation, name, seed: as in :class:`RunRecord`.
        arm: the initialisation (``"torch"``: PyTorch's default, ``"he"``: ``relukit.init``'s
            He with the activation's gain, ``"rai"``, ``"asymmetric"``), with ``"+recycle"``
            when ``relukit.diagnostics.recycle_`` revived the dead units every few epochs.
        epochs: the epochs at which ``dead`` was measured (0: at initialisation).
        dead: per measured epoch, the dead fraction of each hidden layer (never active on
            that epoch's training passes; at 0, on the training set).
        dead_end: the dead fraction of all hidden units after training (training set).
        recycled: the number of units ``recycle_`` revived in all.
        test_accuracy, final_loss, seconds: as in :class:`RunRecord`.
    """

    activation: str
    name: str
    seed: int
    arm: str
    epochs: list[int]
    dead: list[list[float]]
    dead_end: float
    recycled: int
    test_accuracy: float
    final_loss: float
    seconds: float


@dataclass
class DyingResult:
    """Everything one ``relukit dying`` run measured, with its settings and context."""

    settings: dict[str, Any]
    environment: dict[str, Any]
    runs: list[DyingRecord] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)
    partial: bool = False
    format: int = 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``from_dict`` inverts it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DyingResult:
        """The result :meth:`to_dict` wrote."""
        return cls(**{**data, "runs": [DyingRecord(**r) for r in data["runs"]]})
