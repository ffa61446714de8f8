"""The lab's commands: ``relukit compare``, ``relukit dying``, ``relukit report DIR``,
``relukit plot``.

``relukit.cli`` adds these subcommands with :func:`add_commands` and hands the parsed arguments
to :func:`run`. Errors in arguments end with one line on stderr and exit status 2; Ctrl-C during
``compare`` writes what finished, marked partial, and exits with 130.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ._records import CompareResult, DyingResult
from ._spec import LabError, parse_activations, printable

COMPARE_EXAMPLES = """examples:
  relukit compare                          # every catalog activation, 3 seeds, ~1 minute
  relukit compare --quick                  # a smoke run (seconds)
  relukit compare --activations relu GELU leaky_relu:negative_slope=0.2 --seeds 5
  relukit compare --datasets spirals --json > spirals.json
"""
PLOT_EXAMPLES = """examples:
  relukit plot                             # every catalog activation -> activations.png
  relukit plot relu leaky_relu:negative_slope=0.2 ELU --derivative -o rect.svg
"""
DYING_EXAMPLES = """examples:
  relukit dying                            # the catalog's rectifiers x 5 arms x 3 seeds
  relukit dying --activations relu leaky_relu --seeds 5 --epochs 20
  relukit dying --quick
"""
REPORT_EXAMPLES = """examples:
  relukit report relukit-runs/run-20260101-120000   # rewrites report.html, prints the table
"""


class Progress:
    """A one-line progress bar with an ETA on a terminal (silent when ``stream`` is not one).

    Example:
        >>> import io
        >>> p = Progress(io.StringIO())
        >>> p(1, 4)  # not a terminal: nothing is written
        >>> p.line(2, 4, elapsed=10.0)
        '[##########----------]   2/4 tasks  10 s, ETA 10 s'
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.active = hasattr(stream, "isatty") and stream.isatty()

    @staticmethod
    def line(done: int, total: int, elapsed: float) -> str:
        width = 20
        filled = int(width * done / total) if total else width
        eta = elapsed / done * (total - done) if done else float("nan")
        eta_text = f"{eta:.0f} s" if done else "?"
        bar = "#" * filled + "-" * (width - filled)
        return f"[{bar}] {done:3d}/{total} tasks  {elapsed:.0f} s, ETA {eta_text}"

    def __call__(self, done: int, total: int) -> None:
        if not self.active:
            return
        text = self.line(done, total, time.perf_counter() - self.start)
        self.stream.write("\r" + text + ("\n" if done == total else ""))
        self.stream.flush()


def _run_options(p: argparse.ArgumentParser, *, epochs: str, quick: str) -> None:
    """The options every training command (compare, dying) takes."""
    p.add_argument("--seeds", type=int, default=None, help="default: 3 (2 with --quick)")
    p.add_argument("--epochs", type=int, default=None, help=epochs)
    p.add_argument("--quick", action="store_true", help=f"a smoke run ({quick})")
    p.add_argument("--workers", type=int, default=None, help="processes (default: usable CPUs)")
    p.add_argument("--out", default="relukit-runs", help="folder that gets a new run folder")
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead")


def add_commands(sub: Any) -> None:
    """Add ``compare``, ``report`` and ``plot`` to an argparse sub-parser collection."""
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "compare",
        help="train and time every activation; judge the seed's pros and cons",
        description="Train the same small networks with every catalog activation on "
        "scikit-learn's digits and two spirals over several seeds (CPU), time them against "
        "ReLU, probe a 20-layer MLP's gradients, count dead units, and mark each pro and con "
        "of the seed's table confirmed, contradicted or inconclusive. Writes a new folder "
        "with results.json and a self-contained report.html.",
        epilog=COMPARE_EXAMPLES,
        formatter_class=raw,
    )
    p.add_argument("--activations", nargs="+", metavar="NAME[:k=v]", help="default: all")
    p.add_argument("--datasets", nargs="+", metavar="NAME", help="default: all")
    _run_options(p, epochs="for every task (default: each own)", quick="small epochs, 2 seeds")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p = sub.add_parser(
        "dying",
        help="dead units in deep narrow MLPs per activation, initialisation and recycling",
        description="Train deep narrow MLPs on digits at a high learning rate with each "
        "activation under PyTorch's default init, He (relukit.init), RAI and relukit's "
        "asymmetric init, and He with relukit.diagnostics.recycle_; count dead units per layer "
        "over training. Writes a new folder with results.json and report.html.",
        epilog=DYING_EXAMPLES,
        formatter_class=raw,
    )
    p.add_argument("--activations", nargs="+", metavar="NAME[:k=v]", help="default: rectifiers")
    _run_options(p, epochs="default: 8 (1 with --quick)", quick="1 epoch, 2 seeds")
    p = sub.add_parser(
        "report",
        help="re-render a compare run's report from its results.json (no retraining)",
        description="Re-render report.html and the terminal table from DIR/results.json.",
        epilog=REPORT_EXAMPLES,
        formatter_class=raw,
    )
    p.add_argument("dir", help="a run folder written by relukit compare")
    p.add_argument("--json", action="store_true", help="print results.json to stdout instead")
    p = sub.add_parser(
        "plot",
        help="draw activations (and derivatives) from the catalog",
        description="Draw catalog activations with their parameters on [-4, 4].",
        epilog=PLOT_EXAMPLES,
        formatter_class=raw,
    )
    p.add_argument("names", nargs="*", metavar="NAME[:k=v]", help="default: all")
    p.add_argument("--derivative", action="store_true", help="also draw f'")
    p.add_argument("-o", "--output", default="activations.png", help=".png or .svg")


