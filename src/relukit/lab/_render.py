"""Renderers: records in, text, JSON, figures and HTML out (DESIGN.md §2, floor 4).

Nothing here trains or measures; everything a renderer shows is in a
:class:`~relukit.lab._records.CompareResult` (so ``relukit report DIR`` can redraw a run from its
``results.json``). Figures need matplotlib (the ``lab`` extra) and are drawn off-screen (Agg).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import relukit

from ._claims import CLAIMS, seed_table
from ._records import CompareResult, DyingResult, Interval, t_quantile
from ._spec import ActivationSpec, unicode_formula

MARK = {"confirmed": "✓", "contradicted": "✗", "inconclusive": "?", "not measured": "·"}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table; a cell with newlines spans several lines."""
    split = [[str(c).split("\n") for c in r] for r in rows]
    widths = [len(h) for h in header]
    for r in split:
        for i, lines in enumerate(r):
            widths[i] = max(widths[i], *(len(x) for x in lines))
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("─" * w for w in widths))
    for r in split:
        height = max(len(c) for c in r)
        for k in range(height):
            cells = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(r, widths, strict=True)]
            out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _values(result: CompareResult, label: str, task: str, attr: str) -> list[float]:
    return [
        float(getattr(r, attr))
        for r in result.runs
        if r.activation == label and r.task == task and getattr(r, attr) is not None
    ]


_FRACTION = (0.0, 1.0)  # accuracies and dead/zero fractions: intervals clipped to their range


def _iv(values: list[float], spec: str = ".3f", bounds: tuple[float, float] | None = None) -> str:
    return Interval.of(values, bounds).fmt(spec)


def _speed(result: CompareResult, label: str, attr: str) -> Interval:
    # ratios of times and bytes are positive: their intervals are clipped at 0
    values = [getattr(s, attr) for s in result.speed if s.activation == label]
    return Interval.of(values, (0.0, math.inf))


def _log_ratio(result: CompareResult, label: str, init: str) -> Interval:
    return Interval.of(
        [
            math.log10(g.ratio)
            for g in result.gradients
            if g.activation == label and g.init == init and 0 < g.ratio < math.inf
        ]
    )


def measured_rows(
    result: CompareResult, *, extended: bool = False
) -> tuple[list[str], list[list[str]]]:
    """The measurement table: one row per activation, mean [95% interval] over seeds.

    ``extended`` adds the report's columns: relukit.torch's time and torch.nn's saved bytes
    relative to ReLU, the gradient ratio under PyTorch's default init, the epochs to each
    task's loss threshold and the final training loss.
    """
    tasks = [t for t in result.tasks() if any(r.task == t for r in result.runs)]
    deep = "digits-deep" if "digits-deep" in tasks else (tasks[-1] if tasks else "")
    header = ["activation", *(f"test acc {t}" for t in tasks)]
    header += [f"dead {deep} init→end", "zeros", "time×ReLU", "step×ReLU", "saved×ReLU"]
    header += ["log10 grad 1st/last"]
    if extended:
        header += ["time×ReLU relukit", "saved×ReLU torch.nn", "log10 grad 1st/last torch init"]
        thresholds = result.settings.get("thresholds", {})
        header += [f"epochs to loss ≤ {thresholds.get(t, '?')} {t}" for t in tasks]
        header += [f"final loss {t}" for t in tasks]
    rows = []
    for label in result.activations():
        row = [label]
        row += [_iv(_values(result, label, t, "test_accuracy"), bounds=_FRACTION) for t in tasks]
        dead_i = Interval.of(_values(result, label, deep, "dead_init"), _FRACTION)
        dead_e = Interval.of(_values(result, label, deep, "dead_end"), _FRACTION)
        row.append(f"{dead_i.fmt('.0%')} → {dead_e.fmt('.0%')}" if tasks else "-")
        zeros = [v for t in tasks for v in _values(result, label, t, "zeros")]
        row.append(f"{Interval.of(zeros).mean or 0:.0%}" if zeros else "-")
        row.append(_speed(result, label, "alone").fmt(".2f"))
        row.append(_speed(result, label, "step").fmt(".2f"))
        row.append(_speed(result, label, "saved_bytes").fmt(".2f"))
        row.append(_log_ratio(result, label, "relukit").fmt(".1f"))
        if extended:
            row.append(_speed(result, label, "alone_relukit").fmt(".2f"))
            row.append(_speed(result, label, "saved_bytes_torch").fmt(".2f"))
            row.append(_log_ratio(result, label, "torch").fmt(".1f"))
            for t in tasks:
                runs = [r for r in result.runs if r.activation == label and r.task == t]
                hit = [r.epochs_to_threshold for r in runs if r.epochs_to_threshold is not None]
                never = len(runs) - len(hit)
                text = Interval.of([float(h) for h in hit]).fmt(".0f") if hit else "-"
                row.append(text + (f" ({never} never)" if never else ""))
            row += [_iv(_values(result, label, t, "final_loss"), ".2g") for t in tasks]
        rows.append(row)
    return header, rows


