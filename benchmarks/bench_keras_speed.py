"""relukit.keras against Keras' own layers, per backend (issue #12 item 1: Keras at Keras' speed).

Each backend runs in its own subprocess (``KERAS_BACKEND`` is read when Keras is imported):

(a) one training step (``train_on_batch``, Adam, MSE) of an MLP with 5 hidden ``Dense(256)``
    layers followed by GELU (exact), LeakyReLU, ELU, PReLU and ReLU, batch 256: relukit's layers
    against the same model with Keras' own (``Activation("gelu")``, ``LeakyReLU``, ``ELU``,
    ``PReLU``, ``ReLU``, same parameters and initial weights), with ``jit_compile`` off and on.
    The two models are timed in alternation, ``STEPS`` steps a sample; the ratio reported is the
    median of the paired ratios (each relukit sample over the Keras sample beside it).
(b) each layer's forward+backward on 1e6 float32 elements (``(1000, 1000)``), relukit against
    Keras' own, paired the same way (jax: ``jax.jit`` of the vjp; tensorflow: ``tf.function``
    of a ``GradientTape``; torch: eager autograd), with NumPy's copy bandwidth of the same run
    beside it (the physical limit of elementwise work), and on torch the number of operator
    events ``torch.profiler`` records for forward+backward on a (256, 256) tensor.

Run: ``python benchmarks/bench_keras_speed.py [backend ...]`` →
``benchmarks/results/keras_speed.{json,md}`` (all three backends by default; a run of some
backends replaces their results and keeps the others'). Every backend computes on one thread
(see ``_one_thread``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
BACKENDS = ("torch", "jax", "tensorflow")
STEPS = 5  # training steps per timed sample
SAMPLES = 61  # paired samples per model comparison (21 left a ±5% run-to-run spread on tensorflow)
LAYER_REPS = 60  # paired forward+backward samples per layer
UNITS, BATCH, HIDDEN = 256, 256, ("gelu", "leaky_relu", "elu", "prelu", "relu")


# --- worker (one backend) ---------------------------------------------------------------------


def _layers(keras, rk):
    """(name, relukit layer factory, Keras layer factory) with the same parameters."""
    return [
        ("GELU", lambda: rk.GELU(), lambda: keras.layers.Activation("gelu")),
        (
            "LeakyReLU",
            lambda: rk.LeakyReLU(negative_slope=0.01),
            lambda: keras.layers.LeakyReLU(negative_slope=0.01),
        ),
        ("ELU", lambda: rk.ELU(alpha=1.0), lambda: keras.layers.ELU(alpha=1.0)),
        (
            "PReLU",
            lambda: rk.PReLU(),
            lambda: keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25)),
        ),
        ("ReLU", lambda: rk.ReLU(), lambda: keras.layers.ReLU()),
    ]


def _model(keras, factories):
    layers = [keras.Input((UNITS,))]
    for make in factories:
        layers += [keras.layers.Dense(UNITS), make()]
    layers.append(keras.layers.Dense(10))
    return keras.Sequential(layers)


def _paired(a, b, samples: int) -> dict:
    """Alternate ``a()`` and ``b()`` (each returns seconds); medians and the median ratio."""
    ta, tb, ratios = [], [], []
    for i in range(samples):
        if i % 2:
            y, x = b(), a()
        else:
            x, y = a(), b()
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
    return {
        "relukit_s": statistics.median(ta),
        "keras_s": statistics.median(tb),
        "ratio": statistics.median(ratios),
        "ratio_q1_q3": [statistics.quantiles(ratios, n=4)[0], statistics.quantiles(ratios, n=4)[2]],
    }


def _copy_gbs(np, n: int = 10**6, reps: int = 100) -> float:
    src, dst = np.random.default_rng(0).standard_normal(n).astype(np.float32), np.empty(n, "f4")
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t)
    return 2 * 4 * n / statistics.median(times) / 1e9


def _train_steps(keras, np, jit: bool, keras_gelu: bool = False) -> dict:
    """Paired step times; ``keras_gelu``: both models use Keras' GELU (what the other four
    layers cost apart from exact GELU)."""
    rk = __import__("relukit.keras", fromlist=["keras"])
    specs = _layers(keras, rk)
    if keras_gelu:
        specs[0] = (specs[0][0], specs[0][2], specs[0][2])
    keras.utils.set_random_seed(0)
    ours = _model(keras, [s[1] for s in specs])
    theirs = _model(keras, [s[2] for s in specs])
    theirs.set_weights(ours.get_weights())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, UNITS)).astype(np.float32)
    y = rng.standard_normal((BATCH, 10)).astype(np.float32)
    for m in (ours, theirs):
        m.compile(optimizer="adam", loss="mse", jit_compile=jit)
        for _ in range(3 * STEPS):  # compile and warm up
            m.train_on_batch(x, y)

    def timed(m):
        def run():
            t = time.perf_counter()
            for _ in range(STEPS):
                m.train_on_batch(x, y)
            return (time.perf_counter() - t) / STEPS

        return run

    return _paired(timed(ours), timed(theirs), SAMPLES)


def _fwd_bwd(keras, np, backend: str, layer, x, g):
    """A callable timing one forward+backward of ``layer`` on x with upstream g (seconds)."""
    if backend == "torch":
        import torch

        xt = torch.as_tensor(x).requires_grad_(True)
        gt = torch.as_tensor(g)

        def run():
            t = time.perf_counter()
            layer(xt).backward(gt)
            el = time.perf_counter() - t
            xt.grad = None
            for w in layer.weights:
                w.value.grad = None
            return el

        return run
    if backend == "jax":
        import jax

        xj, gj = jax.numpy.asarray(x), jax.numpy.asarray(g)
        fn = jax.jit(lambda v, u: jax.vjp(layer, v)[1](u))
    else:
        import tensorflow as tf

        xj, gj = tf.constant(x), tf.constant(g)

        @tf.function
        def fn(v, u):
            with tf.GradientTape() as tape:
                tape.watch(v)
                out = layer(v)
            return tape.gradient(out, v, output_gradients=u)

    def run():
        t = time.perf_counter()
        out = fn(xj, gj)
        np.asarray(out[0] if isinstance(out, tuple) else out)  # wait for the result
        return time.perf_counter() - t

    for _ in range(3):
        run()
    return run


def _op_count(layer, shape=(256, 256)) -> int:
    """Operator events (aten::, relukit::, autograd nodes) torch.profiler records for forward and
    backward of ``layer`` on a float32 tensor of ``shape``."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    x = torch.randn(shape).requires_grad_(True)
    g = torch.randn(shape)
    layer(x).backward(g)  # built, warmed
    x.grad = None
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        layer(x).backward(g)
    names = [e.name for e in prof.events()]
    return sum(n.startswith(("aten::", "relukit::")) for n in names)


