"""The native kernels' loader under faults: corrupt caches, stale locks, threads, no compiler.

Each scenario runs in a subprocess on a copy of this machine's build (so no test rebuilds from
scratch: a relink takes ~0.2 s) and asserts that the process survives, ends with the native
kernels where they can be had, and says what happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from relukit.torch import _native  # noqa: E402

THREADS = r"""
import threading, warnings, torch
warnings.simplefilter("always")
from relukit.torch import _native, functional as F
kinds = []
def first_call():
    x = torch.randn(3, requires_grad=True)
    kinds.append(type(F.relu(x).grad_fn).__name__)
threads = [threading.Thread(target=first_call) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(set(kinds)), _native.ops.reason)
"""


@pytest.fixture
def cache(tmp_path) -> Path:
    """A copy of this machine's built kernels, as ``TORCH_EXTENSIONS_DIR``."""
    if _native.ops() is None:
        pytest.skip(f"the native kernels are unavailable here: {_native.ops.reason}")
    built = _native.build_directory()
    root = tmp_path / "ext"
    shutil.copytree(built, root / built.name, ignore=shutil.ignore_patterns("relukit.lock"))
    return root


def _run(cache: Path, code: str = THREADS, **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ, TORCH_EXTENSIONS_DIR=str(cache), **env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=300
    )


def _library(cache: Path) -> Path:
    (directory,) = cache.iterdir()
    return directory / f"{directory.name}.so"


@pytest.mark.slow
def test_a_truncated_library_is_rebuilt_never_loaded(cache):
    library = _library(cache)
    data = library.read_bytes()
    library.write_bytes(data[: len(data) // 2])  # an interrupted copy: dlopen would SIGBUS
    done = _run(cache)
    assert done.returncode == 0, done.stderr
    assert "['CppFunction']" in done.stdout and "building the native CPU kernels" in done.stderr
    assert library.read_bytes() != data[: len(data) // 2]


@pytest.mark.slow
def test_a_stale_lock_is_removed_with_a_warning_naming_it(cache):
    library = _library(cache)
    library.write_bytes(b"")  # forces a (re)build, which is where torch's lock would hang
    stale = library.parent / "lock"
    stale.write_text("")  # what a build killed by SIGKILL leaves
    done = _run(cache)
    assert done.returncode == 0, done.stderr
    assert f"stale build lock left by an interrupted build: {stale}" in done.stderr
    assert "['CppFunction']" in done.stdout and not stale.exists()


@pytest.mark.slow
def test_eight_threads_first_call_all_get_the_kernels_and_nothing_warns(cache):
    done = _run(cache)
    assert done.returncode == 0, done.stderr
    assert "['CppFunction']" in done.stdout
    assert "unavailable" not in done.stderr and "building" not in done.stderr


@pytest.mark.slow
def test_a_valid_read_only_cache_loads_without_a_compiler(cache, tmp_path):
    for path in cache.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        done = _run(cache, PATH=str(tmp_path / "no-tools"))  # no c++, no ninja on PATH
    finally:
        for path in cache.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert done.returncode == 0, done.stderr
    assert "['CppFunction']" in done.stdout and "loaded from" in done.stdout


@pytest.mark.slow
def test_without_a_compiler_the_warning_says_why(cache, tmp_path):
    _library(cache).write_bytes(b"")
    done = _run(cache, PATH=str(tmp_path / "no-tools"))
    assert done.returncode == 0, done.stderr
    assert "unavailable (RuntimeError: Ninja is required" in done.stderr
    assert "['ReluBackward']" in done.stdout or "Backward" in done.stdout


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no", " No "])
def test_relukit_native_spellings_of_off(monkeypatch, value):
    monkeypatch.setenv("RELUKIT_NATIVE", value)
    assert not _native.enabled()


@pytest.mark.parametrize("value", ["1", "true", "yes", ""])
def test_relukit_native_spellings_of_on(monkeypatch, value):
    monkeypatch.setenv("RELUKIT_NATIVE", value)
    assert _native.enabled()


@pytest.mark.slow
def test_build_ahead_of_time_reports_where(cache):
    done = _run(cache, "from relukit.torch.build import main; raise SystemExit(main())")
    assert done.returncode == 0 and f"loaded from {_library(cache)}" in done.stdout
    off = _run(
        cache,
        "from relukit.torch.build import main; raise SystemExit(main())",
        RELUKIT_NATIVE="off",
    )
    assert off.returncode == 1 and "turned off by RELUKIT_NATIVE" in off.stderr