def terminal(result: CompareResult) -> str:
    """The terminal report: the seed's table with verdicts, the measurements, the evidence.

    Example:
        >>> from relukit.lab._records import CompareResult
        >>> from relukit.lab._claims import judge
        >>> r = CompareResult({"activations": ["relu"], "tasks": [], "seeds": 1}, {})
        >>> r.verdicts = judge(r)
        >>> print(terminal(r).splitlines()[2].split())
        ['Activation', 'Formula', 'Pros', 'Cons']
    """
    verdicts = {(v.activation, v.claim): v.verdict for v in result.verdicts}
    rows = []
    for name, (pros, cons) in seed_table().items():
        a = relukit.get(name)

        def cell(claims: list[str], name: str = name) -> str:
            return "\n".join(
                f"{MARK.get(verdicts.get((name, c), ''), ' ')} {c}: {verdicts.get((name, c), '-')}"
                for c in claims
            )

        rows.append([a.title, unicode_formula(a.formula), cell(pros), cell(cons)])
    s = result.settings
    head = "relukit compare" + (" — PARTIAL (interrupted)" if result.partial else "")
    head += f": {s.get('seeds')} seeds, tasks {', '.join(result.tasks()) or '-'}"
    if result.timing:
        head += f", {result.timing.get('seconds', 0):.0f} s"
    parts = [
        head,
        "",
        _table(["Activation", "Formula", "Pros", "Cons"], rows),
        "",
        "✓ confirmed  ✗ contradicted  ? inconclusive (the 95% intervals over seeds decide)  "
        "· not measured",
    ]
    if result.runs or result.speed:
        header, mrows = measured_rows(result)
        parts += ["", "Measured (mean [95% interval] over seeds):", _table(header, mrows)]
    evidence = [
        f"{relukit.get(v.activation).title}, {v.claim}: {v.verdict} — {v.evidence}"
        for v in result.verdicts
        if v.verdict != "not measured"
    ]
    if evidence:
        parts += ["", "Evidence:", *evidence]
    return "\n".join(parts)


def to_json(result: CompareResult) -> str:
    """``results.json``'s text (every raw number, the settings, versions, machine and timing)."""
    return json.dumps(result.to_dict(), indent=1, allow_nan=True) + "\n"


# --- figures -----------------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - the lab extra is installed in CI
        raise ImportError('plots need matplotlib: pip install "relukit[lab]"') from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, fmt: str = "png") -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=90, bbox_inches="tight", metadata=_METADATA.get(fmt))
    _pyplot().close(fig)
    return buf.getvalue()


_METADATA: dict[str, Any] = {"png": {"Software": None}, "svg": {"Date": None}}