def _one_thread(backend: str) -> None:
    """One compute thread everywhere: on this shared 2-core machine a second thread's barrier
    waits turn into scheduler quanta (torch's eager backward measured 16 ms instead of 0.4 ms
    with 2 threads under load), which would swamp the kernels being compared."""
    if backend == "torch":
        import torch

        torch.set_num_threads(1)
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def worker(backend: str) -> dict:
    _one_thread(backend)
    import keras
    import numpy as np

    import relukit.keras as rk

    assert keras.backend.backend() == backend
    # The machine is shared: the 1-minute load average before and after, shown with the tables.
    out: dict = {"backend": backend, "steps": {}, "layers": {}, "load": [os.getloadavg()[0]]}
    for jit in (False, True):
        for keras_gelu in (False, True):
            key = ("jit" if jit else "no_jit") + ("_keras_gelu" if keras_gelu else "")
            out["steps"][key] = _train_steps(keras, np, jit, keras_gelu)
            print(backend, key, out["steps"][key])
    rng = np.random.default_rng(1)
    x = rng.normal(0, 3, (1000, 1000)).astype(np.float32)
    g = rng.standard_normal((1000, 1000)).astype(np.float32)
    for name, ours, theirs in _layers(keras, rk):
        a, b = ours(), theirs()
        a.build(x.shape)
        b.build(x.shape)
        r = _paired(
            _fwd_bwd(keras, np, backend, a, x, g),
            _fwd_bwd(keras, np, backend, b, x, g),
            LAYER_REPS,
        )
        r["copy_gbs"] = _copy_gbs(np)
        if backend == "torch":
            r["ops_relukit"], r["ops_keras"] = _op_count(ours()), _op_count(theirs())
        out["layers"][name] = r
        print(backend, name, r)
    out["load"].append(os.getloadavg()[0])
    return out


