"""relukit's native CPU kernels (``csrc/relukit_ops.cpp``): built on first use, cached, optional.

The kernels fuse the NaN rule into each backward pass, run autograd in C++, and compute GELU
exactly in float32/float16/bfloat16 (see the C++ file's header for the measurements behind
them). They are compiled once per machine with ``torch.utils.cpp_extension`` (a C++ compiler
and ``ninja``, which ``relukit[torch]`` installs) into torch's extension cache, under a name
that hashes the sources, torch's version and the CPU's flags, so an edited kernel (or another
CPU) gets its own build rather than a stale one. That first build takes 20-50 s (15-48 s measured
on this project's 2-core machine, by load).

Loading is defensive, because a broken cache must never take a process down:

- after a build, the library's SHA-256 is recorded beside it (``<name>.so.sha256``); a cached
  library is loaded only if it matches (a truncated copy would crash ``dlopen`` with SIGBUS), and
  a matching one is loaded directly, without the compiler (read-only caches, images without a
  toolchain);
- builds are serialised by an ``flock`` on ``relukit.lock`` in the build directory, which the
  kernel releases when its holder dies; holding it, a leftover ``lock`` file of torch's (from a
  build killed by SIGTERM/SIGKILL, on which torch would wait forever) is stale and is removed,
  with one warning that names it;
- the first call is thread-safe: one thread builds, the others wait for its result.

They run in eager mode and under ``torch.compile``/``torch.export`` (``for_input``), so compiled
results equal eager ones bit for bit; ``torch.onnx.export`` gets the ATen path (standard ONNX
operators), since ONNX has no translation for relukit's ops.

Where they cannot be had, relukit warns once (with the cause) and keeps its ATen path, which
keeps the contract except for GELU's float32 left tail. ``RELUKIT_NATIVE=0`` (or ``false``,
``off``, ``no``) turns them off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import sys
import threading
import time
import warnings
from pathlib import Path

import torch

from . import _autograd as _ag

_CSRC = Path(__file__).parent / "csrc"
_SOURCES = ("relukit_ops.cpp", "gelu_math.h", "gelu_coeffs.h")
_OFF = frozenset({"0", "false", "off", "no"})


def _cpu_flags() -> bytes:
    """The CPU's feature flags (Linux), so that a cache shared across machines never hands a
    ``-march=native`` build to a CPU without its instructions."""
    try:
        with open("/proc/cpuinfo", "rb") as f:
            return next((line for line in f if line.startswith(b"flags")), b"")
    except OSError:
        return platform.processor().encode()


def _build_name() -> str:
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((_CSRC / name).read_bytes())
    digest.update(torch.__version__.encode())
    digest.update(_cpu_flags())
    return f"relukit_ops_{digest.hexdigest()[:12]}"


def build_directory() -> Path:
    """The build and cache directory: torch's extension cache (``TORCH_EXTENSIONS_DIR``)."""
    from torch.utils import cpp_extension

    return Path(cpp_extension._get_build_directory(_build_name(), verbose=False))


def _library(directory: Path) -> Path:
    return directory / f"{_build_name()}.so"


def _checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verified(library: Path) -> bool:
    """Whether ``library`` exists and matches the checksum recorded after its build."""
    record = library.with_name(library.name + ".sha256")
    try:
        return library.is_file() and record.read_text().strip() == _checksum(library)
    except OSError:
        return False


def _record(library: Path) -> None:
    record = library.with_name(library.name + ".sha256")
    tmp = record.with_name(record.name + f".{os.getpid()}.tmp")
    tmp.write_text(_checksum(library))
    os.replace(tmp, record)  # atomic: a reader sees no record or a whole one


@contextlib.contextmanager
def _build_lock(directory: Path):
    """An exclusive ``flock`` on ``relukit.lock``: released by the kernel if its holder dies."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "relukit.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _clear_stale_torch_lock(directory: Path) -> None:
    """Remove torch's ``lock`` file: under our flock no build of ours can be holding it."""
    stale = directory / "lock"
    if stale.exists():
        warnings.warn(
            f"relukit.torch: removing a stale build lock left by an interrupted build: {stale}",
            RuntimeWarning,
            stacklevel=5,
        )
        stale.unlink(missing_ok=True)


