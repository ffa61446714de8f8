"""Render README.md's tables of measurements from ``benchmarks/results/*.json``, and its contract
table from the activation catalog (``catalog.contract``: a new entry appears by itself).

Each generated table sits between two markers, named after its results file and table::

    <!-- generated: torch_speed.modules (scripts/render_readme.py) -->
    ...
    <!-- end generated -->

Run ``python scripts/render_readme.py`` after a benchmark to rewrite every block in place, and
``python scripts/render_readme.py --check`` to exit 1 with a diff when README.md differs
(``tests/test_readme_figures.py`` runs the check).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"
SCRIPT = "scripts/render_readme.py"
BLOCK = re.compile(
    r"(?P<start><!-- generated: (?P<name>[\w.]+) \(" + re.escape(SCRIPT) + r"\) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<end><!-- end generated -->)",
    flags=re.S,
)

T = TypeVar("T")
Row = dict[str, Any]


def load(stem: str) -> Any:
    """The parsed ``benchmarks/results/<stem>.json``."""
    return json.loads((RESULTS / f"{stem}.json").read_text(encoding="utf-8"))


def table(header: Sequence[str], align: str, rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; ``align`` has one letter per column, ``l`` (---) or ``r`` (---:)."""
    assert len(align) == len(header), (align, header)
    sep = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
    lines = ["| " + " | ".join(header) + " |", sep]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def pick(rows: Sequence[Row], key: str, wanted: Mapping[str, T]) -> list[tuple[Row, T]]:
    """The rows whose ``key`` is in ``wanted``, in ``wanted``'s order, each with its value."""
    by_key = {r[key]: r for r in rows}
    return [(by_key[k], v) for k, v in wanted.items()]


def mib(n: float) -> str:
    return f"{n / 2**20:.2f} MiB"


# --- PyTorch -----------------------------------------------------------------------------------


def torch_memory_modules() -> str:
    """Saved-for-backward bytes; few-bit rows (no torch.nn twin) are set beside torch.nn's GELU."""
    rows = load("torch_memory")["rows"]
    exact_gelu = next(r["torch_nn"] for r in rows if r["activation"] == "GELU()")
    cells = [
        (
            label,
            "—" if r["torch_nn"] is None else mib(r["torch_nn"]),
            mib(r["relukit"]),
            f"{r['relukit'] / (r['torch_nn'] or exact_gelu):.2f}",
        )
        for r, label in ((r, r["activation"]) for r in rows)  # every row the benchmark ran
    ]
    return table(("activation", "torch.nn", "relukit", "relukit / torch.nn"), "lrrr", cells)


def grad_error_output_save() -> str:
    """``save="output"``'s gradient against f'(x): relative (the tails) and absolute."""
    dtypes = ("float64", "float32", "float16", "bfloat16")
    relative = {(r["case"], r["dtype"]): r["error"] for r in load("grad_error")}
    absolute = {(r["case"], r["dtype"]): r["error"] for r in load("grad_error_absolute")}
    cells = []
    for case in dict.fromkeys(c for c, _ in absolute):
        rel = [relative[(f"{case} save='output'", d)] for d in dtypes]
        ab = [absolute[(case, d)] for d in dtypes]
        cells.append((case, *(f"{v:.2g}" for v in rel), *(f"{v:.2f}" for v in ab)))
    header = ("case", *(f"relative, {d}" for d in dtypes), *(f"absolute, {d}" for d in dtypes))
    return table(header, "l" + "r" * 8, cells)


def torch_speed_modules() -> str:
    speed = load("torch_speed")
    rows = speed["rows"]
    cells = [(r["activation"], f"{r['ratio']:.2f}", r.get("runs", "")) for r in rows]
    bandwidth = [r["copy_GBps"] for r in rows]
    return (
        table(("module", "relukit / torch.nn", "what runs"), "lrl", cells)
        + f"\n\n`copy_` ran at {min(bandwidth):.0f}–{max(bandwidth):.0f} GB/s beside these rows "
        f"({speed['threads']} threads)."
    )


