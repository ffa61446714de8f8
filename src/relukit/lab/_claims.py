"""The seed's pros-and-cons table, as data, and the rule that judges each claim from a run.

The seed's table (Activation, Formula, Pros, Cons) lives here and nowhere else: :data:`CLAIMS`,
one entry per pro or con keyed by catalog name (:func:`seed_table` regroups them); the formula
column is the catalog's. Each claim has a written rule and a function that
applies it to a :class:`~relukit.lab._records.CompareResult`: ``confirmed`` or ``contradicted``
when the 95% intervals over seeds say so, ``inconclusive`` when they do not, and ``not
measured`` for claims no run can test (usage, naming). A claim about an activation the run
did not include (at its default parameters) is ``not measured``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import relukit

from ._records import CompareResult, Interval, RunRecord, Verdict

CONFIRMED, CONTRADICTED, INCONCLUSIVE, NOT_MEASURED = (
    "confirmed",
    "contradicted",
    "inconclusive",
    "not measured",
)

Judge = Callable[["Evidence"], tuple[str, str]]


@dataclass(frozen=True)
class Claim:
    """One claim: whose, which side, the seed's words, the rule in words and in code."""

    activation: str
    side: str
    text: str
    rule: str
    judge: Judge


class Evidence:
    """Per-seed values of a run, looked up by catalog name (default parameters only)."""

    def __init__(self, result: CompareResult) -> None:
        self.result = result

    def has(self, name: str) -> bool:
        return name in self.result.activations()

    def runs(self, name: str, task: str) -> dict[int, RunRecord]:
        return {r.seed: r for r in self.result.runs if r.activation == name and r.task == task}

    def per_seed(
        self, name: str, task: str, value: Callable[[RunRecord], float]
    ) -> dict[int, float]:
        return {s: value(r) for s, r in self.runs(name, task).items()}

    def paired(self, a: str, b: str, task: str, value: Callable[[RunRecord], float]) -> Interval:
        """The interval of value(a) − value(b), paired by seed."""
        va, vb = self.per_seed(a, task, value), self.per_seed(b, task, value)
        return Interval.of([va[s] - vb[s] for s in sorted(va) if s in vb])

    def speed(self, name: str, field: str = "alone") -> Interval:
        return Interval.of([getattr(r, field) for r in self.result.speed if r.activation == name])

    def log_ratio(self, name: str, init: str = "relukit") -> Interval:
        return Interval.of(
            [
                math.log10(g.ratio)
                for g in self.result.gradients
                if g.activation == name and g.init == init and g.ratio > 0
            ]
        )

    def tasks(self) -> list[str]:
        return [t for t in self.result.tasks() if any(r.task == t for r in self.result.runs)]


def _above(iv: Interval, x: float) -> bool:
    return iv.lo is not None and iv.lo > x


def _below(iv: Interval, x: float) -> bool:
    return iv.hi is not None and iv.hi < x


def _fmt(iv: Interval, spec: str = ".3g") -> str:
    return iv.fmt(spec) + (f" (n={iv.n})" if iv.n else "")


# --- the rules ---------------------------------------------------------------------------------


def _needs(*names: str) -> Callable[[Judge], Judge]:
    def wrap(fn: Judge) -> Judge:
        def judge(ev: Evidence) -> tuple[str, str]:
            missing = [n for n in names if not ev.has(n)]
            if missing:
                return NOT_MEASURED, f"not in this run: {', '.join(missing)}"
            return fn(ev)

        return judge

    return wrap


def _not_measured(reason: str) -> Judge:
    return lambda ev: (NOT_MEASURED, reason)


@_needs("relu")
def _fast(ev: Evidence) -> tuple[str, str]:
    others = [a for a in ev.result.activations() if a != "relu"]
    ivs = {a: ev.speed(a) for a in others}
    faster = [a for a, iv in ivs.items() if _below(iv, 0.9)]
    slower = [a for a, iv in ivs.items() if _above(iv, 1.0)]
    text = f"{len(slower)}/{len(others)} slower than ReLU; faster by > 10%: {faster or 'none'}"
    if faster:
        return CONTRADICTED, text
    if (
        others
        and len(slower) * 2 >= len(others)
        and not any(_below(iv, 1.0) for iv in ivs.values())
    ):
        return CONFIRMED, text
    return INCONCLUSIVE, text


def _more_compute(name: str) -> Judge:
    @_needs(name, "relu")
    def judge(ev: Evidence) -> tuple[str, str]:
        iv = ev.speed(name)
        text = f"time / ReLU's {_fmt(iv)}"
        if _above(iv, 1.0):
            return CONFIRMED, text
        if iv.hi is not None and iv.hi <= 1.05:
            return CONTRADICTED, text
        return INCONCLUSIVE, text

    return judge