def activations_figure(specs: Sequence[ActivationSpec], *, derivative: bool = True) -> Any:
    """A grid of panels, one per activation: f and (optionally) f' on [−4, 4], from the catalog.

    Example:
        >>> fig = activations_figure([ActivationSpec("relu")], derivative=True)
        >>> [line.get_label() for line in fig.axes[0].lines][:2]  # then the axes at 0
        ['f', "f'"]
        >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    plt = _pyplot()
    n = len(specs)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    x = np.linspace(-4, 4, 801)
    for ax, spec in zip(axes.flat, specs, strict=False):
        fn = getattr(relukit, spec.name)
        params = spec.full_params()
        ax.plot(x, fn(x, **params), label="f", color="C0")
        if derivative:
            ax.plot(x, fn.derivative(x, **params), label="f'", color="C1", linestyle="--")
        ax.axhline(0, color="0.8", linewidth=0.8, zorder=0)
        ax.axvline(0, color="0.8", linewidth=0.8, zorder=0)
        ax.set_title(spec.title, fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    return fig


def _by_label(result: CompareResult, task: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in result.runs:
        if r.task == task:
            out.setdefault(r.activation, []).append(r)
    return out


def _band(
    ax: Any,
    xs: Any,
    curves: list[list[float]],
    label: str,
    color: Any,
    *,
    log: bool = False,
    dashed: bool = False,
) -> None:
    """Mean curve and its 95% band over seeds (``log``: of log10 values, a geometric band)."""
    n = min(len(c) for c in curves)
    arr = np.array([c[:n] for c in curves], dtype=float)
    if log:
        arr = np.log10(np.maximum(arr, 1e-12))
    mean = arr.mean(0)
    lo = hi = mean
    if len(arr) > 1:
        half = t_quantile(len(arr)) * arr.std(0, ddof=1) / math.sqrt(len(arr))
        lo, hi = mean - half, mean + half
    if log:
        mean, lo, hi = 10**mean, 10**lo, 10**hi
    ax.plot(
        xs[:n], mean, label=label, color=color, linewidth=1.2, linestyle="--" if dashed else "-"
    )
    if len(arr) > 1:
        ax.fill_between(xs[:n], lo, hi, color=color, alpha=0.12, linewidth=0)


def training_figure(result: CompareResult) -> Any:
    """Training loss (log scale) and test accuracy per epoch, mean and 95% band, per task."""
    plt = _pyplot()
    tasks = [t for t in result.tasks() if any(r.task == t for r in result.runs)]
    fig, axes = plt.subplots(
        2, max(1, len(tasks)), figsize=(5 * max(1, len(tasks)), 7), squeeze=False
    )
    for j, task in enumerate(tasks):
        for k, (label, runs) in enumerate(_by_label(result, task).items()):
            color = f"C{k % 10}"
            xs = np.arange(1, len(runs[0].loss) + 1)
            _band(axes[0, j], xs, [r.loss for r in runs], label, color, log=True, dashed=k >= 10)
            _band(
                axes[1, j], xs, [r.test_accuracy_curve for r in runs], label, color, dashed=k >= 10
            )
        axes[0, j].set_yscale("log")
        axes[0, j].set_title(f"{task}: training loss")
        axes[1, j].set_title(f"{task}: test accuracy")
        axes[1, j].set_ylim(0, 1.02)
        axes[1, j].set_xlabel("epoch")
    if tasks:
        axes[0, -1].legend(fontsize=7, loc="upper right", ncol=2)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    return fig


def dead_figure(result: CompareResult) -> Any:
    """The fraction of dead hidden units over training, per task (mean over seeds)."""
    plt = _pyplot()
    tasks = [t for t in result.tasks() if any(r.task == t for r in result.runs)]
    fig, axes = plt.subplots(
        1, max(1, len(tasks)), figsize=(5 * max(1, len(tasks)), 3.6), squeeze=False
    )
    for j, task in enumerate(tasks):
        for k, (label, runs) in enumerate(_by_label(result, task).items()):
            color = f"C{k % 10}"
            xs = np.array([e for e, _ in runs[0].dead_curve])
            curves = [[d for _, d in r.dead_curve] for r in runs]
            _band(axes[0, j], xs, curves, label, color, dashed=k >= 10)
        axes[0, j].set_title(f"{task}: dead units (never active)")
        axes[0, j].set_ylim(0, 1)
        axes[0, j].set_xlabel("epoch")
    if tasks:
        axes[0, -1].legend(fontsize=7, ncol=2)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    return fig


def gradient_figure(result: CompareResult) -> Any:
    """Weight-gradient norm per layer at initialisation of the deep MLP, both inits."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    for j, init in enumerate(("torch", "relukit")):
        ax = axes[0, j]
        for k, label in enumerate(result.activations()):
            curves = [g.norms for g in result.gradients if g.activation == label and g.init == init]
            if curves:
                mean = np.exp(np.mean(np.log(np.maximum(np.array(curves), 1e-300)), 0))
                ax.plot(
                    np.arange(1, len(mean) + 1),
                    mean,
                    label=label,
                    color=f"C{k % 10}",
                    linestyle="--" if k >= 10 else "-",
                )
        ax.set_yscale("log")
        ax.set_xlabel("layer (input → output)")
        ax.set_title(
            {"torch": "PyTorch's default init", "relukit": "relukit.init (He, own gain)"}[init]
        )
    axes[0, 0].set_ylabel("‖∂L/∂W‖ (geometric mean over seeds)")
    axes[0, 1].legend(fontsize=7, ncol=2)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    return fig


