"""relukit's NumPy functions against the textbook formulas and np.copyto, in the same run.

For every catalog activation at its default parameters (PReLU: one slope per channel, 0.25),
float32 and float64, sizes 1e3 … 1e7, forward and backward: the median time of relukit and of
the textbook formula (imported from the test suite's case table, not retyped), their ratio, and
the bandwidth of ``np.copyto`` measured in the same run. Timings interleave the contenders so
that the shared machine's noise falls on both alike.

Run: ``python benchmarks/bench_numpy.py [--quick]``; writes ``benchmarks/results/numpy.json``
and ``numpy.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from cases import default_case  # noqa: E402

import relukit  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SIZES = (10**3, 10**4, 10**5, 10**6, 10**7)
TARGET_SIZE = 10**6
TARGET_RATIO = 1.25
COPY_TARGET = 0.7


def _median_times(fns, repeats: int, number: int) -> list[float]:
    """Median seconds per call of each fn, interleaved round-robin over ``repeats`` rounds."""
    samples = [[] for _ in fns]
    for fn in fns:
        fn()  # warm up (allocations, caches)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[i].append((time.perf_counter() - t0) / number)
    return [float(np.median(s)) for s in samples]


def _inputs(size: int, dtype, channels: int = 8):
    rng = np.random.default_rng(0)
    # Random signs, N(0, 2) magnitudes: both branches of every kink and GELU's bend are exercised.
    x = (rng.standard_normal(size) * 2).astype(dtype)
    g = rng.standard_normal(size).astype(dtype)
    return x.reshape(-1, channels), g.reshape(-1, channels)  # every size is a multiple of 8


def _contenders(case, x, g):
    """(relukit forward, textbook forward, relukit backward, textbook backward) thunks."""
    fn = case.numpy_fn()
    params = dict(case.params)
    if case.name == "prelu":  # per channel, as PReLU is used
        params = {"weight": np.full(x.shape[1], 0.25, x.dtype)}
    return (
        lambda: fn(x, **params),
        lambda: case.textbook(x, **params),
        lambda: fn.backward(g, x, **params),
        lambda: _textbook_backward(case, g, x, params),
    )


def _textbook_backward(case, g, x, params):
    """grad·f'(x) by the textbook formula; PReLU adds ∂L/∂a = Σ grad·min(x, 0) per channel."""
    gx = g * case.textbook_derivative(x, **params).astype(x.dtype, copy=False)
    if case.name == "prelu":
        return gx, (g * np.minimum(x, 0)).sum(0)
    return gx


def run(sizes, repeats: int) -> dict:
    rows = []
    for dtype in (np.float32, np.float64):
        for size in sizes:
            number = max(1, int(2e6 // size))
            src = np.random.default_rng(1).standard_normal(size).astype(dtype)
            dst = np.empty_like(src)
            buf = np.empty_like(src)
            copy = functools.partial(np.copyto, dst, src)
            relu_out = functools.partial(relukit.relu, src, out=buf)
            copy_s, relu_out_s = _median_times([copy, relu_out], repeats, number)
            copy_gbs = 2 * src.nbytes / copy_s / 1e9  # bytes read + written
            rows.append(
                {
                    "activation": "relu(out=buf)",
                    "mode": "forward",
                    "dtype": np.dtype(dtype).name,
                    "size": size,
                    "relukit_s": relu_out_s,
                    "baseline": "np.copyto",
                    "baseline_s": copy_s,
                    "ratio": relu_out_s / copy_s,
                    "relukit_gbs": 2 * src.nbytes / relu_out_s / 1e9,
                    "copy_gbs": copy_gbs,
                }
            )
            for activation in relukit.catalog:
                for case in _cases_for(activation.name):
                    x, g = _inputs(size, dtype)
                    ours_f, book_f, ours_b, book_b = _contenders(case, x, g)
                    tf, bf, tb, bb = _median_times(
                        [ours_f, book_f, ours_b, book_b], repeats, number
                    )
                    for mode, ours, book in (("forward", tf, bf), ("backward", tb, bb)):
                        rows.append(
                            {
                                "activation": case.id,
                                "mode": mode,
                                "dtype": np.dtype(dtype).name,
                                "size": size,
                                "relukit_s": ours,
                                "baseline": "textbook",
                                "baseline_s": book,
                                "ratio": ours / book,
                                "copy_gbs": copy_gbs,
                            }
                        )
            print(f"{np.dtype(dtype).name} {size:>9,}: copy {copy_gbs:5.1f} GB/s", flush=True)
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "repeats": repeats,
        "rows": rows,
    }


def _cases_for(name: str):
    case = default_case(name)
    if name == "gelu":  # both forms: the tanh textbook is the wasteful x**3 one
        from cases import CASES

        return [c for c in CASES if c.name == "gelu"]
    return [case]


def to_markdown(result: dict) -> str:
    rows = result["rows"]
    lines = [
        "# relukit NumPy benchmark",
        "",
        f"Machine: {result['machine']['platform']}, NumPy {result['machine']['numpy']}; medians "
        f"of {result['repeats']} interleaved repetitions. Ratio = relukit time / baseline time "
        "(lower is better); the copy column is `np.copyto` bandwidth (bytes read + written) "
        "measured in the same run.",
        "",
        f"## At {TARGET_SIZE:,} elements (target: every ratio ≤ {TARGET_RATIO})",
        "",
        "| activation | dtype | forward ratio | backward ratio | forward ms | copy GB/s |",
        "|---|---|---|---|---|---|",
    ]
    at = [r for r in rows if r["size"] == TARGET_SIZE and r["baseline"] == "textbook"]
    for r in at:
        if r["mode"] != "forward":
            continue
        b = next(
            q
            for q in at
            if q["mode"] == "backward"
            and q["activation"] == r["activation"]
            and q["dtype"] == r["dtype"]
        )
        lines.append(
            f"| {r['activation']} | {r['dtype']} | {r['ratio']:.2f} | {b['ratio']:.2f} "
            f"| {r['relukit_s'] * 1e3:.2f} | {r['copy_gbs']:.1f} |"
        )
    lines += [
        "",
        f"## relu(x, out=buf) against np.copyto (target at 1e7 float32: ≥ {COPY_TARGET}× "
        "copy bandwidth)",
        "",
        "| dtype | size | relu GB/s | copy GB/s | fraction of copy |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        if r["baseline"] == "np.copyto":
            lines.append(
                f"| {r['dtype']} | {r['size']:,} | {r['relukit_gbs']:.1f} | "
                f"{r['copy_gbs']:.1f} | {1 / r['ratio']:.2f} |"
            )
    lines += [
        "",
        "## All sizes (ratio relukit / textbook)",
        "",
        "| activation | mode | dtype | "
        + " | ".join(f"{s:.0e}" for s in sorted({r["size"] for r in rows}))
        + " |",
        "|---|---|---|" + "---|" * len({r["size"] for r in rows}),
    ]
    keys = []
    for r in rows:
        k = (r["activation"], r["mode"], r["dtype"])
        if r["baseline"] == "textbook" and k not in keys:
            keys.append(k)
    for k in keys:
        cells = [f"{r['ratio']:.2f}" for r in rows if (r["activation"], r["mode"], r["dtype"]) == k]
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e6 only, fewer repetitions")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    sizes = (TARGET_SIZE,) if args.quick else SIZES
    result = run(sizes, 5 if args.quick else args.repeats)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "numpy_quick" if args.quick else "numpy"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
