"""The shape of a catalog entry: one activation's math and metadata, written once.

Every backend (NumPy, PyTorch, Keras), the docs, the CLI, the init gains and the tests read these
records; nothing else in relukit keeps its own list of activations or of their defaults.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ParamKind = Literal["real", "choice", "weight"]


@dataclass(frozen=True)
class Param:
    """One parameter of an activation.

    Attributes:
        name: the keyword, spelled as in ``torch.nn.functional`` (``negative_slope``, ``alpha``...).
        kind: ``"real"`` (any finite real number), ``"choice"`` (one of ``choices``) or
            ``"weight"`` (a learned array, PReLU's slopes).
        default: the default, PyTorch's; ``None`` for a weight.
        doc: one line for docstrings and ``relukit info``.
        choices: the accepted values of a ``"choice"`` parameter.
        initial: a weight's conventional initial value (PReLU: 0.25, He et al. and PyTorch).
    """

    name: str
    kind: ParamKind
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    initial: float | None = None

    def check(self, value: Any) -> Any:
        """Return ``value`` normalised, or raise an error that names this parameter.

        Reals must be finite and real (a ``bool`` is refused: ``True`` as a slope is a bug);
        choices must be one of the listed strings. Weights are checked by the backend that
        knows their shape.
        """
        if self.kind == "real":
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(
                    f"{self.name} must be a finite real number, got {value!r} "
                    f"of type {type(value).__name__}"
                )
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{self.name} must be a finite real number, got {value!r}")
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(
                    f"{self.name} must be one of {', '.join(map(repr, self.choices))}; "
                    f"got {value!r}"
                )
            return value
        return value


@dataclass(frozen=True)
class Spelling:
    """How another framework spells this activation, and where its defaults differ from ours.

    Attributes:
        framework: ``"PyTorch"``, ``"Keras 3"``, ``"JAX"`` or ``"TensorFlow"``.
        api: the functional and/or layer spelling with its defaults.
        differs: how its default or kink behaviour differs from relukit's (empty if it does not).
    """

    framework: str
    api: str
    differs: str = ""


# A backend's array namespace: the elementwise operations the catalog's math is written against
# (``maximum``, ``minimum``, ``add``, ``multiply``, ``clip``, ``abs``, ``exp``, ``expm1``,
# ``select``, ``select_positive``, ``gaussian``, ``exp_neg``, ``ldexp``, ``two_prod``, ``two_sum``
# and the flag ``exact``); ``relukit._numpy_ns.NumpyNamespace`` is the reference one.
Namespace = Any
ActivationFn = Callable[..., Any]


@dataclass(frozen=True)
class Activation:
    """A catalog entry: an activation function's math and everything said about it.

    The math is written against an array namespace ``ns`` so that the same lines serve as the
    NumPy implementation and as the reference the other backends are tested against.

    Attributes:
        name: the identifier (``relukit.get(name)``, function names in every backend).
        title: the human name (``"Leaky ReLU"``).
        params: the parameters after the input, in positional order.
        forward: ``forward(ns, x, **params)`` → f(x).
        derivative: ``derivative(ns, x, **params)`` → f'(x), the kink rule applied.
        weight_derivative: PReLU only: ``weight_derivative(ns, x)`` → ∂f/∂a elementwise.
        nonpositive_slope: piecewise-linear entries only: ``nonpositive_slope(**params)`` → the
            slope for x ≤ 0, so backends can compute ``grad·f'`` as one select.
        keeps_integers: integer and bool inputs keep their dtype (ReLU: max(0, x) is exact in
            them); every other activation promotes them to floating point.
        formula: f in LaTeX.
        derivative_formula: f' in LaTeX.
        kink: the derivative at the kink under relukit's rule (``x ≤ 0`` branch), as text.
        special_values: values at ±inf and NaN, as text.
        references: the papers.
        spellings: PyTorch / Keras 3 / JAX / TensorFlow spellings and how they differ.
        piecewise_linear: ``True`` for ReLU, Leaky ReLU and PReLU (positively homogeneous).
        notes: further paragraphs for the docstrings (approximation error bounds...).
    """

    name: str
    title: str
    params: tuple[Param, ...]
    forward: ActivationFn
    derivative: ActivationFn
    formula: str
    derivative_formula: str
    kink: str
    special_values: str
    references: tuple[str, ...]
    spellings: tuple[Spelling, ...]
    piecewise_linear: bool
    weight_derivative: ActivationFn | None = None
    nonpositive_slope: ActivationFn | None = None
    keeps_integers: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def defaults(self) -> Mapping[str, Any]:
        """The parameters' defaults (weights excluded), PyTorch's."""
        return {p.name: p.default for p in self.params if p.kind != "weight"}

    @property
    def example_params(self) -> dict[str, Any]:
        """Defaults plus each weight at its initial value: a complete, typical parameter set."""
        return {p.name: p.initial if p.kind == "weight" else p.default for p in self.params}

    def param(self, name: str) -> Param:
        """The parameter called ``name``; ``KeyError`` listing the known ones otherwise."""
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise KeyError(f"{self.name} has no parameter {name!r}; its parameters: {known}")

    def check_params(self, **params: Any) -> dict[str, Any]:
        """Validate keyword parameters, fill in defaults, and return them normalised.

        Raises:
            TypeError: an unknown keyword, or a parameter of the wrong type (named).
            ValueError: a parameter out of range (named, with what is accepted).
        """
        known = {p.name for p in self.params}
        unknown = set(params) - known
        if unknown:
            raise TypeError(
                f"{self.name} got unexpected parameter(s) {', '.join(sorted(unknown))}; "
                f"it takes: {', '.join(sorted(known)) or 'none'}"
            )
        out = {}
        for p in self.params:
            if p.name in params:
                out[p.name] = p.check(params[p.name])
            elif p.kind != "weight":
                out[p.name] = p.default
        return out

    def docstring_core(self) -> str:
        """The backend-independent part of every backend's docstring for this activation."""
        lines = [
            f"{self.title}: :math:`{self.formula}`.",
            "",
            f"Derivative: :math:`{self.derivative_formula}`.",
            f"Kink rule: {self.kink} (the derivative takes the ``x ≤ 0`` branch at a kink, "
            "as PyTorch's reverse mode does; relukit uses it in forward mode too).",
            f"Special values: {self.special_values}; NaN propagates through values and "
            "derivatives.",
        ]
        if self.params:
            lines.append("")
            lines.append("Parameters and defaults (PyTorch's):")
            for p in self.params:
                default = "" if p.kind == "weight" else f" Default: ``{p.default!r}``."
                lines.append(f"    {p.name}: {p.doc}{default}")
        differing = [s for s in self.spellings if s.differs]
        if differing:
            lines.append("")
            lines.append("Differences from other frameworks:")
            lines.extend(f"    {s.framework} (``{s.api}``): {s.differs}" for s in differing)
        for note in self.notes:
            lines.extend(["", note])
        return "\n".join(lines)
