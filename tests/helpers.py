"""Helpers shared by several test modules and by the benchmarks: ulp errors against mpmath.

Test modules and ``benchmarks/`` import from here (and from ``cases.py``), never from a
``test_*.py`` module, so that the benchmarks measure exactly what the tests assert.
Importing this module does not import torch.
"""

from __future__ import annotations

import functools
import math

import mpmath as mp
import numpy as np
from cases import CASES, call, sample_points

from relukit._numpy_api import compute_dtype


def param_for(case, dtype):
    """The case's parameters rounded to the dtype relukit computes in (the documented rule)."""
    cdtype = compute_dtype(case.activation, np.dtype(dtype))
    return {k: float(cdtype.type(v)) if isinstance(v, float) else v for k, v in case.params.items()}


@functools.cache
def mpmath_reference(case_index: int, dtype_name: str, which: str):
    """(x, reference mpf values, error scale mpf values) for a case, dtype and value/derivative."""
    case = CASES[case_index]
    dtype = np.dtype(dtype_name).type
    xs = sample_points(dtype, n=60)
    params = param_for(case, dtype)
    fn = case.value if which == "value" else case.derivative
    scale_fn = case.derivative_scale if which == "derivative" else None
    refs, scales = [], []
    for x in xs:
        xm = mp.mpf(float(x))
        r = fn(xm, **params)
        refs.append(r)
        scales.append(abs(scale_fn(xm, **params)) if scale_fn else abs(r))
    return xs, refs, scales


def ulp_error(got, ref, scale, dtype) -> float:
    """|got − ref| in units of the dtype's spacing at |scale| (subnormal results: its steps)."""
    finfo = np.finfo(dtype)
    if abs(ref) > mp.mpf(float(finfo.max)) * (1 + mp.mpf(float(finfo.eps)) / 2):
        return 0.0 if np.isinf(got) and (got > 0) == (ref > 0) else math.inf
    if not np.isfinite(got):
        return math.inf
    spacing = float(np.spacing(dtype(min(float(scale), float(finfo.max)))))
    spacing = max(spacing, float(finfo.smallest_subnormal))
    return float(abs(mp.mpf(float(got)) - ref) / spacing)


def numpy_worst_ulps(case_index, dtype, which):
    """(worst ulp error, where) of relukit's NumPy function (or derivative) against mpmath."""
    case = CASES[case_index]
    xs, refs, scales = mpmath_reference(case_index, np.dtype(dtype).name, which)
    fn = case.numpy_fn() if which == "value" else case.numpy_fn().derivative
    got = call(case, fn, xs)
    assert got.dtype == xs.dtype
    errors = [ulp_error(g, r, s, dtype) for g, r, s in zip(got, refs, scales, strict=True)]
    i = int(np.argmax(errors))
    return errors[i], xs[i]


GELU_CASES = {c.params["approximate"]: i for i, c in enumerate(CASES) if c.name == "gelu"}


def torch_gelu_ulps(approximate: str, dtype_name: str, which: str, gelu=None):
    """(worst ulp error, where) of a torch GELU (or GELU') against mpmath; relukit's by default.

    ``benchmarks/ulp_report.py`` reports it for relukit.torch and for torch.nn.functional.
    """
    import torch

    if gelu is None:
        from relukit.torch.functional import gelu
    xs, refs, scales = mpmath_reference(GELU_CASES[approximate], dtype_name, which)
    x = torch.from_numpy(xs).requires_grad_(True)
    y = gelu(x, approximate=approximate)
    got = y if which == "value" else torch.autograd.grad(y, x, torch.ones_like(y))[0]
    got = got.detach().numpy()
    errors = [ulp_error(g, r, s, xs.dtype.type) for g, r, s in zip(got, refs, scales, strict=True)]
    i = int(np.argmax(errors))
    return errors[i], float(xs[i])