@_needs("relu")
def _vanishing(ev: Evidence) -> tuple[str, str]:
    relu = ev.log_ratio("relu")
    contrasts = {n: ev.log_ratio(n) for n in ("sigmoid", "tanh") if ev.has(n)}
    text = f"log10 first/last gradient norm, relukit.init: ReLU {_fmt(relu)}; " + "; ".join(
        f"{n} {_fmt(iv)}" for n, iv in contrasts.items()
    )
    text += f"; PyTorch's default init: ReLU {_fmt(ev.log_ratio('relu', 'torch'))}"
    if _below(relu, -2.0):
        return CONTRADICTED, text
    if _above(relu, -2.0) and any(_below(iv, -2.0) for iv in contrasts.values()):
        return CONFIRMED, text
    return INCONCLUSIVE, text


def _dead(ev: Evidence, name: str, task: str) -> Interval:
    return Interval.of(list(ev.per_seed(name, task, lambda r: r.dead_end).values()))


@_needs("relu")
def _dying(ev: Evidence) -> tuple[str, str]:
    ivs = {t: _dead(ev, "relu", t) for t in ev.tasks()}
    text = "; ".join(f"{t}: dead after training {_fmt(iv, '.1%')}" for t, iv in ivs.items())
    if any(_above(iv, 0.0) and (iv.mean or 0) >= 0.01 for iv in ivs.values()):
        return CONFIRMED, text
    if ivs and all(iv.n and iv.hi == 0.0 and iv.lo == 0.0 for iv in ivs.values()):
        return CONTRADICTED, text
    return INCONCLUSIVE, text


@_needs("relu", "leaky_relu")
def _fixes_dying(ev: Evidence) -> tuple[str, str]:
    dying = [t for t in ev.tasks() if _above(_dead(ev, "relu", t), 0.0)]
    diffs = {t: ev.paired("relu", "leaky_relu", t, lambda r: r.dead_end) for t in ev.tasks()}
    text = "; ".join(f"{t}: ReLU − Leaky dead {_fmt(iv, '.1%')}" for t, iv in diffs.items())
    if any(_below(iv, 0.0) for iv in diffs.values()):
        return CONTRADICTED, text
    if dying and all(_above(diffs[t], 0.0) for t in dying):
        return CONFIRMED, text
    return INCONCLUSIVE, text + ("" if dying else " (no task where ReLU units died)")


@_needs("prelu")
def _flexible(ev: Evidence) -> tuple[str, str]:
    def moved(r: RunRecord) -> float:
        slopes = r.slopes
        return float(np.mean([abs(s - 0.25) for s in slopes])) if slopes else 0.0

    ivs = {t: Interval.of(list(ev.per_seed("prelu", t, moved).values())) for t in ev.tasks()}
    text = "; ".join(f"{t}: mean |slope − 0.25| {_fmt(iv)}" for t, iv in ivs.items())
    if ivs and all(_above(iv, 0.05) for iv in ivs.values()):
        return CONFIRMED, text
    if ivs and all(_below(iv, 0.01) for iv in ivs.values()):
        return CONTRADICTED, text
    return INCONCLUSIVE, text


@_needs("prelu", "leaky_relu")
def _overfitting(ev: Evidence) -> tuple[str, str]:
    def gap(r: RunRecord) -> float:
        return r.train_accuracy - r.test_accuracy

    ivs = {t: ev.paired("prelu", "leaky_relu", t, gap) for t in ev.tasks()}
    text = "; ".join(f"{t}: gap PReLU − Leaky {_fmt(iv, '.3f')}" for t, iv in ivs.items())
    up = any(_above(iv, 0.0) for iv in ivs.values())
    down = any(_below(iv, 0.0) for iv in ivs.values())
    if up and not down:
        return CONFIRMED, text
    if down and not up:
        return CONTRADICTED, text
    return INCONCLUSIVE, text


@_needs("relu", "elu")
def _mean_activation(ev: Evidence) -> tuple[str, str]:
    def off(r: RunRecord) -> float:
        return float(np.mean(np.abs(r.mean_activation)))

    ivs = {t: ev.paired("relu", "elu", t, off) for t in ev.tasks()}
    text = "; ".join(f"{t}: |mean| ReLU − ELU {_fmt(iv)}" for t, iv in ivs.items())
    if any(_below(iv, 0.0) for iv in ivs.values()):
        return CONTRADICTED, text
    if ivs and all(_above(iv, 0.0) for iv in ivs.values()):
        return CONFIRMED, text
    return INCONCLUSIVE, text


def derivative_jump(name: str, lo: float = -6.0, hi: float = 6.0, delta: float = 1e-7) -> float:
    """The largest ``|f'(x + δ) − f'(x − δ)|`` over a grid of ``[lo, hi]`` and the catalog's kinks.

    Example:
        >>> derivative_jump("relu"), derivative_jump("gelu") < 1e-5
        (1.0, True)
    """
    fn = getattr(relukit, name)
    x = np.concatenate([np.linspace(lo, hi, 12001), np.array(relukit.get(name).kinks)])
    params = relukit.get(name).example_params
    return float(
        np.max(np.abs(fn.derivative(x + delta, **params) - fn.derivative(x - delta, **params)))
    )