def spread(values: Sequence[float]) -> str:
    """``lo–hi`` to two decimals, or one figure where they round alike."""
    lo, hi = f"{min(values):.2f}", f"{max(values):.2f}"
    return lo if lo == hi else f"{lo}–{hi}"


def torch_speed_notes() -> str:
    """What the module ratios are made of: the kernels alone, a training step, and what
    torch.nn's float32 kernels give up for their speed (benchmarks/ulp_report.py)."""
    speed = load("torch_speed")
    kernels = {r["kernel"]: r["ratio"] for r in speed["kernel_rows"]}
    rectifier = [v for k, v in kernels.items() if k.startswith(("relu", "leaky_relu"))]
    steps = [r["ratio"] for r in speed["model_step_rows"]]
    worst: dict[str, float] = {}
    for r in load("ulp_torch_nn"):
        worst[r["entry"]] = max(worst.get(r["entry"], 0.0), r["float32"]["ulp"])
    over = sorted((e for e, u in worst.items() if u > 1.0), key=lambda e: -worst[e])
    natives = [
        r["activation"].removesuffix("()")
        for r in speed["rows"]
        if r["runs"] == "native" and r["activation"].endswith("()")
    ]
    within = sorted(e for e, u in worst.items() if u <= 1.0)
    modules = {r["activation"]: r["ratio"] for r in speed["rows"]}
    controls = {r["activation"]: r["ratio"] for r in speed["control_rows"]}
    bare = [v for k, v in controls.items() if "bare module" in k]
    same = [v for k, v in controls.items() if "against itself" in k]
    return (
        f"The native kernels alone take {spread(rectifier)}× ATen's time "
        f"for ReLU and Leaky ReLU (their backward used to read the gradient through AVX-512 "
        f"masked loads, which stalled on one thread of this AMD CPU; now every lane reads it). "
        f"With autograd, the native op called from a bare module takes "
        f"{spread(bare)}× torch.nn's time, and the modules above "
        f"{modules['ReLU()']:.2f}× and {modules['LeakyReLU()']:.2f}×, in the same rounds where "
        f"torch.nn's module against itself measures {spread(same)}× (the "
        f"controls in `benchmarks/results/torch_speed.md`). The native ops but PReLU build "
        f"their autograd nodes by hand, as ATen's generated code builds its own "
        f"(`torch::autograd::Function`'s bookkeeping cost ReLU and Leaky ReLU more than the "
        f"kernels' own differences; the C++ "
        f"file's header), and a module calls its op directly once it has looked it up for the "
        f"input's dtype. "
        f"Inside a model the activation's cost mostly disappears: one training step of the "
        f"memory benchmark's MLP takes {spread(steps)}× torch.nn's time, "
        f"every activation included.\n\n"
        f"The smooth entries cost more because torch.nn's float32 kernels compute in float32 and "
        f"break the 1-ulp contract: on the contract's own grids (`benchmarks/results/ulp.md`, "
        f"last table) their worst float32 error, value or gradient, is "
        + ", ".join(f"{e} {worst[e]:.3g}" for e in over)
        + " ulp (inf: a NaN or an overflow where the true result is finite). relukit computes "
        "these in float64 and rounds once: relukit's native kernels "
        f"({', '.join(natives)}), else ATen's float64 kernels rounded once. torch.nn stays "
        f"within 1 ulp on those grids only for {', '.join(within)}."
    )


def fewbit_table_errors() -> str:
    """The few-bit tables (exact GELU, SiLU, Mish): Gaussian-weighted l2 against the
    uniform-optimal tables (the tanh form's GELU tables agree with the exact one's to 3 digits)."""
    record = load("fewbit")
    bytes_per_element = record["memory"]["gelu_layer_bytes_per_element"]
    cells = [
        (
            target,
            k,
            f"{t['ours_gaussian_l2']:#.3g}",
            f"{t['uniform_gaussian_l2']:#.3g}",
            f"{t['ratio_l2']:.2f} ({t['ratio_mse']:.2f})",
            f"{t['ours_max_abs']:#.3g}",
            f"{bytes_per_element[k]:g}",
        )
        for target, tables in record["tables"]["tables"].items()
        if target != "gelu_tanh"
        for k, t in tables.items()
    ]
    header = (
        "f'",
        "k",
        "l2, ours",
        "l2, uniform-optimal",
        "ratio (squared)",
        "max, ours",
        "bytes/element",
    )
    return table(header, "lllllll", cells)