def distribution_figure(result: CompareResult) -> Any:
    """Histogram of the last hidden layer's activations after training, per task."""
    plt = _pyplot()
    tasks = [t for t in result.tasks() if any(r.task == t for r in result.runs)]
    lo, hi, bins = result.settings.get("histogram_bins", (-2.0, 4.0, 60))
    edges = np.linspace(lo, hi, int(bins) + 1)
    fig, axes = plt.subplots(
        1, max(1, len(tasks)), figsize=(5 * max(1, len(tasks)), 3.6), squeeze=False
    )
    for j, task in enumerate(tasks):
        for k, (label, runs) in enumerate(_by_label(result, task).items()):
            counts = np.sum([r.histogram for r in runs], 0).astype(float)
            total = counts.sum()
            if total:
                axes[0, j].stairs(
                    counts / total,
                    edges,
                    label=label,
                    color=f"C{k % 10}",
                    linestyle="--" if k >= 10 else "-",
                )
        axes[0, j].set_yscale("log")
        axes[0, j].set_title(f"{task}: last hidden layer's activations")
    if tasks:
        axes[0, -1].legend(fontsize=7, ncol=2)
    fig.subplots_adjust(hspace=0.45, wspace=0.3)
    return fig


def figures(result: CompareResult) -> dict[str, bytes]:
    """Every figure of the report as PNG bytes, by title."""
    specs = [ActivationSpec.parse(a) for a in result.activations()]
    out = {"Each activation and its derivative": _save(activations_figure(specs))}
    if result.runs:
        out["Training curves (mean and 95% band over seeds)"] = _save(training_figure(result))
        out["Dead units over training"] = _save(dead_figure(result))
        out["Hidden-activation distributions after training"] = _save(distribution_figure(result))
    if result.gradients:
        out["Gradient norm per layer at initialisation (deep MLP)"] = _save(gradient_figure(result))
    return out


# --- HTML --------------------------------------------------------------------------------------

