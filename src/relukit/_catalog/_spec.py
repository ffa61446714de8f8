"""The shape of a catalog entry: one activation's math and metadata, written once.

Every backend (NumPy, PyTorch, Keras), the docs, the CLI, the init gains and the tests read these
records; nothing else in relukit keeps its own list of activations or of their defaults.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ParamKind = Literal["real", "choice", "weight"]
Family = Literal["rectifier", "smooth", "classical"]

# The families, in the order ``relukit info`` lists them.
FAMILIES: tuple[Family, ...] = ("rectifier", "smooth", "classical")


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
        nonzero: a ``"real"`` that must not be 0 (it divides: Softplus' ``beta``).
        positive: a ``"real"`` that must be > 0 (CELU's ``alpha``).
    """

    name: str
    kind: ParamKind
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    initial: float | None = None
    nonzero: bool = False
    positive: bool = False

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
            try:
                number = float(value)
            except OverflowError:  # an int beyond float64's range
                number = math.inf
            if not math.isfinite(number):
                raise ValueError(f"{self.name} must be a finite real number, got {value!r}")
            if self.positive and number <= 0:
                raise ValueError(
                    f"{self.name} must be a finite positive real number, got {value!r}"
                )
            if self.nonzero and number == 0:
                raise ValueError(
                    f"{self.name} must be a finite nonzero real number (it divides), got {value!r}"
                )
            return number
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


class Namespace(Protocol):
    """A backend's array namespace: the elementwise operations the catalog's math is written
    against. ``relukit._numpy_ns.NumpyNamespace`` is the reference; ``relukit.torch._namespace``
    and ``relukit.keras._ops`` are the traceable ones (no data-dependent Python, no ``out=``).

    Arrays are the backend's own (NumPy arrays, torch tensors, Keras backend tensors); the
    arithmetic operators (``+ - * /``, comparisons) work on them directly. ``out=`` is honoured
    by the NumPy namespace and refused by the others.

    Attributes:
        exact: ``True`` when results must be float64-exact (double-double arguments, scaled
            exponentials); ``False`` for the wide tier whose results are rounded to float32.
    """

    exact: bool

    def maximum(self, x: Any, b: Any, *, out: Any = None) -> Any:
        """max(x, b); NaN propagates."""
        ...

    def minimum(self, x: Any, b: Any, *, out: Any = None) -> Any:
        """min(x, b); NaN propagates."""
        ...

    def add(self, a: Any, b: Any, *, out: Any = None) -> Any:
        """a + b."""
        ...

    def clip(self, x: Any, lo: float, hi: float, *, out: Any = None) -> Any:
        """x clipped to [lo, hi]; NaN stays NaN."""
        ...

    def abs(self, x: Any) -> Any:
        """|x|."""
        ...

    def exp(self, x: Any) -> Any:
        """e^x."""
        ...

    def expm1(self, x: Any) -> Any:
        """e^x − 1 without cancellation near 0."""
        ...

    def log1p(self, x: Any) -> Any:
        """log(1 + x) without cancellation near 0."""
        ...

    def tanh(self, x: Any) -> Any:
        """tanh(x), within 1 ulp (the platform's)."""
        ...

    def scale(self, a: Any, v: Any) -> Any:
        """a·v; where a is 0, a·clip(v, −1, 1): the zero slope's signed 0 (±inf·0 is NaN)."""
        ...

    def select(self, cond: Any, a: Any, b: Any, *, out: Any = None) -> Any:
        """``a`` where ``cond`` else ``b`` (finite a and b; exact)."""
        ...

    def select_positive(self, x: Any, positive: Any, nonpositive: Any, *, out: Any = None) -> Any:
        """``positive`` where x > 0, ``nonpositive`` where x ≤ 0, NaN where x is NaN: the kink
        rule in one place."""
        ...

    def exp_neg(self, a: Any, a_lo: Any = 0.0) -> tuple[Any, Any]:
        """exp(−(a + a_lo)) as ``(m, k)``, the value m·2⁻ᵏ (k may be the int 0)."""
        ...

    def ldexp(self, v: Any, k: Any, *, out: Any = None) -> Any:
        """v·2⁻ᵏ, rounded once."""
        ...

    def gaussian(self, x: Any) -> tuple[Any, Any, Any]:
        """``(Φ_m, φ_m, k)`` with Φ(x) = Φ_m·2⁻ᵏ and φ(x) = φ_m·2⁻ᵏ, for finite |x| ≤ 40."""
        ...

    def two_prod(self, a: Any, b: Any, b_split: Any = None) -> tuple[Any, Any]:
        """a·b = p + e exactly (Dekker)."""
        ...

    def two_sum(self, a: Any, b: Any) -> tuple[Any, Any]:
        """a + b = s + e exactly (Knuth)."""
        ...