def fewbit_summary() -> str:
    """Saved bytes and the training check of the few-bit backward, from the benchmark."""
    record = load("fewbit")
    m, t = record["memory"], record["training"]
    mib = {name: b / 2**20 for name, b in m["bytes"].items()}
    kinds = [kind for kind in t if kind != "steps"]
    exact = ", ".join(f"exact {kind} {mib[f'{kind} exact']:.2f} MiB" for kind in kinds)
    four = ", ".join(f"{kind} {mib[f'{kind} 4-bit']:.2f}" for kind in kinds)
    gaps = ", ".join(f"{kind} {t[kind]['relative_gap']:.2%}" for kind in kinds)
    return (
        f"- **Memory** (MLP 4 × [Linear(1024, 1024) → act] → Linear(1024, 10), batch 256, "
        f"float32, bytes saved for backward): ReLU {mib['relu']:.2f} MiB, {exact}; with 4 bits "
        f"{four} MiB = ReLU + 1/8 of the hidden activations "
        f"({'met' if m['meets_target'] else 'NOT met'} for every one).\n"
        f"- **Training**: on a synthetic 10-class task with that MLP ({t['steps']} Adam steps, "
        f"same seed), the final training loss with the 4-bit backward differs from the exact "
        f"one's by {gaps} (`benchmarks/results/fewbit.md`)."
    )


# --- Initialisation ----------------------------------------------------------------------------


def gains_activations() -> str:
    rows = load("gains")["rows"]
    cells = [
        (
            r["activation"],
            r["parameters"],
            f"{r['forward']:.10f}",
            f"{r['backward']:.10f}",
            "raises" if r["torch_calculate_gain"] is None else f"{r['torch_calculate_gain']:.10f}",
        )
        for r in rows
    ]
    header = ("activation", "parameters", "forward", "backward", "`torch.nn.init.calculate_gain`")
    return table(header, "llrrr", cells)


BORN_DEAD = {"he": "He", "rai": "RAI", "ours": "ours"}  # P(dead) columns
COLLAPSE = {"he": "He", "rai": "RAI", "rai_he": "RAI at He's energy", "ours": "ours"}  # ratios


def ratio(x: float) -> str:
    """A median std ratio as ``born_dead.md`` writes it: 0, 2 digits, or 2-digit scientific."""
    return "0" if x == 0 else f"{x:.2g}" if 1e-3 <= x < 1e3 else f"{x:.1e}"


def born_dead_cells() -> str:
    cells = [
        (
            f"{c['width']} × {c['depth']}",
            *(f"{c[k]['p_dead']:.3f}" for k in BORN_DEAD),
            *(ratio(c[k]["median_ratio"]) for k in COLLAPSE),
        )
        for c in load("born_dead")["cells"]
    ]
    header = (
        "width × depth",
        *(f"{name} P(dead)" for name in BORN_DEAD.values()),
        *(f"{name} ratio" for name in COLLAPSE.values()),
    )
    return table(header, "l" + "r" * (len(header) - 1), cells)


# --- Measured (NumPy) --------------------------------------------------------------------------

NUMPY_SIZE = 1_000_000
COPY_SIZE = 10_000_000


def numpy_ratios() -> str:
    """relukit / textbook time at 1e6 elements, forward and backward (as in ``numpy.md``)."""
    rows = [
        r for r in load("numpy")["rows"] if r["size"] == NUMPY_SIZE and r["baseline"] == "textbook"
    ]
    backward = {(r["activation"], r["dtype"]): r for r in rows if r["mode"] == "backward"}
    cells = [
        (
            r["activation"],
            r["dtype"],
            f"{r['ratio']:.2f}",
            f"{backward[r['activation'], r['dtype']]['ratio']:.2f}",
            f"{r['relukit_s'] * 1e3:.2f}",
            f"{r['copy_gbs']:.1f}",
        )
        for r in rows
        if r["mode"] == "forward"
    ]
    header = (
        "activation",
        "dtype",
        "forward ratio",
        "backward ratio",
        "forward ms",
        "copy GB/s",
    )
    return table(header, "llllll", cells)