_CSS = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #f2f2f2; }
.confirmed { color: #1a7f37; } .contradicted { color: #cf222e; }
.inconclusive { color: #9a6700; } .partial { background: #ffebe9; padding: 1em; }
img { max-width: 100%; }
"""

# Marks each figure loaded (the headless-browser test reads data-loaded from the DOM).
_SCRIPT = """
window.addEventListener('load', function () {
  var n = 0;
  document.querySelectorAll('img').forEach(function (img) {
    var ok = img.complete && img.naturalWidth > 0;
    img.setAttribute('data-loaded', ok ? 'yes' : 'no');
    if (ok) { n += 1; }
  });
  document.body.setAttribute('data-images-loaded', String(n));
});
"""


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(result: CompareResult, images: dict[str, bytes] | None = None) -> str:
    """The self-contained ``report.html``: tables, rules, evidence and embedded PNG figures.

    Example:
        >>> from relukit.lab._records import CompareResult
        >>> page = to_html(CompareResult({"activations": [], "tasks": []}, {}), images={})
        >>> page.startswith("<!DOCTYPE html>"), "http" in page
        (True, False)
    """
    images = figures(result) if images is None else images
    esc = html.escape
    verdicts = {(v.activation, v.claim): v for v in result.verdicts}
    rows = []
    for name, (pros, cons) in seed_table().items():
        a = relukit.get(name)

        def cell(claims: list[str], name: str = name) -> str:
            out = []
            for c in claims:
                v = verdicts.get((name, c))
                kind = v.verdict if v else "-"
                out.append(f'{esc(c)}: <span class="{kind.replace(" ", "-")}">{esc(kind)}</span>')
            return "<br>".join(out)

        rows.append([esc(a.title), esc(unicode_formula(a.formula)), cell(pros), cell(cons)])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>relukit compare report</title>",
        f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>",
        "<h1>relukit compare</h1>",
    ]
    if result.partial:
        parts.append(
            '<p class="partial"><b>Partial report</b>: the run was interrupted; '
            "only the finished tasks are shown.</p>"
        )
    s = result.settings
    parts.append(
        f"<p>{esc(str(s.get('seeds')))} seeds; tasks: "
        + "; ".join(esc(f"{t}: {d}") for t, d in s.get("task_descriptions", {}).items())
        + f". Wall time {result.timing.get('seconds', 0):.1f} s.</p>"
    )
    parts.append("<h2>The seed's table, measured</h2>")
    parts.append(_html_table(["Activation", "Formula", "Pros", "Cons"], rows))
    header, mrows = measured_rows(result, extended=True)
    parts.append("<h2>Measurements (mean [95% interval] over seeds)</h2>")
    parts.append(_html_table(header, [[esc(c) for c in r] for r in mrows]))
    parts.append("<h2>Verdict rules and evidence</h2>")
    rules = [
        [
            esc(relukit.get(v.activation).title),
            esc(v.claim),
            f'<span class="{v.verdict.replace(" ", "-")}">{esc(v.verdict)}</span>',
            esc(v.rule),
            esc(v.evidence),
        ]
        for v in result.verdicts
    ]
    parts.append(_html_table(["Activation", "Claim", "Verdict", "Rule", "Evidence"], rules))
    for title, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{esc(title)}</h2>")
        parts.append(f'<img alt="{esc(title)}" src="data:image/png;base64,{data}">')
    env = result.environment
    parts.append("<h2>Settings and environment</h2>")
    parts.append(
        _html_table(
            ["key", "value"],
            [[esc(k), esc(json.dumps(v, ensure_ascii=False))] for k, v in {**s, **env}.items()],
        )
    )
    parts.append(f"<p>{len(CLAIMS)} claims; rules in relukit/lab/_claims.py.</p></body></html>")
    return "\n".join(parts) + "\n"


# --- relukit dying -----------------------------------------------------------------------------


def dying_rows(result: DyingResult) -> tuple[list[str], list[list[str]]]:
    """One row per activation × arm: dead at init and at the end, worst layer, accuracy, cost."""
    header = ["activation", "arm", "dead at init", "dead at end", "worst layer at end"]
    header += ["recycled", "test acc", "final loss"]
    rows = []
    for label in result.settings.get("activations", []):
        for arm in result.settings.get("arms", []):
            runs = [r for r in result.runs if r.activation == label and r.arm == arm]
            if not runs:
                continue
            init = Interval.of([float(np.mean(r.dead[0])) for r in runs])
            end = Interval.of([r.dead_end for r in runs], _FRACTION)
            worst = Interval.of([max(r.dead[-1]) for r in runs])
            rows.append(
                [
                    label,
                    arm,
                    init.fmt(".0%"),
                    end.fmt(".0%"),
                    worst.fmt(".0%"),
                    f"{np.mean([r.recycled for r in runs]):.0f}",
                    Interval.of([r.test_accuracy for r in runs]).fmt(".3f"),
                    Interval.of([r.final_loss for r in runs]).fmt(".3f"),
                ]
            )
    return header, rows


def dying_terminal(result: DyingResult) -> str:
    """The ``relukit dying`` table (mean [95% interval] over seeds)."""
    s = result.settings
    head = "relukit dying" + (" — PARTIAL (interrupted)" if result.partial else "")
    head += f": {s.get('model')}, {s.get('epochs')} epochs, {s.get('seeds')} seeds"
    if result.timing:
        head += f", {result.timing.get('seconds', 0):.0f} s"
    header, rows = dying_rows(result)
    note = (
        "dead: hidden units never active (at init: on the training set; at the end: on the "
        "last epoch's training passes per layer, on the training set overall); arms: "
        "torch = PyTorch's default init, he = relukit.init with the activation's gain, rai, "
        f"asymmetric; +recycle = relukit.diagnostics.recycle_ every {s.get('recycle_every')} "
        "epochs"
    )
    return "\n".join([head, "", _table(header, rows), "", note])


def dying_figures(result: DyingResult) -> dict[str, bytes]:
    """Dead fraction per layer at the end, and overall over training, per activation."""
    plt = _pyplot()
    labels = [
        a
        for a in result.settings.get("activations", [])
        if any(r.activation == a for r in result.runs)
    ]
    arms = result.settings.get("arms", [])
    out = {}
    for title, per_layer in (
        ("Dead units per layer after training", True),
        ("Dead units over training (all hidden layers)", False),
    ):
        cols = min(4, max(1, len(labels)))
        nrows = max(1, math.ceil(len(labels) / cols))
        fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 2.8 * nrows), squeeze=False)
        for ax, label in zip(axes.flat, labels, strict=False):
            for k, arm in enumerate(arms):
                runs = [r for r in result.runs if r.activation == label and r.arm == arm]
                if not runs:
                    continue
                if per_layer:
                    ys = np.mean([r.dead[-1] for r in runs], 0)
                    xs = np.arange(1, len(ys) + 1)
                else:
                    ys = np.mean([[np.mean(d) for d in r.dead] for r in runs], 0)
                    xs = np.array(runs[0].epochs)
                ax.plot(xs, ys, label=arm, color=f"C{k}", marker=".")
            ax.set_title(label, fontsize=10)
            ax.set_ylim(0, 1)
            ax.set_xlabel("layer" if per_layer else "epoch")
        for ax in list(axes.flat)[len(labels) :]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=7)
        fig.subplots_adjust(hspace=0.5, wspace=0.3)
        out[title] = _save(fig)
    return out


def dying_html(result: DyingResult) -> str:
    """The self-contained ``report.html`` of ``relukit dying``."""
    esc = html.escape
    header, rows = dying_rows(result)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>relukit dying report</title>",
        f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>",
        "<h1>relukit dying</h1>",
    ]
    if result.partial:
        parts.append('<p class="partial"><b>Partial report</b>: the run was interrupted.</p>')
    parts.append(f"<p>{esc(dying_terminal(result).splitlines()[-1])}</p>")
    parts.append(_html_table(header, [[esc(c) for c in r] for r in rows]))
    for title, png in dying_figures(result).items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{esc(title)}</h2>")
        parts.append(f'<img alt="{esc(title)}" src="data:image/png;base64,{data}">')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
