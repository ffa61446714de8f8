"""Activation specs on the command line, formulas in Unicode, and text any terminal can print.

An activation spec is a catalog name (any case; the class name works too: ``LeakyReLU``) and
optional parameters: ``leaky_relu:negative_slope=0.2``, ``gelu:approximate=tanh``,
``prelu:weight=0.1`` (PReLU's initial slope). Everything is checked against the catalog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import relukit
from relukit._catalog import Activation


class LabError(ValueError):
    """A bad argument of a lab command: the message names it and the accepted values."""


@dataclass(frozen=True)
class ActivationSpec:
    """A catalog entry with parameters, as the lab trains and plots it.

    Attributes:
        name: the catalog name (``"leaky_relu"``).
        params: the parameters given explicitly (the others take the catalog's defaults).

    Example:
        >>> spec = ActivationSpec.parse("LeakyReLU:negative_slope=0.2")
        >>> spec.name, spec.params, spec.label
        ('leaky_relu', {'negative_slope': 0.2}, 'leaky_relu:negative_slope=0.2')
        >>> ActivationSpec.parse("GELU").label
        'gelu'
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def activation(self) -> Activation:
        """The catalog entry."""
        return relukit.get(self.name)

    @property
    def label(self) -> str:
        """``name`` or ``name:k=v,k=v``: what the spec was parsed from, normalised."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in self.params.items())

    @property
    def title(self) -> str:
        """The catalog's title, with the explicit parameters."""
        title = self.activation.title
        return f"{title} ({self.label.split(':', 1)[1]})" if self.params else title

    def full_params(self) -> dict[str, Any]:
        """The catalog's example parameters (defaults, PReLU's slope 0.25) updated by ``params``."""
        return {**self.activation.example_params, **self.params}

    @classmethod
    def parse(cls, text: str) -> ActivationSpec:
        """Parse ``name[:param=value,...]``; :class:`LabError` names what is wrong."""
        name, _, rest = text.strip().partition(":")
        activation = _find(name)
        params: dict[str, Any] = {}
        for item in filter(None, (s.strip() for s in rest.split(","))):
            key, eq, raw = item.partition("=")
            known = ", ".join(p.name for p in activation.params) or "none"
            if not eq:
                raise LabError(f"activation parameter {item!r}: write name=value (known: {known})")
            try:
                param = activation.param(key.strip())
            except KeyError:
                raise LabError(
                    f"{activation.name} has no parameter {key.strip()!r}; its parameters: {known}"
                ) from None
            value: Any = raw.strip()
            if param.kind != "choice":
                try:
                    value = float(value)
                except ValueError:
                    raise LabError(f"{param.name} must be a real number, got {raw!r}") from None
            try:
                params[param.name] = param.check(value)
            except (TypeError, ValueError) as err:
                raise LabError(str(err)) from None
        return cls(activation.name, params)


def _find(name: str) -> Activation:
    key = name.strip().lower()
    for a in relukit.catalog:
        if key in (a.name, a.class_name.lower()):
            return a
    valid = ", ".join(a.name for a in relukit.catalog)
    raise LabError(f"unknown activation {name!r}; valid: {valid}")


def parse_activations(texts: list[str] | tuple[str, ...] | None) -> tuple[ActivationSpec, ...]:
    """Specs for ``texts`` (comma-free items; ``None`` or empty: every catalog entry).

    Example:
        >>> [s.label for s in parse_activations(["relu", "ELU:alpha=0.5"])]
        ['relu', 'elu:alpha=0.5']
        >>> len(parse_activations(None)) == len(relukit.catalog)
        True
    """
    if not texts:
        return tuple(ActivationSpec(a.name) for a in relukit.catalog)
    specs = tuple(ActivationSpec.parse(t) for t in texts)
    labels = [s.label for s in specs]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise LabError(f"activations: {', '.join(dup)} given twice")
    return specs


# --- LaTeX to Unicode -------------------------------------------------------------------------

_SYMBOLS = {
    r"\alpha": "α",
    r"\beta": "β",
    r"\lambda": "λ",
    r"\sigma": "σ",
    r"\Phi": "Φ",
    r"\pi": "π",
    r"\approx": "≈",
    r"\tfrac12": "½",
    r"\left": "",
    r"\right": "",
    r"\!": "",
    r"\,": "·",
    r"\ ": " ",
    r"\max": "max",
    r"\partial": "∂",
    r"\varphi": "φ",
    r"\phi": "φ",
    r"\quad": "   ",
    r"\bigl": "",
    r"\bigr": "",
    r"\le": "≤",
    r"\ge": "≥",
    r"\min": "min",
    r"\log": "log",
    r"\tanh": "tanh",
}
_SUPERSCRIPT = str.maketrans("0123456789x+-", "⁰¹²³⁴⁵⁶⁷⁸⁹ˣ⁺⁻")
_GROUP = r"\{([^{}]*)\}"


def unicode_formula(latex: str) -> str:
    """The catalog's LaTeX formula as readable Unicode math (no backslashes left).

    Example:
        >>> unicode_formula(relukit.get("elu").formula)
        'f(x) = x if x > 0 else α·(eˣ − 1)'
        >>> unicode_formula(r"\\frac{1}{1 + e^{-x}}")
        '1/(1 + e⁻ˣ)'
    """
    s = latex
    s = re.sub(r"\\(?:text|operatorname|mathrm)" + _GROUP, r"\1", s)
    s = s.replace(r"\tfrac12", "½")

    def sup(m: re.Match[str]) -> str:
        body = m[1] if m[1] is not None else m[2]
        if all(c in "0123456789x+-" for c in body):
            return body.translate(_SUPERSCRIPT)
        return "^(" + body + ")"

    s = re.sub(r"\^(?:\{([^{}]*)\}|([0-9a-z]))", sup, s)
    for k, v in _SYMBOLS.items():
        s = re.sub(re.escape(k) + (r"(?![A-Za-z])" if k[-1].isalpha() else ""), v, s)
    s = re.sub(r"\\sqrt" + _GROUP, r"√(\1)", s)
    while True:
        new = re.sub(r"\\frac" + _GROUP + _GROUP, _fraction, s)
        if new == s:
            break
        s = new
    s = s.replace("{", "").replace("}", "").replace(" - ", " − ")
    s = re.sub(r"\\([A-Za-z]+)", r"\1", s)
    return re.sub(r" {2,}", " ", s).strip()


def _fraction(m: re.Match[str]) -> str:
    after = m.string[m.end() : m.end() + 1]
    return f"{_wrap(m[1])}/{_wrap(m[2])}" + ("·" if after.isalpha() or after == "\\" else "")


def _wrap(t: str) -> str:
    return t if re.fullmatch(r"[\w.]+", t) else f"({t})"


# --- text for any stdout ----------------------------------------------------------------------

_ASCII = {
    "α": "alpha",
    "β": "beta",
    "λ": "lambda",
    "σ": "sigma",
    "Φ": "Phi",
    "π": "pi",
    "≈": "~",
    "½": "1/2",
    "√": "sqrt",
    "·": "*",
    "−": "-",
    "–": "-",
    "≤": "<=",
    "≥": ">=",
    "±": "+/-",
    "×": "x",
    "→": "->",
    "…": "...",
    "✓": "+",
    "✗": "x",
    "ˣ": "^x",
    "⁻": "^-",
    "τ": "tau",
    "μ": "mu",
}


def printable(text: str, encoding: str | None) -> str:
    """``text`` unchanged if ``encoding`` can encode it, else with ASCII spellings.

    Example:
        >>> printable("α·(eˣ − 1)", "cp1252")
        'alpha·(e^x - 1)'
        >>> printable("α·(eˣ − 1)", "utf-8")
        'α·(eˣ − 1)'
    """
    encoding = encoding or "ascii"
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        pass
    out = []
    for ch in text:
        try:
            ch.encode(encoding)
            out.append(ch)
        except (UnicodeEncodeError, LookupError):
            out.append(_ASCII.get(ch, "?"))
    return "".join(out)