def numpy_copy_bandwidth() -> str:
    """``relu(x, out=buf)`` against ``np.copyto`` at 1e7 elements."""
    cells = [
        (
            r["dtype"],
            f"{r['size']:,}",
            f"{r['relukit_gbs']:.1f}",
            f"{r['copy_gbs']:.1f}",
            f"{1 / r['ratio']:.2f}",
        )
        for r in load("numpy")["rows"]
        if r["baseline"] == "np.copyto" and r["size"] == COPY_SIZE
    ]
    header = ("dtype", "size", "relu GB/s", "copy GB/s", "fraction of copy")
    return table(header, "lllll", cells)


ULP_DTYPES = ("float16", "float32", "float64")
GELU_FORMS = {"gelu(approximate=none)": "gelu (exact)", "gelu(approximate=tanh)": "gelu (tanh)"}


def ulp_numpy() -> str:
    """Worst ulps per function (over its parameter samples), value and f', per dtype."""
    rows = load("ulp")
    worst: dict[str, list[float]] = {}
    for r in rows:
        name = GELU_FORMS.get(r["case"], r["case"].split("(")[0])
        label = name if r["which"] == "value" else f"{name}, f'"
        ulps = [r[d]["ulp"] for d in ULP_DTYPES]
        worst[label] = [max(a, b) for a, b in zip(worst.get(label, ulps), ulps, strict=True)]
    header = (
        "function",
        *(f"{d} (budget {rows[0][d]['budget']:g})" for d in ULP_DTYPES),
    )
    cells = [(label, *(f"{u:.2f}" for u in ulps)) for label, ulps in worst.items()]
    return table(header, "lrrr", cells)


# --- the catalog ---------------------------------------------------------------------------------


def catalog_contract() -> str:
    """The contract table: every catalog entry, family by family, from its record."""
    import relukit
    from relukit._catalog import FAMILIES

    def signature(a: Any) -> str:
        params = [
            p.name if p.kind == "weight" else f"{p.name}={p.default!r}".replace("'", '"')
            for p in a.params
        ]
        return f"`{a.name}({', '.join(params)})`" if params else f"`{a.name}`"

    def math(tex: str) -> str:
        return "$" + tex.replace("|", r"\vert ") + "$"

    cells = [
        (signature(a), a.family, math(a.formula), a.kink, a.special_values.replace("|", "/"))
        for family in FAMILIES
        for a in relukit.catalog
        if a.family == family
    ]
    header = ("activation", "family", "value", "f' at the kinks", "special values")
    return table(header, "lllll", cells)


def monitor_overhead_ratios() -> str:
    """Training step with UnitMonitor over the bare step (paired medians), per model."""
    result = load("monitor_overhead")
    cells = [
        (
            name,
            f"{r['bare_ms']:.2f}",
            f"{r['monitor / bare']:.3f}",
            f"{r['monitor, gradients=True / bare']:.3f}",
        )
        for name, r in result["rows"].items()
    ]
    header = ("model (CPU)", "bare step ms", "monitor / bare", "monitor, gradients=True / bare")
    return table(header, "lrrr", cells)


def dying_digits_arms() -> str:
    """Dead fraction and accuracy of the plain and recycled arms, per seed."""
    rows = load("dying_digits")["rows"]
    cells = []
    for r in rows:
        p, q = r["plain"], r["recycled"]
        steps = ", ".join(f"{e['dead_before']:.0%} → {e['dead_after']:.0%}" for e in q["recycling"])
        cells.append(
            (
                str(r["seed"]),
                f"{p['dead_end']:.1%}",
                f"{p['accuracy']:.3f}",
                steps,
                f"{q['dead_end']:.1%}",
                f"{q['accuracy']:.3f}",
            )
        )
    header = (
        "seed",
        "plain: dead at end",
        "plain: test acc",
        "recycled: dead before → after each recycling",
        "recycled: dead at end",
        "recycled: test acc",
    )
    return table(header, "rrrlrr", cells)


