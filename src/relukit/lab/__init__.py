"""The lab: measure the seed's pros-and-cons table instead of repeating it (floor 4, DESIGN.md §2).

Experiments return typed records; renderers turn records into the terminal table, JSON,
figures and HTML; the activations come from the catalog (an entry added later appears by
itself). The seed's claims, with the rule that judges each, are data in ``_claims.py``.

- :func:`compare` — train, time and probe every activation over several seeds; returns a
  :class:`CompareResult` whose ``verdicts`` mark each claim confirmed / contradicted /
  inconclusive / not measured. ``relukit compare`` on the command line.
- :func:`train`, :func:`speed`, :func:`gradients` — one experiment each, one record each.
- :func:`terminal`, :func:`to_json`, :func:`to_html`, :func:`figures` — the renderers.

Needs PyTorch and scikit-learn to run experiments, matplotlib to draw (``relukit[all]``).

Example:
    >>> from relukit import lab
    >>> result = lab.compare(["relu", "elu"], datasets=["spirals"], seeds=1, epochs=1, workers=1)
    >>> [run.activation for run in result.runs]
    ['relu', 'elu']
    >>> lab.CompareResult.from_dict(result.to_dict()) == result
    True
"""

from ._claims import CLAIMS, Claim, judge, seed_table
from ._experiments import TASKS, Task, compare, gradients, speed, spirals, train
from ._records import CompareResult, GradientRecord, Interval, RunRecord, SpeedRecord, Verdict
from ._render import figures, terminal, to_html, to_json
from ._spec import ActivationSpec, LabError, parse_activations, unicode_formula

__all__ = [
    "CLAIMS",
    "TASKS",
    "ActivationSpec",
    "Claim",
    "CompareResult",
    "GradientRecord",
    "Interval",
    "LabError",
    "RunRecord",
    "SpeedRecord",
    "Task",
    "Verdict",
    "compare",
    "figures",
    "gradients",
    "judge",
    "parse_activations",
    "seed_table",
    "speed",
    "spirals",
    "terminal",
    "to_html",
    "to_json",
    "train",
    "unicode_formula",
]
