"""relukit's native CPU kernels (``csrc/relukit_ops.cpp``): built on first use, cached, optional.

The kernels fuse the NaN rule into each backward pass, run autograd in C++, and compute GELU
exactly in float32/float16/bfloat16 (see the C++ file's header for the measurements behind
them). They are compiled once per machine with ``torch.utils.cpp_extension`` (a C++ compiler
and ``ninja``, which ``relukit[torch]`` installs) into torch's extension cache, under a name
that hashes the sources, torch's version and the CPU's flags, so an edited kernel (or another
CPU) gets its own build rather than a stale one. That first build takes about 20 s.

Where they cannot be built (no compiler), relukit warns once and keeps its ATen path, which
keeps the contract except for GELU's float32 left tail. ``RELUKIT_NATIVE=0`` turns them off.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import warnings
from pathlib import Path

import torch

from . import _autograd as _ag

_CSRC = Path(__file__).parent / "csrc"
_SOURCES = ("relukit_ops.cpp", "gelu_math.h", "gelu_coeffs.h")


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


def _compile() -> None:
    from torch.utils import cpp_extension

    # ATen builds with the same no-trap flags; without them GCC keeps the selects as branches
    # and the loops do not vectorise (measured 10x slower). Results are unchanged.
    cflags = ["-O3", "-march=native", "-std=c++20", "-ffp-contract=off", "-fno-trapping-math"]
    cflags += ["-fno-math-errno"]
    ldflags = []
    if torch._C.has_openmp:  # at::parallel_for must use torch's own OpenMP pool, not its own
        cflags += ["-fopenmp", "-DAT_PARALLEL_OPENMP=1"]
        ldflags += ["-fopenmp"]
    with warnings.catch_warnings():  # cpp_extension's notes about compiler versions
        warnings.simplefilter("ignore")
        cpp_extension.load(
            name=_build_name(),
            sources=[str(_CSRC / "relukit_ops.cpp")],
            extra_include_paths=[str(_CSRC)],
            extra_cflags=cflags,
            extra_ldflags=ldflags,
            is_python_module=False,
            verbose=False,
        )


_GRAPH_BACKWARDS: list[torch.library.Library] = []  # registered once, kept alive


def _register_graph_backwards() -> None:
    """The differentiable backward passes the C++ ops call under ``create_graph=True``."""
    if _GRAPH_BACKWARDS:
        return
    lib = torch.library.Library("relukit", "IMPL")
    lib.impl(
        "relu_backward_graph",
        lambda g, saved, _: _ag.relu_grad(g, saved, True),
        "CompositeImplicitAutograd",
    )
    lib.impl(
        "leaky_relu_backward_graph",
        lambda g, saved, slope: _ag.leaky_grad(g, saved, slope, slope > 0, True),
        "CompositeImplicitAutograd",
    )
    lib.impl(
        "gelu_backward_graph",
        lambda g, x, tanh: _ag.gelu_grad(g, x, "tanh" if tanh else "none", True),
        "CompositeImplicitAutograd",
    )
    _GRAPH_BACKWARDS.append(lib)


@functools.cache
def ops():
    """``torch.ops.relukit`` once the kernels are built and loaded; ``None`` where they can't be."""
    if os.environ.get("RELUKIT_NATIVE", "1") == "0":
        return None
    try:
        _compile()
    except Exception as err:  # no compiler, no ninja, headers missing: keep the ATen path
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        warnings.warn(
            f"relukit.torch: native CPU kernels unavailable ({type(err).__name__}: {reason}); "
            "using the ATen path (slower; GELU's float32 tail inexact). "
            "Set RELUKIT_NATIVE=0 to skip building them.",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    _register_graph_backwards()
    return torch.ops.relukit


def for_input(x: torch.Tensor):
    """The native ops if they may run on x (eager, CPU, no transforms, no forward AD), else None."""
    if not _ag.data_checks_allowed(x) or _ag._fwd_ad_active():
        return None
    return ops()


def gelu(x: torch.Tensor, approximate: str) -> torch.Tensor | None:
    """GELU from the native kernels where they apply to x (not float64: ATen's), else ``None``."""
    if x.dtype == torch.float64 or (native := for_input(x)) is None:
        return None
    return native.gelu(x, approximate == "tanh")