def _print(text: str) -> None:
    stream = sys.stdout
    stream.write(printable(text, getattr(stream, "encoding", None)) + "\n")
    stream.flush()


def new_run_dir(parent: Path) -> Path:
    """A new, empty folder under ``parent`` named after the UTC time (never an existing one)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("run-%Y%m%d-%H%M%S")
    parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        path = parent / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise LabError(f"out: cannot create a new run folder under {parent}")


def write_run(result: CompareResult, folder: Path) -> None:
    """``results.json`` and ``report.html`` into ``folder``."""
    from ._render import to_html, to_json

    (folder / "results.json").write_text(to_json(result), encoding="utf-8")
    (folder / "report.html").write_text(to_html(result), encoding="utf-8")


def _compare(args: argparse.Namespace) -> int:
    from ._experiments import compare
    from ._render import terminal

    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 3)
    parse_activations(args.activations)  # bad names fail before any folder is made
    result = compare(
        args.activations,
        datasets=args.datasets,
        seeds=seeds,
        epochs=args.epochs,
        quick=args.quick,
        workers=args.workers,
        device=args.device,
        progress=Progress(),
    )
    folder = new_run_dir(Path(args.out))
    write_run(result, folder)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        _print(terminal(result))
        _print(f"\nreport: {folder / 'report.html'}  (data: {folder / 'results.json'})")
    return 130 if result.partial else 0


def _dying(args: argparse.Namespace) -> int:
    from ._dying import dying
    from ._render import dying_html, dying_terminal

    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 3)
    result = dying(
        args.activations,
        seeds=seeds,
        epochs=args.epochs,
        quick=args.quick,
        workers=args.workers,
        progress=Progress(),
    )
    folder = new_run_dir(Path(args.out))
    (folder / "results.json").write_text(
        json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8"
    )
    (folder / "report.html").write_text(dying_html(result), encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        _print(dying_terminal(result))
        _print(f"\nreport: {folder / 'report.html'}  (data: {folder / 'results.json'})")
    return 130 if result.partial else 0


def _report(args: argparse.Namespace) -> int:
    from ._render import terminal, to_html

    path = Path(args.dir) / "results.json"
    if not path.is_file():
        raise LabError(f"dir: {args.dir!r} has no results.json (a folder written by compare)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "arms" in data.get("settings", {}):
            return _report_dying(args, DyingResult.from_dict(data))
        result = CompareResult.from_dict(data)
    except (ValueError, KeyError, TypeError) as err:
        raise LabError(f"dir: {path} is not a compare or dying results.json ({err})") from None
    (Path(args.dir) / "report.html").write_text(to_html(result), encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        _print(terminal(result))
        _print(f"\nreport: {Path(args.dir) / 'report.html'}")
    return 0


def _report_dying(args: argparse.Namespace, result: DyingResult) -> int:
    from ._render import dying_html, dying_terminal

    (Path(args.dir) / "report.html").write_text(dying_html(result), encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        _print(dying_terminal(result))
    return 0


def _plot(args: argparse.Namespace) -> int:
    from ._render import _pyplot, activations_figure

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".svg"):
        raise LabError(f"output: {args.output!r} must end in .png or .svg")
    specs = parse_activations(args.names)
    fig = activations_figure(specs, derivative=args.derivative)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    _print(f"wrote {out}")
    return 0


def run(args: argparse.Namespace) -> int | None:
    """Run a lab command; ``None`` if ``args.command`` is not one. Errors: one line, exit 2."""
    commands = {"compare": _compare, "dying": _dying, "report": _report, "plot": _plot}
    if args.command not in commands:
        return None
    try:
        return commands[args.command](args)
    except LabError as err:
        sys.stderr.write(printable(f"relukit {args.command}: error: {err}\n", sys.stderr.encoding))
        return 2