def _compile() -> None:
    """Build the library with ``cpp_extension`` (under the build lock), then record its checksum."""
    from torch.utils import cpp_extension

    directory = build_directory()
    # ATen builds with the same no-trap flags; without them GCC keeps the selects as branches
    # and the loops do not vectorise (measured 10x slower). Results are unchanged.
    cflags = ["-O3", "-march=native", "-std=c++20", "-ffp-contract=off", "-fno-trapping-math"]
    cflags += ["-fno-math-errno"]
    ldflags = []
    if torch._C.has_openmp:  # at::parallel_for must use torch's own OpenMP pool, not its own
        cflags += ["-fopenmp", "-DAT_PARALLEL_OPENMP=1"]
        ldflags += ["-fopenmp"]
    print(
        f"relukit.torch: building the native CPU kernels in {directory} (once per machine, "
        "20-50 s; python -m relukit.torch.build does it ahead of time)",
        file=sys.stderr,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():  # cpp_extension's notes about compiler versions
        warnings.simplefilter("ignore")
        built = cpp_extension.load(
            name=_build_name(),
            sources=[str(_CSRC / "relukit_ops.cpp")],
            extra_include_paths=[str(_CSRC)],
            extra_cflags=cflags,
            extra_ldflags=ldflags,
            build_directory=str(directory),
            is_python_module=False,
            verbose=False,
        )
    # cpp_extension appends _v1, _v2... when its build arguments changed (another checkout's
    # paths); the cache keeps one library under the content-keyed name, which is what is loaded.
    library = _library(directory)
    if built and Path(built) != library:
        os.replace(built, library)
    _record(library)
    print(f"relukit.torch: built in {time.perf_counter() - start:.1f} s", file=sys.stderr)


def _load() -> None:
    """Load the verified cached library, building it first if it is missing or corrupt."""
    directory = build_directory()
    library = _library(directory)
    if _verified(library):
        torch.ops.load_library(str(library))
        return
    with _build_lock(directory):
        if _verified(library):  # another process built it while we waited for the lock
            torch.ops.load_library(str(library))
            return
        _clear_stale_torch_lock(directory)
        if library.exists():  # unverified: truncated or foreign; never dlopen it
            library.unlink()
        _compile()


def enabled() -> bool:
    """``False`` when ``RELUKIT_NATIVE`` is ``0``, ``false``, ``off`` or ``no``."""
    return os.environ.get("RELUKIT_NATIVE", "1").strip().lower() not in _OFF


class _Once:
    """The native ops, loaded once per process, thread-safely: ``ops()``; ``ops.cache_clear()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._value = None
        self.reason = "not loaded yet"

    def __call__(self):
        if self._done:  # the fast path of every call after the first
            return self._value
        with self._lock:
            if not self._done:
                self._value = self._get()
                self._done = True
        return self._value

    def cache_clear(self) -> None:
        with self._lock:
            self._done, self._value = False, None

    def _get(self):
        if not enabled():
            self.reason = "turned off by RELUKIT_NATIVE"
            return None
        try:
            _load()
        except Exception as err:  # no compiler, no ninja, headers missing: keep the ATen path
            self.reason = f"{type(err).__name__}: {' '.join(str(err).split())[:600]}"
            warnings.warn(
                f"relukit.torch: native CPU kernels unavailable ({self.reason}); "
                "using the ATen path (slower; GELU's float32 tail inexact). "
                "Set RELUKIT_NATIVE=0 to skip building them.",
                RuntimeWarning,
                stacklevel=4,
            )
            return None
        self.reason = f"loaded from {_library(build_directory())}"
        return torch.ops.relukit


ops = _Once()


@torch.compiler.assume_constant_result
def _available() -> bool:
    """Whether the ops load; under ``torch.compile`` a constant of the trace (the first trace
    may build or load the library: dynamo runs this eagerly, outside the graph)."""
    return ops() is not None


def for_input(x: torch.Tensor):
    """The native ops if they may run on x, else None: CPU tensors in eager mode and under
    ``torch.compile``/``torch.export`` (Meta kernels and the C++ autograd trace as they run), not
    under ``torch.func`` transforms or forward AD (the C++ autograd has no forward mode) nor
    under ``torch.onnx.export``, which cannot translate relukit's ops (the ATen path exports as
    standard ONNX operators)."""
    # Cheapest tests first (this runs on every call; benchmarks/bench_channels_last.py):
    # is_cpu is an attribute, the transform checks are one C call each.
    if not x.is_cpu or _ag._functorch_active() or _ag._fwd_ad_active():
        return None
    if torch.compiler.is_compiling():
        if torch.onnx.is_in_onnx_export() or not _available():
            return None
        return torch.ops.relukit
    return _OVERLOADS if ops() is not None else None


def eager_dense_cpu(x: torch.Tensor) -> bool:
    """Whether x takes the eager native path as it is: a dense CPU tensor in eager mode, not
    under ``torch.func`` transforms, forward AD, ``torch.compile`` or ``torch.jit.trace``
    (``ActivationModule.forward`` calls the op it looked up for x's dtype when this holds)."""
    return (
        not torch.compiler.is_compiling()  # first: dynamo folds it, and traces nothing after
        and x.is_cpu
        and x.layout is _STRIDED
        and not x.is_nested
        and not _ag._functorch_active()
        and not _ag._fwd_ad_active()
        and not torch._C._is_tracing()
    )


_STRIDED = torch.strided


class _Overloads:
    """``torch.ops.relukit`` with each op resolved to its one overload (``.default``), for eager
    calls: calling the ``OpOverload`` skips the packet's overload resolution in Python, 1.6 of
    the 4.2 µs a 16-element ``relukit::leaky_relu`` call takes (the eager Python layer's cost
    showed at 1e6 elements too: benchmarks/bench_torch_speed.py, ReLU/LeakyReLU rows)."""

    def __getattr__(self, name: str):
        op = getattr(torch.ops.relukit, name).default
        setattr(self, name, op)  # found without __getattr__ from now on
        return op


_OVERLOADS = _Overloads()