def dying_digits_report() -> str:
    """The plain arm's last printed report (seed 0), as ``print(report)`` shows it."""
    head, body = load("dying_digits")["printed_reports"][-1].split("\n", 1)
    return f"{head}:\n\n```\n{body}\n```"


def _benchmark(module: str) -> Any:
    """A module of ``benchmarks/`` (its renderer: one table code for the results file and the
    README)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return __import__(module)
    finally:
        sys.path.pop(0)


def keras_speed_tables() -> str:
    """The per-backend training-step and per-layer tables, as benchmarks/results/keras_speed.md
    has them (the same renderer), without its title."""
    text = _benchmark("bench_keras_speed")._markdown(load("keras_speed"))
    return text.split("\n", 2)[2].strip()


def keras_ulp_bounds() -> str:
    """The worst error per backend and dtype (the first table of keras_ulp.md, same renderer)."""
    text = _benchmark("keras_ulp_report").markdown(load("keras_ulp"))
    body = text.split("\n", 2)[2].strip()
    return body.split("\n\n| case |", 1)[0].strip()


def compare_default() -> str:
    """A default ``relukit compare`` run's tables as printed (benchmarks/bench_compare_time.py
    writes them), with its wall time, CPU time and the machine's load."""
    t = load("compare_time")
    text = (RESULTS / "compare_default.txt").read_text(encoding="utf-8")
    table = text.split("\nEvidence:", 1)[0].strip()  # the evidence lines stay in the file
    load_avg = t["load_average_before"][0]
    return (
        f"A default run took {t['wall_seconds']:.0f} s of wall time and {t['cpu_seconds']:.0f} s "
        f"of CPU time on {t['cpus_usable']} cores (load average {load_avg:.1f} when it started; "
        "`benchmarks/results/compare_time.json`):\n\n```text\n" + table + "\n```"
    )


RENDERERS: dict[str, Callable[[], str]] = {
    "catalog.contract": catalog_contract,
    "torch_memory.modules": torch_memory_modules,
    "grad_error.output_save": grad_error_output_save,
    "torch_speed.modules": torch_speed_modules,
    "torch_speed.notes": torch_speed_notes,
    "fewbit.table_errors": fewbit_table_errors,
    "fewbit.summary": fewbit_summary,
    "gains.activations": gains_activations,
    "born_dead.cells": born_dead_cells,
    "numpy.ratios": numpy_ratios,
    "numpy.copy_bandwidth": numpy_copy_bandwidth,
    "ulp.numpy": ulp_numpy,
    "monitor_overhead.ratios": monitor_overhead_ratios,
    "dying_digits.arms": dying_digits_arms,
    "dying_digits.report": dying_digits_report,
    "keras_speed.tables": keras_speed_tables,
    "keras_ulp.bounds": keras_ulp_bounds,
    "compare_time.default": compare_default,
}


# --- README ------------------------------------------------------------------------------------


def block_names(text: str) -> list[str]:
    """The names of the generated blocks in ``text``, in order."""
    return [m["name"] for m in BLOCK.finditer(text)]


def render(text: str) -> str:
    """``text`` with every generated block's body replaced by its fresh rendering."""

    def body(m: re.Match[str]) -> str:
        return f"{m['start']}\n{RENDERERS[m['name']]()}\n\n{m['end']}"

    return BLOCK.sub(body, text)


def diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        "README.md",
        "README.md (rendered)",
    )
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 with a diff if README.md is not up to date"
    )
    args = parser.parse_args(argv)
    old = README.read_text(encoding="utf-8")
    new = render(old)
    if args.check:
        if new != old:
            sys.stdout.write(diff(old, new))
            return 1
        return 0
    if new != old:
        README.write_text(new, encoding="utf-8")
        print(f"rewrote {len(block_names(new))} blocks in README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
