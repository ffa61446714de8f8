"""The ``relukit`` command line (also ``python -m relukit``).

``relukit info`` prints the catalog grouped by family (rectifiers, smooth gates, the classical
baselines): every activation's defaults, kink rule and how the other frameworks spell it, then a
value table like the seed's. ``relukit info NAME`` shows one
activation in full. Everything printed is read from the catalog and computed by the NumPy API.
The lab's commands (``relukit compare``, ``relukit report DIR``, ``relukit plot``) live in
``relukit.lab``; ``relukit COMMAND --help`` describes each.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence

import numpy as np

import relukit
from relukit._catalog import FAMILIES
from relukit.lab._spec import printable, unicode_formula

# The seed's inputs: relu of [-3, -0.7, 0, 1.2, 5] is [0, 0, 0, 1.2, 5].
SEED_INPUTS = (-3.0, -0.7, 0.0, 1.2, 5.0)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(row.rstrip() for row in [line, rule, *body])


def _variants(activation: relukit.Activation) -> list[dict]:
    """The example parameters, plus one variant per other value of a choice parameter."""
    base = activation.example_params
    out = [base]
    for p in activation.params:
        out += [{**base, p.name: c} for c in p.choices if c != base[p.name]]
    return out


def _label(activation: relukit.Activation, params: dict) -> str:
    inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{activation.name}({inner})"


def value_table(activations: Sequence[relukit.Activation], *, derivatives: bool = False) -> str:
    """f (and f') at the seed's inputs for each activation and parameter variant."""
    x = np.array(SEED_INPUTS)
    rows = []
    for a in activations:
        fn = getattr(relukit, a.name)
        for params in _variants(a):
            rows.append([_label(a, params), "f", *map(_fmt, fn(x, **params))])
            if derivatives:
                rows.append(["", "f'", *map(_fmt, fn.derivative(x, **params))])
    return _table(["activation", "", *map(_fmt, SEED_INPUTS)], rows)


def by_family() -> list[relukit.Activation]:
    """The catalog's entries, family by family (catalog order within a family)."""
    return [a for family in FAMILIES for a in relukit.catalog if a.family == family]


def catalog_table() -> str:
    """One table per family: name, title, defaults and kink rule of each entry."""
    blocks = []
    for family in FAMILIES:
        rows = []
        for a in relukit.catalog:
            if a.family != family:
                continue
            defaults = ", ".join(f"{k}={v!r}" for k, v in a.example_params.items()) or "-"
            rows.append([a.name, a.title, defaults, a.kink])
        if rows:
            blocks.append(f"{family}:\n" + _table(["name", "title", "defaults", "kink rule"], rows))
    return "\n\n".join(blocks)


def describe(activation: relukit.Activation) -> str:
    wrap = textwrap.TextWrapper(width=100, subsequent_indent="    ")
    lines = [
        f"{activation.title} ({activation.name}), {activation.family}",
        "",
        f"formula:     {unicode_formula(activation.formula)}",
        f"derivative:  {unicode_formula(activation.derivative_formula)}",
        f"kink rule:   {activation.kink}",
        f"special:     {activation.special_values}",
    ]
    if activation.params:
        lines += ["", "parameters (defaults are PyTorch's):"]
        for p in activation.params:
            default = f"initial {p.initial!r}" if p.kind == "weight" else f"default {p.default!r}"
            lines.append(wrap.fill(f"  {p.name} ({default}): {p.doc}"))
    lines += ["", "how other frameworks spell it:"]
    for s in activation.spellings:
        lines.append(wrap.fill(f"  {s.framework}: {s.api}"))
        if s.differs:
            lines.append(wrap.fill(f"    differs: {s.differs}"))
    lines += ["", "references:", *(wrap.fill(f"  {r}") for r in activation.references)]
    for note in activation.notes:
        lines += ["", wrap.fill(note)]
    lines += ["", value_table([activation], derivatives=True)]
    return "\n".join(lines)


def info(name: str | None) -> str:
    if name is not None:
        return describe(relukit.get(name))
    frameworks = []
    for a in by_family():
        for s in a.spellings:
            if s.differs:
                frameworks.append([a.name, s.framework, s.differs])
    return "\n\n".join(
        [
            "relukit catalog: the ReLU family, one contract on every backend",
            catalog_table(),
            "Where other frameworks differ:\n"
            + _table(["name", "framework", "difference"], frameworks),
            "Values at the seed's inputs:\n" + value_table(by_family()),
            "More on one activation: relukit info NAME",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    from relukit.lab import _cli as lab

    parser = argparse.ArgumentParser(prog="relukit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"relukit {relukit.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="the activation catalog, or one activation in full")
    p_info.add_argument(
        "name", nargs="?", choices=[a.name for a in relukit.catalog], help="one activation"
    )
    p_info.add_argument(
        "--native",
        action="store_true",
        help="say whether relukit.torch's native CPU kernels are active, and why not",
    )
    lab.add_commands(sub)
    args = parser.parse_args(argv)
    if args.command == "info":
        text = native_status() if args.native else info(args.name)
        print(printable(text, getattr(sys.stdout, "encoding", None)))
        return 0
    status = lab.run(args)
    return 0 if status is None else status


def native_status() -> str:
    """Whether relukit.torch's native CPU kernels load here (building them if needed), and why."""
    try:
        from relukit.torch import _native
    except ImportError as err:
        return f"relukit.torch native kernels: unavailable ({err})"
    active = _native.ops() is not None
    state = "active" if active else "not active"
    return f"relukit.torch native kernels: {state} ({_native.ops.reason})"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
