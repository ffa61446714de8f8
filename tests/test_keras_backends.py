"""tests/test_keras.py, Keras' own layer tests (test_keras_layer_contract.py), relukit.keras's
doctests and the Keras sections of test_contract.py and
test_properties.py (their ``keras`` tests) on every Keras backend.

Keras reads KERAS_BACKEND once per process, so the in-process run stays on torch (conftest.py)
and each other backend gets a subprocess. jax runs with ``JAX_ENABLE_X64=1`` so that float64 is
float64 there too (by default jax computes it as float32 and those tests skip).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {"jax": {"JAX_ENABLE_X64": "1"}, "tensorflow": {"TF_CPP_MIN_LOG_LEVEL": "2"}}


# Every test of these is about Keras (-k keras keeps the Keras sections of the shared modules).
PATHS = ["tests/test_keras.py", "tests/test_keras_layer_contract.py", "src/relukit/keras",
         "tests/test_contract.py", "tests/test_properties.py",
         "tests/test_keras_tf_fast.py"]  # fmt: skip


@pytest.mark.slow  # a subprocess running the Keras tests: ~85 s (jax), ~30 s (tensorflow)
@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_keras_tests_pass_on_backend(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (the test extra installs it)")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", *PATHS, "-k", "keras", "-q", "-p", "no:cacheprovider",
         "-x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": backend, **ENV[backend]},
        timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, f"KERAS_BACKEND={backend}:\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
    assert " passed" in r.stdout.splitlines()[-1], r.stdout[-2000:]