# --- driver -------------------------------------------------------------------------------------


def _load_line(results: list[dict]) -> list[str]:
    """The load the runs had (the machine is shared), as a paragraph; none for old results."""
    loads = [
        f"{r['backend']} {r['load'][0]:.1f} / {r['load'][1]:.1f}" for r in results if "load" in r
    ]
    if not loads:
        return []
    return [
        "1-minute load average of the 2 shared cores, before / after each backend's run: "
        + ", ".join(loads)
        + " (above 2, other processes were competing for the cores).",
        "",
    ]


def _markdown(results: list[dict]) -> str:
    lines = [
        "# relukit.keras against Keras' own layers",
        "",
        f"CPU (2 cores, shared). Training step: MLP of 5 × (Dense({UNITS}) → activation: GELU "
        f"exact, LeakyReLU(0.01), ELU, PReLU, ReLU), batch {BATCH}, Adam, MSE, "
        f"`train_on_batch`, {STEPS} steps a sample, {SAMPLES} paired samples. Layers: "
        f"forward+backward on 1e6 float32, {LAYER_REPS} paired samples. Ratios are medians of "
        "paired ratios (relukit / Keras); < 1 is faster.",
        "",
        "The *GELU from Keras* rows give both models Keras' own GELU: the cost of the other "
        "four layers alone, apart from exact GELU (relukit's is Φ in float64 rounded once: "
        "torch's native kernels, tensorflow's float64 Erfc, on jax a float64 exp and "
        "polynomial, also without x64, in a `jax.enable_x64` scope around relukit's own "
        "computation; see keras_ulp.md. Keras' is 0.5·x·(1 + erf(x/√2)) in float32, a few ops).",
        "",
        *_load_line(results),
        "| backend | model | step ms (relukit / Keras) | step ratio | step ms, jit_compile | "
        "step ratio, jit_compile |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for suffix, label in (("", "all relukit"), ("_keras_gelu", "GELU from Keras")):
            s, j = r["steps"]["no_jit" + suffix], r["steps"]["jit" + suffix]
            lines.append(
                f"| {r['backend']} | {label} | {s['relukit_s'] * 1e3:.2f} / "
                f"{s['keras_s'] * 1e3:.2f} | {s['ratio']:.3f} | {j['relukit_s'] * 1e3:.2f} / "
                f"{j['keras_s'] * 1e3:.2f} | {j['ratio']:.3f} |"
            )
    lines += [
        "",
        "Forward+backward per layer, 1e6 float32 (torch: eager autograd; jax: `jax.jit`; "
        "tensorflow: `tf.function`). Op counts: operator events torch.profiler records for "
        "forward+backward on (256, 256).",
        "",
        "| backend | layer | relukit µs | Keras µs | ratio | ops relukit / Keras | copy GB/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for name, v in r["layers"].items():
            ops_ = f"{v['ops_relukit']} / {v['ops_keras']}" if "ops_relukit" in v else "–"
            lines.append(
                f"| {r['backend']} | {name} | {v['relukit_s'] * 1e6:.0f} | "
                f"{v['keras_s'] * 1e6:.0f} | {v['ratio']:.2f} | {ops_} | {v['copy_gbs']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main(backends: list[str]) -> None:
    # A run of some backends replaces theirs and keeps the others' (in BACKENDS' order).
    path = RESULTS / "keras_speed.json"
    kept = {r["backend"]: r for r in json.loads(path.read_text())} if path.exists() else {}
    for backend in backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONWARNINGS": "ignore"}
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
        env.setdefault("OMP_NUM_THREADS", "1")
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", backend],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stderr.write(proc.stderr[-3000:] if proc.returncode else "")
        print(proc.stdout, end="")
        if proc.returncode:
            raise SystemExit(f"{backend}: worker failed ({proc.returncode})")
        kept[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
    results = [kept[b] for b in BACKENDS if b in kept]
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "keras_speed.md").write_text(_markdown(results))
    print(_markdown(results))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(sys.argv[2])))
    else:
        main(sys.argv[1:] or list(BACKENDS))