ActivationFn = Callable[..., Any]


@dataclass(frozen=True)
class Example:
    """A worked example every backend renders as a doctest (values typed from mpmath).

    Attributes:
        x: the inputs.
        params: the parameters (a weight is a scalar slope here).
        value: f(x), to the printed precision (doctest's NUMBER option compares to it).
        derivative: f'(x), the kink rule applied.
    """

    x: tuple[float, ...]
    params: Mapping[str, Any]
    value: tuple[float, ...]
    derivative: tuple[float, ...]


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
        piecewise_linear: ``True`` for the piecewise-linear entries (ReLU, Leaky ReLU, PReLU,
            ReLU6): exact in their own dtype, so computed in it (half types in float32).
        family: ``"rectifier"`` (identity for x > 0, a linear, flat or exponential x ≤ 0 part:
            ReLU, Leaky ReLU, PReLU, ELU, SELU, CELU, ReLU6), ``"smooth"`` (x times a gate
            rising from 0 to 1, and Softplus: GELU, SiLU, Mish, Hardswish), or ``"classical"``
            (the bounded baselines sigmoid and tanh); ``relukit info`` groups by it.
        kinks: where f' jumps (``()`` for a smooth entry); the gains' quadrature splits there.
        kink_rule: the sentence stating which branch f' takes at the kinks, when it is not the
            default ``x ≤ 0`` branch (ReLU6, Hardswish: PyTorch's reverse mode).
        output_derivative: ``output_derivative(ns, y, **params)`` → f'(f⁻¹(y)), where the output
            determines the derivative (invertible on each branch): exact for the output y as
            rounded, within the contract's tolerance of f' at the real input that gives exactly
            y (an output rounded beyond the function's limit gets the limit's f'). Backends may
            then save the output instead of the input for backward.
        output_dtypes: the dtypes (names) in which ``output_derivative`` of the rounded output
            is also within the contract's tolerance of f'(x) for the input x itself, everywhere;
            the others save the input, unless a caller asks for the output anyway
            (``relukit.torch``'s ``save="output"``, see :attr:`offers_output_save`).
        output_requires: ``output_requires(**params)`` → ``None`` where the output determines
            f' for these parameters, else the condition it needs, as text (ELU: a negative
            alpha maps x ≤ 0 to outputs ≥ 0); ``None`` (the field): every parameter value.
        output_note: why the output is (or is not) saved, for the docstrings.
        few_bit: the output does not determine f' (GELU, SiLU, Mish), so an exact backward keeps
            the input; ``relukit.torch`` then offers ``backward_bits`` (Few-Bit Backward), with a
            table per configuration of the choice parameters (``few_bit_targets``).
        notes: further paragraphs for the docstrings (approximation error bounds...).
        class_name: the module/layer class name in ``relukit.torch`` and ``relukit.keras``,
            which is also the ``torch.nn`` class it replaces (``"LeakyReLU"``).
        inplace: ``torch.nn.functional`` has an ``inplace=`` flag for it (relu, leaky, elu, silu).
        example: the worked example rendered into every backend's docstring.
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
    family: Family
    weight_derivative: ActivationFn | None = None
    nonpositive_slope: ActivationFn | None = None
    keeps_integers: bool = False
    notes: tuple[str, ...] = field(default=())
    class_name: str = ""
    inplace: bool = False
    example: Example | None = None
    kinks: tuple[float, ...] = ()
    kink_rule: str = ""
    output_derivative: ActivationFn | None = None
    output_dtypes: tuple[str, ...] = ()
    output_requires: Callable[..., str | None] | None = None
    output_note: str = ""
    few_bit: bool = False

    def saves_output(self, dtype: str) -> bool:
        """Whether backward can use the output of a ``dtype`` result (a dtype name)."""
        return self.output_derivative is not None and dtype in self.output_dtypes

    def output_refusal(self, params: Mapping[str, Any]) -> str | None:
        """Why the output does not determine f' for these (checked) parameters, or ``None``."""
        if self.output_derivative is None:
            return "a function of the output for f'"
        return self.output_requires(**params) if self.output_requires else None

    @property
    def offers_output_save(self) -> bool:
        """Whether saving the output is a choice: the output determines f' (exactly for the
        output), but not within the contract for the input in every dtype, so the exact
        backward saves the input there and ``save="output"`` trades that for memory."""
        every = ("float64", "float32", "float16", "bfloat16")
        return self.output_derivative is not None and not all(map(self.saves_output, every))

    @property
    def defaults(self) -> Mapping[str, Any]:
        """The parameters' defaults (weights excluded), PyTorch's."""
        return {p.name: p.default for p in self.params if p.kind != "weight"}

    @property
    def example_params(self) -> dict[str, Any]:
        """Defaults plus each weight at its initial value: a complete, typical parameter set."""
        return {p.name: p.initial if p.kind == "weight" else p.default for p in self.params}

    def compute_bits(self, bits: int) -> int:
        """Width of the float dtype relukit computes in, for a floating result of ``bits``.

        Piecewise-linear entries are exact in their own dtype (half types widen to float32:
        rounded once); the others compute in float64 and round once, which puts float32 results
        within 0.5 ulp of the float64 formula. NumPy and torch's generic path follow it;
        relukit.keras computes float32 in float32 (jax has no float64 without x64, and float64
        is slow on accelerators), within the per-backend bounds ``tests/cases.py`` records.
        """
        if not self.piecewise_linear or bits > 64:
            return 64
        return max(bits, 32)

    def param(self, name: str) -> Param:
        """The parameter called ``name``; ``KeyError`` listing the known ones otherwise."""
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise KeyError(f"{self.name} has no parameter {name!r}; its parameters: {known}")

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters given positionally (after the input) and by keyword, checked.

        The one place every backend merges ``f(x, 0.1)`` and ``f(x, negative_slope=0.1)``.

        Raises:
            TypeError: too many positional arguments, one given twice, a missing weight, or
                any error of :meth:`check_params`.
        """
        names = [p.name for p in self.params]
        if len(args) > len(names):
            raise TypeError(
                f"{self.name} takes at most {len(names) + 1} positional arguments "
                f"({len(args) + 1} given)"
            )
        params = dict(zip(names, args, strict=False))
        for key in kwargs:
            if key in params:
                raise TypeError(f"{self.name} got multiple values for {key!r}")
        params.update(kwargs)
        for p in self.params:
            if p.kind == "weight" and p.name not in params:
                raise TypeError(f"{self.name} missing required argument {p.name!r}")
        return self.check_params(**params)

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
            f"Kink rule: {self.kink} ("
            + (
                self.kink_rule
                or "the derivative takes the ``x ≤ 0`` branch at a kink, as PyTorch's reverse "
                "mode does"
            )
            + "; relukit uses it in forward mode too).",
            f"Special values: {self.special_values}; NaN propagates through values and "
            "derivatives.",
        ]
        differing = [s for s in self.spellings if s.differs]
        if differing:
            lines.append("")
            lines.append("Differences from other frameworks:")
            lines.extend(f"    {s.framework} (``{s.api}``): {s.differs}" for s in differing)
        for note in self.notes:
            lines.extend(["", note])
        return "\n".join(lines)
