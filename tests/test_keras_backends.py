"""tests/test_keras.py, Keras' own layer tests (test_keras_layer_contract.py), relukit.keras's
doctests and the Keras sections of test_contract.py and
test_properties.py (their ``keras`` tests) on every Keras backend.

Keras reads KERAS_BACKEND once per process, so the in-process run stays on torch (conftest.py)
and each other backend gets a subprocess. jax runs with ``JAX_ENABLE_X64=1`` so that float64 is
float64 there too (by default jax computes it as float32 and those tests skip), and once more
without it, Keras' default jax setup (``jax-no-x64``: tests/test_keras.py alone, whose float32
accuracy, float64-scope and training tests are the ones x64 changes).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Every test of these is about Keras (-k keras keeps the Keras sections of the shared modules).
PATHS = ["tests/test_keras.py", "tests/test_keras_layer_contract.py", "src/relukit/keras",
         "tests/test_contract.py", "tests/test_properties.py",
         "tests/test_keras_tf_fast.py"]  # fmt: skip

# Without x64 only what x64 changes: the float32 and half-precision numerics (computed in a
# jax.enable_x64 scope) and the jax-specific tests; the API tests are the x64 run's (128 s of
# CPU beside the suite, now 74).
NO_X64 = "keras and (float32 or float16 or bfloat16 or jax or accuracy or compiled or gaussian)"

# Each run: KERAS_BACKEND, the environment it adds, the paths it tests, the -k expression.
RUNS = {
    "jax": ("jax", {"JAX_ENABLE_X64": "1"}, PATHS, "keras"),
    "jax-no-x64": ("jax", {"JAX_ENABLE_X64": "0"}, ["tests/test_keras.py"], NO_X64),
    "tensorflow": ("tensorflow", {"TF_CPP_MIN_LOG_LEVEL": "2"}, PATHS, "keras"),
}


def command(run: str) -> tuple[list[str], dict[str, str]]:
    """The subprocess of ``run`` (a key of ``RUNS``): argv and environment."""
    backend, env, paths, select = RUNS[run]
    argv = [sys.executable, "-m", "pytest", *paths, "-k", select, "-q", "-p", "no:cacheprovider",
            "-x"]  # fmt: skip
    return argv, {**os.environ, "KERAS_BACKEND": backend, **env}


# Started by tests/conftest.py as soon as collection has selected these tests, so that they run
# beside the rest of the suite (a few minutes each: jax ~200 s, tensorflow ~60 s, quiet 2-core
# machine) instead of after it; each test waits for its own.
STARTED: dict[str, tuple[subprocess.Popen, Any, Any]] = {}


def start(backend: str) -> None:
    """Start the subprocess of run ``backend`` (a key of ``RUNS``) once; its output goes to
    temporary files (a pipe would stall it once full, until the test reads it)."""
    if backend in STARTED or importlib.util.find_spec(RUNS[backend][0]) is None:
        return
    argv, env = command(backend)
    # Closed by the test that reads them (or at exit): they outlive this function.
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
    STARTED[backend] = (proc, out, err)


@atexit.register
def _stop_unfinished() -> None:
    """A session that ends before the test waits (``-x``, Ctrl-C) leaves no process behind."""
    for proc, out, err in STARTED.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
        err.close()


@pytest.mark.slow  # a subprocess running the Keras tests (see STARTED)
@pytest.mark.parametrize("backend", list(RUNS))
def test_keras_tests_pass_on_backend(backend):
    if importlib.util.find_spec(RUNS[backend][0]) is None:
        pytest.skip(f"{RUNS[backend][0]} is not installed (the test extra installs it)")
    start(backend)  # already running when the suite started it
    proc, out, err = STARTED[backend]
    try:
        proc.wait(timeout=900)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    out.seek(0)
    err.seek(0)
    stdout, stderr = out.read(), err.read()
    out.close()
    err.close()
    assert proc.returncode == 0, f"{backend} run:\n{stdout[-6000:]}\n{stderr[-3000:]}"
    assert " passed" in stdout.splitlines()[-1], stdout[-2000:]