def torch_worst_ulps(case_index: int, dtype_name: str, which: str, functional=None):
    """(worst ulp error, where) of relukit.torch's function (or its gradient) against mpmath,
    for any case, on the NumPy test's grid (``benchmarks/ulp_report.py`` reports it).
    ``functional``: another namespace spelling the function alike (``torch.nn.functional``)."""
    import torch

    from relukit.torch import functional as relukit_functional

    F = functional or relukit_functional
    case = CASES[case_index]
    xs, refs, scales = mpmath_reference(case_index, dtype_name, which)
    x = torch.from_numpy(xs).requires_grad_(True)
    params = {
        k: torch.tensor([v], dtype=x.dtype) if case.activation.param(k).kind == "weight" else v
        for k, v in case.params.items()
    }
    y = getattr(F, case.name)(x, **params)
    got = y if which == "value" else torch.autograd.grad(y, x, torch.ones_like(y))[0]
    got = got.detach().numpy()
    errors = [ulp_error(g, r, s, xs.dtype.type) for g, r, s in zip(got, refs, scales, strict=True)]
    i = int(np.argmax(errors))
    return errors[i], float(xs[i])


def saved_storages(fn, x):
    """``(storages, y)``: y = fn(x) and the storages (``data_ptr``s) its graph saves for
    backward, seen by ``torch.autograd.graph.saved_tensors_hooks``."""
    import torch

    ptrs = set()

    def pack(t):
        ptrs.add(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = fn(x)
    return ptrs, y


def saved_bytes(model, x, loss=None) -> int:
    """Bytes of the unique storages one forward pass of ``model`` on ``x`` saves for backward,
    parameters excluded (``torch.autograd.graph.saved_tensors_hooks``); ``loss`` maps the
    output to the scalar it back-propagates (its sum by default)."""
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = max(seen.get(s.data_ptr(), 0), s.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = model(x)
        out = y.sum() if loss is None else loss(y)
    out.backward()
    return sum(seen.values())


def torch_ulp(t):
    """The spacing of t's dtype at t, in float64 (subnormal spacing below the normal range)."""
    import torch

    info = torch.finfo(t.dtype)
    _, exponent = torch.frexp(t.double())
    ulp = torch.ldexp(torch.full_like(t, info.eps, dtype=torch.float64), exponent - 1)
    return ulp.clamp_min(info.smallest_normal * info.eps)


def torch_gradient_errors(case, dtype_name: str, **options) -> tuple[float, bool]:
    """(worst gradient error, any wrong sign) of relukit.torch's default path for ``case``, or
    with ``options`` (``save="output"``).

    The error is relative to |f'(x)|, or, where f' underflows (below the dtype's smallest
    normal number divided by its epsilon: there the terms it is computed from are subnormal),
    absolute in units of |f'(0)|, over the
    log-spaced sample points of the dtype and a dense grid of [-40, 40]; the exact f' is
    relukit's float64 NumPy derivative (≤ 4 ulp of mpmath). A wrong sign is a nonzero gradient
    whose sign differs from the exact one.
    """
    x64, got, exact = _torch_gradients(case, dtype_name, options)
    finite = np.isfinite(exact) & np.isfinite(x64)
    d0 = abs(float(next(d for v, _, d in case.specials if v == 0.0))) or 1.0
    info = torch_finfo(dtype_name)
    tiny = float(info.smallest_normal) / float(info.eps)
    scale = np.where(np.abs(exact) >= tiny, np.abs(exact), d0)[finite]
    if case.derivative_scale is not None:  # f' crosses zero: judge in units of its terms
        scale = np.maximum(scale, _terms_scale(case, x64[finite]))
    err = np.abs(got[finite] - exact[finite]) / scale
    wrong = (np.sign(got[finite]) * np.sign(exact[finite]) < 0).any()
    return float(err.max(initial=0.0)), bool(wrong)


def torch_gradient_absolute_error(case, dtype_name: str, **options) -> float:
    """Worst |gradient − f'(x)| on ``torch_gradient_errors``' grid, in units of the dtype's
    epsilon times the largest |f'(x)| there: how far from f' a gradient is in absolute terms
    (``save="output"`` is exact for the output, so relatively off where the output hides the
    input, but within about one of these units)."""
    x64, got, exact = _torch_gradients(case, dtype_name, options)
    finite = np.isfinite(exact) & np.isfinite(x64)
    top = np.abs(exact[finite]).max() * float(torch_finfo(dtype_name).eps)
    return float(np.abs(got[finite] - exact[finite]).max(initial=0.0) / top)


def torch_finfo(dtype_name: str):
    import torch

    return torch.finfo(getattr(torch, dtype_name))


def _torch_gradients(case, dtype_name: str, options: dict):
    """(x, relukit.torch's gradient and the exact f', all as float64 arrays)."""
    import torch

    from relukit.torch import functional as F

    work = np.float32 if dtype_name == "bfloat16" else np.dtype(dtype_name)
    xs = np.concatenate([sample_points(work, n=80), np.linspace(-40, 40, 4001).astype(work)])
    x = torch.from_numpy(np.unique(xs)).to(getattr(torch, dtype_name)).requires_grad_(True)
    params = {
        k: torch.tensor([v], dtype=x.dtype) if case.activation.param(k).kind == "weight" else v
        for k, v in case.params.items()
    }
    (g,) = torch.autograd.grad(getattr(F, case.name)(x, **params, **options).sum(), x)
    x64 = x.detach().double().numpy()
    exact = np.asarray(case.numpy_fn().derivative(x64, **case.params), dtype=np.float64)
    return x64, g.double().numpy(), exact


def _terms_scale(case, x: np.ndarray) -> np.ndarray:
    import mpmath as mp

    near = np.abs(x) < 8  # the terms only cancel near the zero of f' (|x| < 2 for GELU, SiLU)
    out = np.zeros_like(x)
    out[near] = [float(case.derivative_scale(mp.mpf(float(v)), **case.params)) for v in x[near]]
    return out


def keras_value_and_grad(fn, x):
    """(fn(x), ∂ sum(fn(x)) / ∂x) with the running Keras backend's own autodiff."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        leaf = x.detach().clone().requires_grad_(True)
        y = fn(leaf)
        if not y.numel():
            return y.detach(), torch.zeros_like(leaf)
        (g,) = torch.autograd.grad(y, leaf, torch.ones_like(y))
        return y.detach(), g
    if backend == "jax":
        import jax

        y, pull = jax.vjp(fn, x)
        return y, pull(keras.ops.ones_like(y))[0]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return y, tape.gradient(y, x, output_gradients=tf.ones_like(y))


# torchvision's operator schemas that its Python import registers fake kernels for without
# checking that its C++ library loaded (torchvision/_meta_registrations.py: register_fake on
# "torchvision::nms" and "torchvision::qnms"; every other registration there and in
# _autograd_registrations.py is skipped when torchvision.extension._has_ops() is False). The
# only torchvision 0.28 wheel is a CUDA build whose _C fails to load beside the CPU torch, so
# they are defined here, with torchvision's own schemas (torchvision/csrc/ops/nms.cpp), before
# the import. The models need none of them; calling nms stays an error (no kernel).
_TORCHVISION_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_torchvision_library = None


def import_torchvision():
    """``torchvision``, importable beside the CPU torch (see _TORCHVISION_SCHEMAS); skips the
    calling test if torchvision is not installed."""
    global _torchvision_library
    import pytest
    import torch

    if _torchvision_library is None:
        missing = {}
        for name, schema in _TORCHVISION_SCHEMAS.items():
            try:
                getattr(torch.ops.torchvision, name)
            except (AttributeError, RuntimeError):
                missing[name] = schema
        if missing:
            _torchvision_library = torch.library.Library("torchvision", "FRAGMENT")
            for schema in missing.values():
                _torchvision_library.define(schema)
        else:
            _torchvision_library = False  # its own library loaded: nothing to define
    return pytest.importorskip("torchvision")
