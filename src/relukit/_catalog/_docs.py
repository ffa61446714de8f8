"""Docstrings rendered from a catalog entry: written once here, filled in by each backend.

Every backend's public function and class gets the same core (formula, derivative, kink rule,
special values, how PyTorch/Keras/JAX/TensorFlow differ), an ``Args:`` section whose catalog
parameters come from each ``Param.doc`` (the backend adds its own arguments: ``out``,
``inplace``...), and an example the backend spells in its own idiom from ``Activation.example``,
which doctest runs for every backend.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

from ._spec import Activation, Param

_INDENT = "    "


def param_doc(p: Param, *, weight: str | None = None) -> str:
    """One ``Args:`` line body for a catalog parameter, with ``Default:``."""
    doc = p.doc[0].upper() + p.doc[1:] if p.doc else ""
    if p.kind == "weight":
        return f"{doc}. {weight}" if weight else f"{doc}."
    return f"{doc}. Default: ``{p.default!r}``."


def render(
    activation: Activation,
    *,
    args: Sequence[tuple[str, str]],
    returns: str = "",
    sections: Sequence[tuple[str, str]] = (),
    example: str = "",
) -> str:
    """The full docstring: the catalog core, ``Args:``, ``Returns:``, extra sections, example.

    ``args`` are ``(name, description)`` pairs in signature order; ``sections`` are
    ``(title, body)`` pairs (``"Shape"``, ``"Saved for backward"``...); ``example`` is doctest
    source without indentation.
    """
    parts = [activation.docstring_core()]
    if args:
        parts.append("Args:\n" + "\n".join(_item(name, text) for name, text in args))
    if returns:
        parts.append("Returns:\n" + _block(returns))
    for title, body in sections:
        parts.append(f"{title}:\n" + _block(body))
    if example:
        parts.append("Example:\n" + textwrap.indent(example.strip("\n"), _INDENT))
    return "\n\n".join(parts) + "\n"


def _item(name: str, text: str) -> str:
    return textwrap.fill(
        f"{name}: {text}",
        width=96,
        initial_indent=_INDENT,
        subsequent_indent=_INDENT * 2,
        break_on_hyphens=False,
    )


def _block(text: str) -> str:
    return textwrap.fill(
        " ".join(text.split()),
        width=96,
        initial_indent=_INDENT,
        subsequent_indent=_INDENT,
        break_on_hyphens=False,
    )


def example_lines(
    activation: Activation,
    *,
    setup: Sequence[str],
    call: Callable[[str], str],
    value: Callable[[str], str],
    derivative: Callable[[str], str] | None,
) -> str:
    """Doctest source for ``activation.example`` in one backend's idiom.

    ``call(args)`` spells a call of the function with ``args`` (``"x, negative_slope=0.1"``);
    ``value(expr)`` turns the result ``expr`` into a Python list; ``derivative(args)``, if given,
    spells the derivative (NumPy's ``.derivative``, torch's ``x.grad`` after backward...).
    """
    ex = activation.example
    if ex is None:
        return ""
    params = ", ".join(f"{k}={v!r}" for k, v in ex.params.items())
    args = "x" + (f", {params}" if params else "")
    lines = [f">>> {line}" for line in setup]
    lines.append(f">>> {value(call(args))}")
    lines.append(_floats(ex.value))
    if derivative is not None:
        lines.append(f">>> {value(derivative(args))}")
        lines.append(_floats(ex.derivative))
    return "\n".join(lines)


def example_input(activation: Activation) -> str:
    """The example's inputs as a Python list literal."""
    ex = activation.example
    return _floats(ex.x) if ex is not None else "[]"


def _floats(values: Sequence[float]) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"