def _smooth(name: str) -> Judge:
    @_needs(name)
    def judge(ev: Evidence) -> tuple[str, str]:
        jump = derivative_jump(name)
        text = f"largest jump of f' (default parameters, catalog's derivative): {jump:.2g}"
        return (CONFIRMED if jump < 1e-4 else CONTRADICTED), text

    return judge


SMOOTH_RULE = (
    "from the catalog, not from training: f' has no jump, i.e. max |f'(x+δ) − f'(x−δ)| < 1e-4 "
    "with δ = 1e-7 on a 1e-3 grid of [−6, 6] plus the kinks (default parameters)"
)
COMPUTE_RULE = (
    "forward+backward time of the activation alone (torch.nn, 65,536 float32, one thread) "
    "divided by ReLU's, interleaved, median per seed: confirmed if the interval is above 1, "
    "contradicted if its upper end is ≤ 1.05 (no more than 5% slower), else inconclusive"
)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "relu",
        "pro",
        "fast",
        "time ratios of every other activation to ReLU (as for the cons): confirmed if none is "
        "faster (no interval below 1) and at least half are slower (interval above 1); "
        "contradicted if one is faster by more than 10% (interval below 0.9)",
        _fast,
    ),
    Claim("relu", "pro", "simple", "a matter of taste, not measured", _not_measured("no measure")),
    Claim(
        "relu",
        "pro",
        "avoids vanishing gradient",
        "20-layer MLP at initialisation (relukit.init: He with each activation's gain): "
        "log10 of the first layer's weight-gradient norm over the last's; confirmed if ReLU's "
        "interval is above −2 (less than 100× shrink) while sigmoid's or tanh's is below −2; "
        "contradicted if ReLU's is below −2",
        _vanishing,
    ),
    Claim(
        "relu",
        "con",
        "dying ReLU",
        "fraction of hidden units never active on the training set after training "
        "(relukit.diagnostics): confirmed if in some task the interval is above 0 with a mean "
        "≥ 1%; contradicted if every run of every task has none; else inconclusive",
        _dying,
    ),
    Claim(
        "leaky_relu",
        "pro",
        "fixes dying neurons",
        "dead fraction after training, ReLU minus Leaky ReLU paired by seed: confirmed if above "
        "0 in every task where ReLU's units died; contradicted if below 0 in some task. (A Leaky "
        "unit counted dead still gets gradient through its slope.)",
        _fixes_dying,
    ),
    Claim("leaky_relu", "con", "slightly more compute", COMPUTE_RULE, _more_compute("leaky_relu")),
    Claim(
        "prelu",
        "pro",
        "flexible",
        "learned slopes after training, mean |a − 0.25| over layers: confirmed if above 0.05 in "
        "every task (the slopes adapt), contradicted if below 0.01 in every task",
        _flexible,
    ),
    Claim(
        "prelu",
        "con",
        "risk of overfitting",
        "train − test accuracy gap, PReLU minus Leaky ReLU paired by seed: confirmed if above "
        "0 in some task and below 0 in none; contradicted if the reverse; else inconclusive",
        _overfitting,
    ),
    Claim("elu", "pro", "smooth negative side", SMOOTH_RULE, _smooth("elu")),
    Claim(
        "elu",
        "pro",
        "better mean activations",
        "mean over hidden layers of |mean activation| after training, ReLU minus ELU paired by "
        "seed: confirmed if above 0 in every task (ELU closer to 0), contradicted if below 0 "
        "in some task",
        _mean_activation,
    ),
    Claim("elu", "con", "slightly slower", COMPUTE_RULE, _more_compute("elu")),
    Claim("gelu", "pro", "smooth", SMOOTH_RULE, _smooth("gelu")),
    Claim(
        "gelu",
        "pro",
        "Gaussian-based",
        "true by definition (x·Φ(x)), not measured",
        _not_measured("definition"),
    ),
    Claim(
        "gelu",
        "pro",
        "used in transformers",
        "a fact about usage, not measured",
        _not_measured("usage"),
    ),
    Claim("gelu", "con", "more complex to compute", COMPUTE_RULE, _more_compute("gelu")),
)


def seed_table() -> dict[str, tuple[list[str], list[str]]]:
    """The seed's table from :data:`CLAIMS`: catalog name -> (pros, cons), in the seed's order.

    Example:
        >>> seed_table()["leaky_relu"]
        (['fixes dying neurons'], ['slightly more compute'])
    """
    table: dict[str, tuple[list[str], list[str]]] = {}
    for c in CLAIMS:
        pros, cons = table.setdefault(c.activation, ([], []))
        (pros if c.side == "pro" else cons).append(c.text)
    return table


def judge(result: CompareResult) -> list[Verdict]:
    """Apply every claim's rule to ``result``.

    Example:
        >>> from relukit.lab._records import CompareResult
        >>> empty = CompareResult({"activations": [], "tasks": []}, {})
        >>> {v.verdict for v in judge(empty)}
        {'not measured'}
    """
    ev = Evidence(result)
    out = []
    for c in CLAIMS:
        verdict, evidence = c.judge(ev)
        out.append(Verdict(c.activation, c.side, c.text, verdict, c.rule, evidence))
    return out
