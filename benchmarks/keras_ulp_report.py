"""Worst error of relukit.keras's functions and gradients, per Keras backend, case and dtype.

Issue #12 item 2 (exactness on every backend, one bound per dtype in the README, generated from
a measurement). Each backend runs in its own subprocess (``KERAS_BACKEND`` is read once; jax
with ``JAX_ENABLE_X64=1`` so that float64 is float64). For every case of the shared case table
(``tests/cases.py``) and for float32 and float64:

- values and derivatives (the backend's own autodiff of the Keras function) on the test
  suite's log-spaced sample points of the dtype (``tests/helpers.py``) against mpmath, and for
  float32 also on a dense grid of [−14, 14] against relukit's float64 NumPy reference;
- errors in ulps of the result's dtype; where f' crosses zero, in ulps of the terms it sums
  (``derivative_scale``: the contract's cancellation-aware measure); float32 references take
  the parameters rounded to float32, as Keras computes them.

Run: ``python benchmarks/keras_ulp_report.py [run ...]`` (runs: ``RUNS``) →
``benchmarks/results/keras_ulp.{json,md}``; the README's per-backend bounds are rendered from the
JSON by ``scripts/render_readme.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DTYPES = ("float32", "float64")
# (label, KERAS_BACKEND, environment): jax has float64 tensors only with JAX_ENABLE_X64; without
# it (Keras' default) relukit.keras computes float32's smooth entries in float64 all the same,
# inside a jax.enable_x64 scope around its own computation, so that run has float32 rows only.
RUNS = {
    "torch": ("torch", {}),
    "jax": ("jax", {"JAX_ENABLE_X64": "1"}),
    "jax (no x64)": ("jax", {"JAX_ENABLE_X64": "0"}),
    "tensorflow": ("tensorflow", {"TF_CPP_MIN_LOG_LEVEL": "2"}),
}
# Errors are relative to max(|f|, FLOOR) (the tests' measure, tests/test_keras.py): below it,
# in absolute steps of the floor's spacing. The backends flush subnormal intermediates (XLA and
# TensorFlow on CPU: FTZ/DAZ), so a float32 result near 1e-38 has no relative accuracy left.
FLOOR = {"float32": 1e-30, "float64": 1e-300}


def _worker() -> list[dict]:
    import math

    import mpmath as mp
    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    import keras
    from cases import CASES
    from helpers import keras_value_and_grad, mpmath_reference, sample_points, ulp_error

    import relukit.keras as rk

    def call(case, x, dtype):
        args = {}
        for k, v in case.params.items():
            weight = case.activation.param(k).kind == "weight"
            args[k] = keras.ops.convert_to_tensor(np.array(v, dtype)) if weight else v
        return keras_value_and_grad(lambda t: getattr(rk, case.name)(t, **args), x)

    def as_numpy(t):
        return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)

    tiny = {d: float(np.finfo(d).tiny) for d in DTYPES}
    flushed = dict.fromkeys(DTYPES, False)  # a subnormal input or result off by > 1 step
    dtypes = DTYPES
    if keras.backend.backend() == "jax":
        import jax

        dtypes = DTYPES if jax.config.jax_enable_x64 else ("float32",)
    rows = []
    for index, case in enumerate(CASES):
        for dtype in dtypes:
            t = np.dtype(dtype).type
            worst = {"value": (0.0, math.nan), "derivative": (0.0, math.nan)}
            # mpmath on the dtype's sample points (the whole real line)
            p32 = {k: float(t(v)) if isinstance(v, float) else v for k, v in case.params.items()}
            for which in worst:
                if dtype == "float64":
                    xs, refs, scales = mpmath_reference(index, dtype, which)
                else:  # float32 parameters, as Keras computes them
                    xs = sample_points(t, n=60)
                    fn = case.value if which == "value" else case.derivative
                    refs = [fn(mp.mpf(float(v)), **p32) for v in xs]
                    scales = [abs(case.derivative_scale(mp.mpf(float(v)), **p32))
                              if which == "derivative" and case.derivative_scale else abs(r)
                              for v, r in zip(xs, refs, strict=True)]  # fmt: skip
                y, g = call(case, keras.ops.convert_to_tensor(xs), dtype)
                got = as_numpy(y if which == "value" else g)
                for x, r, s, v in zip(xs, refs, scales, got, strict=True):
                    e = ulp_error(t(v), r, max(s, mp.mpf(FLOOR[dtype])), t)
                    if _subnormal(x, tiny[dtype]) or _subnormal(s, tiny[dtype]):
                        flushed[dtype] |= e > 1
                    elif e > worst[which][0]:
                        worst[which] = (e, float(x))
            if dtype == "float32":  # a dense grid against the float64 NumPy reference
                x = np.linspace(-14, 14, 4001).astype(np.float32)
                y, g = call(case, keras.ops.convert_to_tensor(x), dtype)
                fn = case.numpy_fn()
                x64 = x.astype(np.float64)
                for which, got, ref in (
                    ("value", as_numpy(y), fn(x64, **p32)),
                    ("derivative", as_numpy(g), fn.derivative(x64, **p32)),
                ):
                    scale = np.abs(ref)
                    if which == "derivative" and case.derivative_scale is not None:
                        scale = np.maximum(scale, [float(case.derivative_scale(mp.mpf(float(v))))
                                                   for v in x64])  # fmt: skip
                    with np.errstate(all="ignore"):
                        spacing = np.spacing(np.maximum(scale, FLOOR[dtype]).astype(np.float32))
                        err = np.abs(got - ref) / spacing.astype(np.float64)
                    err = np.where(np.isfinite(ref), err, np.where(got == ref, 0.0, np.inf))
                    sub = (np.abs(x64) < tiny[dtype]) & (x64 != 0)
                    sub |= (np.abs(ref) < tiny[dtype]) & (ref != 0)
                    flushed[dtype] |= bool(np.any(err[sub] > 1))
                    err[sub] = 0.0
                    i = int(np.argmax(err))
                    if err[i] > worst[which][0]:
                        worst[which] = (float(err[i]), float(x64[i]))
            rows.append({
                "case": case.id, "dtype": dtype, "family": case.activation.family,
                "subnormals_flushed": flushed[dtype],
                "value_ulp": worst["value"][0], "value_at": worst["value"][1],
                "derivative_ulp": worst["derivative"][0], "derivative_at": worst["derivative"][1],
            })  # fmt: skip
            print(case.id, dtype, round(worst["value"][0], 2), round(worst["derivative"][0], 2),
                  file=sys.stderr, flush=True)  # fmt: skip
    return rows


def _subnormal(v, tiny: float) -> bool:
    v = abs(float(v))
    return 0 < v < tiny


def markdown(results: dict[str, list[dict]]) -> str:
    backends = list(results)
    lines = [
        "# relukit.keras: worst error against mpmath, per backend (ulps of the result's dtype)",
        "",
        "Values and gradients (the backend's autodiff) on the tests' sample points of each dtype "
        "and, in float32, a dense grid of [−14, 14]; where f' crosses zero, in ulps of the terms "
        "it sums; relative to max(|f|, 1e-30) in float32 and max(|f|, 1e-300) in float64 (the "
        "backends flush subnormal intermediates on CPU). Subnormal inputs and results are "
        "counted apart: *subnormals* says whether any is more than 1 step off. jax takes "
        "float64 input only with `JAX_ENABLE_X64=1`; without it, float32's smooth entries are "
        "still computed in float64 (a `jax.enable_x64` scope around relukit's own computation). "
        "`benchmarks/keras_ulp_report.py`.",
        "",
        "| backend | " + " | ".join(f"{d} value | {d} f′" for d in DTYPES) + " | subnormals |",
        "|---|" + "---:|" * (2 * len(DTYPES)) + "---|",
    ]
    for b in backends:
        cells = []
        for d in DTYPES:
            rows = [r for r in results[b] if r["dtype"] == d]
            if not rows:
                cells += ["–", "–"]
                continue
            for key in ("value_ulp", "derivative_ulp"):
                worst = max(rows, key=lambda r: r[key])
                cells.append(f"{worst[key]:.2f} ({worst['case']})")
        kept = "> 1 step off" if any(r["subnormals_flushed"] for r in results[b]) else "exact"
        lines.append(f"| {b} | " + " | ".join(cells) + f" | {kept} |")
    lines += ["", "| case | " + " | ".join(f"{b} {d} value / f′" for b in backends for d in DTYPES)
              + " |", "|---|" + "---:|" * (len(backends) * len(DTYPES))]  # fmt: skip
    for case in dict.fromkeys(r["case"] for r in results[backends[0]]):
        cells = []
        for b in backends:
            for d in DTYPES:
                r = next((r for r in results[b] if r["case"] == case and r["dtype"] == d), None)
                pair = "–" if r is None else f"{r['value_ulp']:.2f} / {r['derivative_ulp']:.2f}"
                cells.append(pair)
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(runs: list[str]) -> None:
    path = RESULTS / "keras_ulp.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for label in runs:
        backend, extra = RUNS[label]
        env = {**os.environ, "KERAS_BACKEND": backend, **extra}
        r = subprocess.run([sys.executable, __file__, "--worker"], env=env, capture_output=True,
                           text=True, timeout=1800)  # fmt: skip
        if r.returncode != 0:
            raise SystemExit(f"{label} failed:\n{r.stderr[-4000:]}")
        results[label] = json.loads(r.stdout.strip().splitlines()[-1])
        print(label, "done", flush=True)
    results = {b: results[b] for b in RUNS if b in results}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "keras_ulp.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        print(json.dumps(_worker()))
    else:
        main(sys.argv[1:] or list(RUNS))
