"""``function(activation)``: any catalog entry as a Keras function with relukit's gradient.

The function runs the catalog's math (floor 1) on the ``keras.ops`` namespace of ``_ops`` inside
``keras.ops.custom_gradient``, whose gradient is the catalog's derivative (and, for a weight
such as PReLU's slopes, its ``weight_derivative`` summed to the weight's shape). So the kink
rule, NaN propagation and the special values hold on the jax, tensorflow and torch backends
alike (Keras' own ``leaky_relu'(0)`` is 1 on jax and the slope on torch/tf; its PReLU gives
``f'(0) = 0``). Functions take and return backend tensors (anything
``keras.ops.convert_to_tensor`` accepts goes in), accept symbolic ``keras.KerasTensor`` inputs
(they become a registered ``keras.Operation``), and are registered serializable, so
``Dense(64, activation=relukit.keras.gelu)`` saves and loads without ``custom_objects``.

Where it runs: on the torch backend a floating input goes to ``relukit.torch`` (same contract:
its native CPU kernels where built, its autograd; half types computed in float32 and rounded
once), which traces under ``jit_compile=True`` without graph breaks; on jax and tensorflow the
``keras.ops`` composition above runs (on jax as one ``jax.jit`` per configuration, reused, so
that eager jax runs it fused, with ``_jax_fast``'s float64 cores where it has them; on
tensorflow TensorFlow's fused kernels where ``_tf_fast`` has them). Integer and bool inputs
take the ``keras.ops`` path everywhere.

dtypes: float16 and bfloat16 are computed in float32 and rounded once (also under a
``mixed_float16`` / ``mixed_bfloat16`` policy, where a layer hands us half tensors); float32 in
float32 for the piecewise-linear entries and in float64, rounded once, for the smooth ones (on
jax also without ``JAX_ENABLE_X64``: inside a ``jax.enable_x64`` scope around relukit's own
computation only, see ``_jax_custom``); float64 in float64. Integer and bool inputs: entries
that keep integers (ReLU) keep their dtype, as ``keras.ops.relu`` does; the others compute in
``keras.config.floatx()``, as ``keras.ops.exp`` promotes integers.

Bad input (the contract's rule: an exception that names the argument and what is accepted):

- ``x`` must be a dense tensor or array-like of real numbers: float16, bfloat16, float32,
  float64, integers or bool. Complex (Keras would drop the imaginary part), float8, extended
  precision, string, object and ``None`` inputs raise ``TypeError`` naming ``x`` and the dtype
  or type; so do sparse and ragged tensors. A ``numpy.ma.MaskedArray`` is refused too
  (``TypeError``): backend tensors carry no mask, so the result would silently lose it; pass
  ``np.ma.getdata(x)`` and reapply the mask, or use relukit's NumPy function, which keeps it.
- A real parameter must be finite in the compute dtype (float32 for half types and for
  integers under a float32 ``floatx``), where it is rounded: ``negative_slope=1e39`` on float32
  input raises ``ValueError: negative_slope=1e+39 overflows float32, ...`` (NumPy's and torch's
  rule). A parameter that rounds to 0 there (``leaky_relu(x, 1e-300)`` on float32) is a zero
  slope, which gives 0 at −inf (its limit, not 0·(−inf) = NaN), as PReLU's zero slopes do.
- A weight (PReLU's slopes) must hold real numbers (float or int; bool and complex raise
  ``TypeError``) that are finite in the compute dtype (``ValueError`` naming it). Python and
  NumPy weights are always checked; a backend tensor or variable is checked where its value is
  known without a device sync or a trace: eagerly on the CPU (as relukit.torch checks its
  slopes; Keras' torch trainer runs eagerly, so there a slope that turns NaN in training is
  refused at the next step). Under ``jit`` (jax, tensorflow's ``tf.function``,
  ``torch.compile``), on an accelerator, and for a symbolic (``keras.KerasTensor``) weight the
  slopes are not inspected: a NaN slope then gives NaN and an infinite one ±inf for x < 0, as
  the formula does.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import sys
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from .._catalog import Activation, Namespace, _docs, get
from . import _facts, _ops

__all__ = ["compute_dtype", "function", "result_dtype"]

NS: Namespace = _ops  # the module is the namespace (a structural ``Namespace``)

_HALF = ("float16", "bfloat16")
_FLOATS = ("float16", "bfloat16", "float32", "float64")
_ACCEPTED = "float16, bfloat16, float32, float64, integers or bool"
# Tensor types whose elements are not a dense array (tensorflow, jax.experimental.sparse).
_NOT_DENSE = frozenset({"SparseTensor", "RaggedTensor", "IndexedSlices", "BCOO", "BCSR"})


_STANDARD: dict[Any, str] = {}


def _standard(dtype: Any) -> str:
    """``keras.backend.standardize_dtype``, memoised per dtype object (it ran 7 times a call,
    ~1 µs each). ``None`` (floatx, which can change) and Python types are not memoised."""
    try:
        return _STANDARD[dtype]
    except (KeyError, TypeError):
        pass
    name = keras.backend.standardize_dtype(dtype)
    if dtype is not None and not isinstance(dtype, type):
        with contextlib.suppress(TypeError):  # an unhashable dtype-like: not memoised
            _STANDARD[dtype] = name
    return name


def is_float(dtype: Any) -> bool:
    """A floating dtype relukit computes: float16/32/64 or bfloat16 (float8 is not one)."""
    return _standard(dtype) in _FLOATS


def _is_real(dtype: str) -> bool:
    return dtype in _FLOATS or dtype == "bool" or dtype.startswith(("int", "uint"))


def _dtype_name(dtype: Any) -> str:
    try:
        return _standard(dtype)
    except (TypeError, ValueError):  # a dtype Keras has no name for (torch.complex32...)
        return str(dtype)


def _refuse_dtype(where: str, dtype: str) -> TypeError:
    return TypeError(
        f"{where} must hold real numbers ({_ACCEPTED}); got dtype {dtype}. Complex, float8, "
        "extended-precision, string and object values are not accepted: convert first (e.g. "
        "keras.ops.real(x), or keras.ops.cast(x, 'float32'))"
    )


def _not_dense(x: Any) -> str | None:
    """What ``x`` is if it is a tensor without a dense layout (sparse, ragged, nested)."""
    if type(x).__name__ in _NOT_DENSE:
        return type(x).__name__
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        if x.is_nested:
            return "a nested tensor"
        if x.layout != torch.strided:
            return f"a tensor of layout {x.layout}"
    return None


def check_input(activation: Activation, x: Any, where: str) -> None:
    """Refuse what relukit cannot compute, naming the argument (``where``) and what is
    accepted; takes no copy and converts nothing (layers call it before Keras does)."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{where} is a numpy.ma.MaskedArray: relukit.keras computes on backend tensors, "
            "which carry no mask, so the result would silently lose it. Pass np.ma.getdata(x) "
            "and reapply the mask (np.ma.MaskedArray(result, mask=np.ma.getmaskarray(x))), or "
            f"use relukit.{activation.name} (NumPy), which keeps it"
        )
    kind = _not_dense(x)
    if kind is not None:
        raise TypeError(
            f"{where} must be a dense tensor or array-like of real numbers ({_ACCEPTED}); got "
            f"{kind}. Apply the activation to its values"
        )
    if isinstance(x, keras.KerasTensor) or ops.is_tensor(x) or hasattr(x, "assign"):
        dtype = _dtype_name(x.dtype)
    elif x is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"{where} must be a tensor or array-like of real numbers ({_ACCEPTED}); "
            f"got {type(x).__name__}"
        )
    else:  # array-likes, scalars, another framework's tensors
        try:
            a = np.asarray(x)
        except Exception as err:  # any failure to read it is the same refusal
            raise TypeError(
                f"{where} must be a tensor or array-like of real numbers ({_ACCEPTED}); could "
                f"not read {type(x).__name__} as an array: {err}"
            ) from None
        if a.dtype.kind == "f" and a.dtype.itemsize > 8:
            raise TypeError(
                f"{where} has dtype {a.dtype} (extended precision), which relukit.keras does not "
                f"compute in (it takes {_ACCEPTED}): float64 would silently lose its range; cast "
                "to float64 first"
            )
        if a.dtype.kind not in "fiub" and str(a.dtype) not in _FLOATS:  # ml_dtypes' bfloat16
            raise _refuse_dtype(where, str(a.dtype))
        return
    if not _is_real(dtype):
        raise _refuse_dtype(where, dtype)


def as_input(activation: Activation, x: Any, where: str, *, checked: bool = False) -> Any:
    """``x`` checked (``check_input``, unless ``checked``), as a backend tensor (or the
    ``KerasTensor`` itself)."""
    if not checked:
        check_input(activation, x, where)
    if isinstance(x, keras.KerasTensor):
        return x
    if hasattr(x, "assign"):  # a variable: read it (tf.custom_gradient refuses captured ones)
        return ops.copy(x)
    try:
        return ops.convert_to_tensor(x)
    except (TypeError, ValueError) as err:  # e.g. uint64 on the torch backend
        raise TypeError(
            f"{where} could not be converted to a {keras.backend.backend()} tensor: {err}"
        ) from None


def param_dtype(dtype: Any) -> str:
    """The dtype parameters and weights are rounded to (and must be finite in) for an input of
    ``dtype``: its compute dtype; ``floatx``'s for integer and bool inputs."""
    dtype = _standard(dtype)
    return compute_dtype(dtype if is_float(dtype) else keras.config.floatx())


def check_param_range(
    activation: Activation, params: dict[str, Any], dtype: str, whose: str = "this input's"
) -> None:
    """The contract's range rule: a real parameter must be finite in ``dtype`` (where it is
    rounded); otherwise a ``ValueError`` names it and the dtype (NumPy's wording)."""
    limit = float(np.finfo(dtype).max)
    for p in activation.params:
        value = params.get(p.name)
        if p.kind == "real" and isinstance(value, float) and abs(value) > limit:
            raise ValueError(
                f"{p.name}={value!r} overflows {dtype}, the dtype {whose} parameters must be "
                f"finite in; use a value of magnitude at most {limit:.4g}"
            )


def known_values(t: Any) -> np.ndarray | None:
    """A backend tensor's values as NumPy where they can be read without tracing or a device
    sync (eager, on the CPU, where relukit.torch checks a weight's values too); else ``None``.

    Read on the host, never with backend ops: under ``jax.jit`` even an op on a concrete array
    is staged, and its result cannot be tested.
    """
    if isinstance(t, np.ndarray):
        return t
    backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            if (
                t.device.type != "cpu"
                or torch.compiler.is_compiling()
                or torch.jit.is_tracing()
                or isinstance(t, torch._subclasses.FakeTensor)
            ):
                return None
            t = t.detach()
            return (t if t.dtype == torch.float64 else t.to(torch.float32)).numpy()
        if backend == "jax":
            import jax

            if isinstance(t, jax.core.Tracer) or any(d.platform != "cpu" for d in t.devices()):
                return None
            return np.asarray(t)
        if backend == "tensorflow":
            import tensorflow as tf

            if not tf.executing_eagerly() or "CPU" not in t.device:
                return None
            return np.asarray(t.numpy())
    except (AttributeError, TypeError, RuntimeError, ValueError):
        return None
    return None


def _all_finite(values: np.ndarray, dtype: str) -> bool:
    """Whether ``values`` are finite once rounded to ``dtype`` (1e39 is not, in float32)."""
    with np.errstate(all="ignore"):
        return bool(np.isfinite(values.astype(dtype)).all())


def check_weight(weight: Any, dtype: str, label: str, xdtype: str) -> None:
    """A weight must hold real slopes (float or int) that are finite in ``dtype``; values are
    checked where they are known (Python/NumPy always; tensors per ``_known``)."""
    where = f"(the dtype relukit.keras computes in for {xdtype} input)"
    if isinstance(weight, keras.KerasTensor) or ops.is_tensor(weight) or hasattr(weight, "assign"):
        wdtype = _dtype_name(weight.dtype)
        if wdtype == "bool" or not _is_real(wdtype):
            raise TypeError(f"{label} must hold real slopes (float or int), got dtype {wdtype}")
        if isinstance(weight, keras.KerasTensor):
            return
        t = weight.value if hasattr(weight, "assign") and hasattr(weight, "value") else weight
        values = known_values(t)
        if values is not None and not _all_finite(values, dtype):
            raise ValueError(
                f"{label} must hold finite slopes in {dtype} {where}; got a NaN or an infinity"
            )
        return
    try:
        a = np.asarray(weight)
    except Exception as err:  # any failure to read it is the same refusal
        raise TypeError(f"{label} must hold real slopes (float or int): {err}") from None
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{label} must hold real slopes (float or int), got dtype {a.dtype}")
    if not _all_finite(a, dtype):
        raise ValueError(
            f"{label} must hold finite slopes in {dtype} {where}; got a NaN or an infinity"
        )


def compute_dtype(dtype: Any) -> str:
    """The dtype relukit.keras computes in for a floating input of ``dtype``.

    float16 and bfloat16 compute in float32 (rounded once at the end); float32 and float64 in
    themselves.
    """
    dtype = _standard(dtype)
    return "float32" if dtype in _HALF else dtype


def result_dtype(activation: Activation, dtype: Any) -> str:
    """Floating dtypes are preserved; integer/bool give ``floatx`` (``relu``: kept as is)."""
    dtype = _standard(dtype)
    if is_float(dtype) or activation.keeps_integers:
        return dtype
    return keras.config.floatx()


def _cast(x: Any, dtype: str) -> Any:
    return x if _standard(x.dtype) == dtype else ops.cast(x, dtype)


def _round_params(params: dict[str, Any], dtype: str) -> dict[str, Any]:
    """Real parameters rounded to the compute dtype (as PyTorch and JAX round them), kept as
    Python floats so the catalog's ``if negative_slope == 0`` stays a Python test (a slope
    that rounds to 0, 1e-300 in float32, is then a zero slope). Callers have checked the range
    (``check_param_range``)."""
    t = np.dtype(dtype).type
    return {k: float(t(v)) if isinstance(v, float) else v for k, v in params.items()}


def _input_grad(activation: Activation, g: Any, x: Any, params: dict[str, Any]) -> Any:
    """``g·f'(x)`` in the compute dtype; for the piecewise-linear entries one select."""
    if activation.nonpositive_slope is not None:
        # grad·f' is g for x > 0, slope·g for x ≤ 0 (the kink rule), NaN for NaN x. A zero
        # slope passes 0 back, never 0·inf = NaN for an infinite upstream gradient.
        slope = activation.nonpositive_slope(**params)
        return NS.select_positive(x, g, NS.scale(slope, g))
    return g * activation.derivative(NS, x, **params)


def _sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` (x's shape) down to a ``shape`` that broadcasts against it (a weight's)."""
    lead = len(g.shape) - len(shape)
    if lead > 0:
        g = ops.sum(g, axis=tuple(range(lead)))
    ones = tuple(i for i, d in enumerate(shape) if d == 1)
    if ones:
        g = ops.sum(g, axis=ones, keepdims=True)
    return ops.reshape(g, shape)


def apply(activation: Activation, x: Any, params: dict[str, Any], weights: dict[str, Any]) -> Any:
    """f(x) on backend tensors with relukit's gradient, for x and for each weight.

    ``params`` are checked values; ``weights`` are tensors that broadcast against x.
    """
    dtype = _standard(x.dtype)
    if not is_float(dtype):
        if activation.keeps_integers and not weights:
            # ReLU: exact in the integer dtype, nothing to differentiate (bool through uint8:
            # tensorflow has no comparison of bools).
            xi = ops.cast(x, "uint8") if dtype == "bool" else x
            return _cast(activation.forward(NS, xi, **params), dtype)
        x = ops.cast(x, keras.config.floatx())
        dtype = _standard(x.dtype)
    cdtype = compute_dtype(dtype)
    check_param_range(activation, params, cdtype)
    p = _round_params(params, cdtype)
    names = list(weights)
    ws = [w if is_float(w.dtype) else ops.cast(w, dtype) for w in weights.values()]
    wdtypes = [_standard(w.dtype) for w in ws]
    wshapes = [tuple(w.shape) for w in ws]
    if _JAX:
        # One jitted function per configuration, reused call after call: eager jax (a model
        # compiled with jit_compile=False) then runs it as one fused XLA computation instead of
        # dispatching each keras.ops call; under an outer jit it is inlined.
        # repr: -0.0 and 0.0 (equal, same hash) are different slopes for the sign of zero.
        key = (activation.name, repr(p), dtype, tuple(wdtypes), tuple(wshapes))
        fn = _JITTED.get(key)
        if fn is None:
            import jax

            fn = _JITTED[key] = jax.jit(_jax_custom(activation, p, names, dtype, wdtypes, wshapes))
        return fn(x, *ws)
    if _TF:
        key = (activation.name, repr(p), dtype, tuple(wdtypes), tuple(wshapes))
        fn = _TF_FAST.get(key)
        if fn is None:
            # no `:=` here: AutoGraph (a user's tf.function) cannot convert it, and says so
            core = _tf_fast.get(activation.name, p, cdtype)
            if core is not None:
                fn = _TF_FAST[key] = _tf_custom(core, dtype, cdtype, wdtypes, wshapes)
        if fn is not None:
            return fn(x, *ws)
    return _custom(activation, p, names, dtype, wdtypes, wshapes)(x, *ws)


_JAX = keras.backend.backend() == "jax"
_JITTED: dict[tuple, Callable[..., Any]] = {}
if _JAX:
    from . import _jax_fast


def _float64_available() -> bool:
    """Whether the ``keras.ops`` composition (``_custom``) computes float64: on tensorflow.
    (jax runs ``_jax_custom``, which has float64 with or without ``JAX_ENABLE_X64``; torch runs
    relukit.torch.)"""
    return keras.backend.backend() == "tensorflow"


def _x64_scope() -> Callable[[], Any]:
    """A context manager factory that turns on jax's 64-bit mode for the code inside it only:
    ``jax.enable_x64(True)`` (``jax.experimental.enable_x64`` in older jax). It is
    thread-local and restores the caller's setting on exit; under ``jax.jit`` it applies to
    what is traced inside it, so float64 exists there and nowhere else."""
    import jax

    state = getattr(jax, "enable_x64", None)
    if state is not None and callable(state):
        return lambda: state(True)
    import jax.experimental

    return jax.experimental.__dict__["enable_x64"]  # older jax (gone from newer stubs)


def _jax_custom(
    activation: Activation,
    p: dict[str, Any],
    names: list[str],
    dtype: str,
    wdtypes: list[str],
    wshapes: list[tuple[int, ...]],
) -> Callable[..., Any]:
    """``_custom`` on jax, as a ``jax.custom_vjp`` whose float32 smooth entries compute in
    float64 with or without ``JAX_ENABLE_X64`` (Keras' default jax setup has it off).

    XLA's float32 erfc/expm1/exp/tanh are 2-57 ulp off (benchmarks/results/keras_ulp.md, the
    "jax (no x64)" row before this path), so the forward and the backward each run inside
    ``jax.enable_x64(True)`` (``_x64_scope``), cast x to float64 there and round the result
    to x's dtype before leaving it: what goes in and out (values, gradients and the residuals
    saved between them, which are the inputs themselves) is in the caller's dtypes, and the
    caller's x64 setting is untouched. ``keras.ops`` honours the scope at trace time
    (``keras.ops.cast(x, "float64")`` is float64 inside it, float32 outside), so the catalog's
    math runs on the same ``_ops`` namespace as elsewhere. Piecewise-linear entries and float64
    input need no scope (it is a no-op where x64 is already on). Entries with a ``_jax_fast``
    core run it instead of the catalog's composition (``_jax_fast_vjp``): for float32 and half
    x ELU and both GELUs (XLA's float64 erfc and expm1 are slow on the CPU), for float64 x exact
    GELU (XLA's float64 erfc is also 8-240 ulp off, which put exact GELU 125 ulp off).
    """
    import jax

    cdtype = compute_dtype(dtype)
    scope: Callable[[], Any] = contextlib.nullcontext
    if cdtype == "float32" and not activation.piecewise_linear:
        cdtype, scope = "float64", _x64_scope()
        core = None if names else _jax_fast.get(activation.name, p, "float32")
        if core is not None:
            return _jax_fast_vjp(core, dtype, scope, "float32")
    elif cdtype == "float64" and not names:
        core = _jax_fast.get(activation.name, p, "float64")
        if core is not None:
            return _jax_fast_vjp(core, dtype, scope, "float64")

    def weights(ws: tuple[Any, ...]) -> dict[str, Any]:
        # Weights are rounded to the compute dtype, as PyTorch rounds them to the input's.
        return {**p, **{n: _cast(w, cdtype) for n, w in zip(names, ws, strict=True)}}

    def forward(x, *ws):
        with scope():
            y = activation.forward(NS, _cast(x, cdtype), **weights(ws))
            return _cast(y, dtype)

    def fwd(x, *ws):
        return forward(x, *ws), (x, *ws)  # residuals: the inputs, in their own dtypes

    def bwd(res, upstream):
        x, *ws = res
        with scope():
            xc, full, g = _cast(x, cdtype), weights(tuple(ws)), _cast(upstream, cdtype)
            gx = _cast(_input_grad(activation, g, xc, full), dtype)
            if not names:
                return (gx,)
            # ∂L/∂a = Σ g·∂f/∂a over the axes the weight is broadcast along.
            gw = _sum_to(g * activation.weight_derivative(NS, xc), wshapes[0])
            return gx, _cast(gw, wdtypes[0])

    f = jax.custom_vjp(forward)
    f.defvjp(fwd, bwd)
    return f


def _jax_fast_vjp(
    core: Callable[..., Any], dtype: str, scope: Callable[[], Any], cdtype: str
) -> Any:
    """``_jax_custom`` for an entry with a ``_jax_fast`` core, which computes in float64 (in
    ``scope`` for float32 or half x): the forward rounds the value once to x's dtype and saves
    the derivative rounded once to the compute dtype ``cdtype`` (float32 for float32 and half
    x: what goes between forward and backward stays out of float64); the backward multiplies
    the upstream gradient by it."""
    import jax

    def forward(x):
        with scope():
            y, _ = core(_cast(x, "float64"), derivative=False)
            return _cast(y, dtype)

    def fwd(x):
        with scope():
            y, d = core(_cast(x, "float64"))
            return _cast(y, dtype), _cast(d, cdtype)

    def bwd(d, upstream):
        return (_cast(_cast(upstream, cdtype) * d, dtype),)

    f = jax.custom_vjp(forward)
    f.defvjp(fwd, bwd)
    return f


# On tensorflow, entries with a fast path (``_tf_fast``) run TensorFlow's fused kernels: one
# wrapped function per configuration, reused.
_TF = keras.backend.backend() == "tensorflow"
_TF_FAST: dict[tuple, Callable[..., Any]] = {}
if _TF:
    from . import _tf_fast


def _tf_custom(
    core: Callable[..., Any],
    dtype: str,
    cdtype: str,
    wdtypes: list[str],
    wshapes: list[tuple[int, ...]],
) -> Callable[..., Any]:
    """``core`` (``_tf_fast``) as a ``tf.custom_gradient`` function of x in ``dtype`` (and of
    a weight of ``wdtypes[0]``/``wshapes[0]``), computed in ``cdtype`` (half types in float32,
    rounded once)."""
    import tensorflow as tf

    @tf.custom_gradient
    def f(x, *ws):
        y, backward = core(_cast(x, cdtype), *(_cast(w, cdtype) for w in ws))

        def grad(upstream):
            out = backward(_cast(upstream, cdtype))
            if not ws:
                return _cast(out, dtype)
            gx, gw = out
            return _cast(gx, dtype), _cast(_sum_to(gw, wshapes[0]), wdtypes[0])

        return _cast(y, dtype), grad

    return f


def _custom(
    activation: Activation,
    p: dict[str, Any],
    names: list[str],
    dtype: str,
    wdtypes: list[str],
    wshapes: list[tuple[int, ...]],
) -> Callable[..., Any]:
    """f(x, *weights) with relukit's gradient (``keras.ops.custom_gradient``), for x of the
    floating ``dtype`` and weights of ``wdtypes``/``wshapes``; parameters ``p`` rounded."""
    cdtype = compute_dtype(dtype)
    if cdtype == "float32" and not activation.piecewise_linear and _float64_available():
        # The backends' float32 erfc/expm1/exp are 2-57 ulp off (benchmarks/results/
        # keras_ulp.md): the smooth entries' float32 math runs in float64 and is rounded once
        # (parameters keep their float32 rounding). jax runs _jax_custom (float64 in a scope),
        # torch relukit.torch, instead of this composition.
        cdtype = "float64"
    has_weights = bool(names)

    @ops.custom_gradient
    def f(x, *ws):
        xc = _cast(x, cdtype)
        # Weights are rounded to the compute dtype, as PyTorch rounds them to the input's.
        full = {**p, **{n: _cast(w, cdtype) for n, w in zip(names, ws, strict=True)}}
        y = activation.forward(NS, xc, **full)

        def grad(*args, upstream=None):
            # torch calls grad(*saved_inputs, upstream=g); jax and tensorflow call grad(g).
            if upstream is None:
                (upstream,) = args
            g = _cast(upstream, cdtype)
            gx = _cast(_input_grad(activation, g, xc, full), dtype)
            if not has_weights:
                return gx
            # ∂L/∂a = Σ g·∂f/∂a over the axes the weight is broadcast along.
            gw = _sum_to(g * activation.weight_derivative(NS, xc), wshapes[0])
            return gx, _cast(gw, wdtypes[0])

        return _cast(y, dtype), grad

    return f


# On the torch backend a Keras tensor is a torch.Tensor: floating inputs run relukit.torch (same
# contract; native kernels where built, relukit's autograd), not the keras.ops composition.
_TORCH = keras.backend.backend() == "torch"


_TORCH_MODULES: tuple = ()


def _torch_modules() -> tuple:
    """torch and relukit.torch's modules, imported on first use (not per call)."""
    global _TORCH_MODULES
    import torch

    from ..torch import _fast, _generic
    from ..torch import functional as F

    _TORCH_MODULES = (torch, F, _fast, _generic)
    return _TORCH_MODULES


def _torch_apply(
    activation: Activation,
    x: Any,
    xdtype: str,
    params: dict[str, Any],
    weights: dict[str, Any],
    axis: int,
    labels: dict[str, str],
) -> Any:
    """``apply`` on the torch backend for a floating x: relukit.torch's function (or, for an entry
    with a weight, its fast or generic path with the weight shaped Keras' way), in the compute
    dtype: float16/bfloat16 are cast to float32 and the result rounded once, as ``apply`` does.

    Parameters are rounded to the compute dtype first (``_round_params``), so the values and the
    zero-slope rule are the same as on the other backends. Checked already (``run``).
    """
    torch, F, _fast, _generic = _TORCH_MODULES or _torch_modules()
    cdtype = compute_dtype(xdtype)
    p = _round_params(params, cdtype) if params else params
    xc = x.to(torch.float32) if cdtype != xdtype else x
    if not weights:
        y = getattr(F, activation.name)(xc, **p)
    else:
        tdtype = xc.dtype
        shaped = {}
        for n, v in weights.items():
            # A keras.Variable's torch Parameter itself (no copy): gradients reach it directly.
            t = v.value if hasattr(v, "assign") and hasattr(v, "value") else _weight_tensor(v, x)
            t = shape_weight(t, x, axis, labels.get(n, n))
            shaped[n] = t if t.dtype == tdtype else t.to(tdtype)
        fast = _fast.FAST.get(activation.name)
        if fast is not None:
            y = fast.run(xc, p, shaped, False, {})
        else:
            y = _generic.apply(activation, xc, p, shaped)
    return y.to(x.dtype) if cdtype != xdtype else y


def shape_weight(weight: Any, x: Any, axis: int, name: str) -> Any:
    """A scalar or 1-D weight reshaped to broadcast along ``axis`` of x (differentiably);
    a weight of higher rank is taken as already broadcastable (Keras' stored layout)."""
    size = math.prod(weight.shape)
    if len(weight.shape) <= 1 and size == 1:  # one slope: x's shape, 0-d x included
        return ops.reshape(weight, ())
    if len(weight.shape) > 1 or len(weight.shape) >= len(x.shape):
        return weight
    if not -len(x.shape) <= axis < len(x.shape):
        raise ValueError(
            f"axis {axis} is out of range for x with {len(x.shape)} dimensions; a {name} of "
            f"{size} values needs a channel axis"
        )
    channels = x.shape[axis]
    if size != channels:
        raise ValueError(
            f"{name} has {size} slopes but x has {channels} channels along axis {axis}; "
            f"{name} must have size 1 or {channels}"
        )
    shape = [1] * len(x.shape)
    shape[axis] = channels
    return ops.reshape(weight, shape)


def _weight_tensor(weight: Any, x: Any) -> Any:
    """A weight as a tensor: a Python number or list rounded once, to x's compute dtype (floatx
    for integer x); a variable read into a tensor (tf.custom_gradient refuses captured ones)."""
    if hasattr(weight, "assign"):  # a keras.Variable or a backend variable
        return ops.copy(weight)
    if not hasattr(weight, "dtype"):
        xdtype = _standard(x.dtype)
        return ops.convert_to_tensor(weight, compute_dtype(xdtype) if is_float(xdtype) else None)
    return ops.convert_to_tensor(weight)


@keras.saving.register_keras_serializable(package="relukit", name="ActivationOp")
class _SymbolicActivation(keras.Operation):
    """The Keras ``Operation`` a function becomes on symbolic inputs (functional models).

    Registered, so a functional model that calls ``relukit.keras.gelu(t)`` on a symbolic tensor
    saves and loads; a weight (PReLU's) is then an input of the graph, not a trained variable
    (use the layer to learn it).
    """

    def __init__(self, activation: str, params: dict[str, Any], axis: int = -1, name=None):
        if name is None:  # named after the activation (gelu, gelu_1...), as Keras names layers
            uid = keras.backend.get_uid(activation)
            name = activation if uid == 1 else f"{activation}_{uid - 1}"
        super().__init__(name=name)
        self.activation = activation
        self.params = params
        self.axis = axis

    def _activation(self) -> Activation:
        return get(self.activation)

    def call(self, x, *weights):
        fn = function(self._activation())
        if weights:
            return fn(x, *weights, axis=self.axis, **self.params)
        return fn(x, **self.params)

    def compute_output_spec(self, x, *weights):
        return keras.KerasTensor(x.shape, dtype=result_dtype(self._activation(), x.dtype))

    def get_config(self):
        return {
            "activation": self.activation,
            "params": self.params,
            "axis": self.axis,
            "name": self.name,
        }


_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def function(activation: Activation | str) -> Callable[..., Any]:
    """The Keras function of a catalog entry (``relukit.keras.<name>`` is ``function(name)``).

    Signature ``(x, <catalog parameters with defaults>)``; an entry with a weight (PReLU) takes
    it after x and the keyword-only ``axis=-1`` (channels-last) for a 1-D weight. Parameters
    are checked by the catalog (``TypeError``/``ValueError`` naming them). Registered
    serializable as ``relukit>{name}``; the docstring is rendered from the catalog.
    """
    activation = get(activation)
    if activation.name not in _FUNCTIONS:
        _FUNCTIONS[activation.name] = _make(activation)
    return _FUNCTIONS[activation.name]


def _make(activation: Activation) -> Callable[..., Any]:
    name = activation.name
    weights = [p.name for p in activation.params if p.kind == "weight"]
    if len(weights) > 1:  # the catalog's weight_derivative is one array
        raise NotImplementedError(f"{name}: more than one weight parameter")

    def fn(x, *args, **kwargs):
        axis = kwargs.pop("axis", -1) if weights else -1
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int, got {axis!r}")
        # Keras' spellings of a value too (GELU's approximate=True/False), as the layers take.
        names = [p.name for p in activation.params]
        args = tuple(_facts.from_keras(n, v) for n, v in zip(names, args, strict=False))
        kwargs = {k: _facts.from_keras(k, v) for k, v in kwargs.items()}
        bound = activation.bind(args, kwargs)
        values = {k: v for k, v in bound.items() if k not in weights}
        given = {w: bound[w] for w in weights}
        return run(activation, x, values, given, axis=int(axis))

    fn.__signature__ = _signature(activation, bool(weights))  # type: ignore[attr-defined]
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "relukit.keras"
    fn.__doc__ = _render_doc(activation, bool(weights))
    return keras.saving.register_keras_serializable(package="relukit", name=name)(fn)


def run(
    activation: Activation,
    x: Any,
    values: dict[str, Any],
    weights: dict[str, Any],
    *,
    axis: int = -1,
    where: str | None = None,
    labels: dict[str, str] | None = None,
    checked: bool = False,
) -> Any:
    """The function's body, shared with the layers: checks, then ``apply`` (or a symbolic
    operation). ``values`` are checked catalog parameters; ``where`` names x in errors
    (``"relu(): x"``), ``labels`` the weights (the layer calls PReLU's ``alpha``); ``checked``:
    the caller has run ``check_input`` on x already (a layer's ``__call__``)."""
    where = where or f"{activation.name}(): x"
    labels = labels or {}
    x = as_input(activation, x, where, checked=checked)
    xdtype = _standard(x.dtype)
    pdtype = param_dtype(xdtype)
    if not (activation.keeps_integers and not is_float(xdtype) and not weights):
        check_param_range(activation, values, pdtype)
    for w, v in weights.items():
        check_weight(v, pdtype, labels.get(w, w), xdtype)
    given = list(weights.values())
    if isinstance(x, keras.KerasTensor) or any(isinstance(w, keras.KerasTensor) for w in given):
        return _SymbolicActivation(activation.name, values, axis=axis)(x, *given)
    if _TORCH and xdtype in _FLOATS:
        return _torch_apply(activation, x, xdtype, values, weights, axis, labels)
    shaped = {
        w: shape_weight(_weight_tensor(v, x), x, axis, labels.get(w, w)) for w, v in weights.items()
    }
    return apply(activation, x, values, shaped)


def _signature(activation: Activation, has_weight: bool) -> inspect.Signature:
    P = inspect.Parameter
    params = [P("x", P.POSITIONAL_OR_KEYWORD)]
    params += [
        P(p.name, P.POSITIONAL_OR_KEYWORD, default=P.empty if p.kind == "weight" else p.default)
        for p in activation.params
    ]
    if has_weight:
        params.append(P("axis", P.KEYWORD_ONLY, default=-1))
    return inspect.Signature(params)


_WEIGHT_DOC = (
    "A scalar, a 1-D tensor of one value per channel along ``axis``, or a tensor that "
    "broadcasts against x as it is (the layout the layer and ``keras.layers.PReLU`` store, "
    "e.g. ``(1, 1, C)`` for ``(N, H, W, C)`` inputs)."
)


def _render_doc(activation: Activation, has_weight: bool) -> str:
    name = activation.name
    integers = (
        "integer and bool inputs keep their dtype"
        if activation.keeps_integers
        else "integers and bools compute in ``keras.config.floatx()``"
    )
    args = [("x", f"a tensor (or array-like) of real numbers; {integers}.")]
    args += [(p.name, _docs.param_doc(p, weight=_WEIGHT_DOC)) for p in activation.params]
    if has_weight:
        args.append(
            (
                "axis",
                "the channel axis of x for a 1-D weight. Default: ``-1`` (channels-last, "
                "Keras' layout; the NumPy and PyTorch backends default to 1).",
            )
        )
    gradient = "relukit's on every Keras backend: the catalog's derivative, kink rule included"
    if has_weight:
        gradient += ", and the weight's gradient summed to its shape"
    return _docs.render(
        activation,
        args=args,
        returns=(
            f"f(x) as a backend tensor in x's floating dtype ({integers}); float16 and bfloat16 "
            f"are computed in float32 and rounded once. Gradient: {gradient}. On a symbolic "
            "``keras.KerasTensor`` the call is a serializable Keras operation."
        ),
        sections=[
            (
                "Raises",
                "TypeError: x is not a dense tensor or array-like of real numbers (complex, "
                "float8, string, object, ``None``, a masked array: named, with what is "
                "accepted), or a parameter of the wrong type. ValueError: a parameter out of "
                "range, or one that overflows the compute dtype (float32 for float32 and half "
                "inputs)"
                + (
                    ", or non-finite slopes where their values are known (eager, on the CPU)"
                    if has_weight
                    else ""
                )
                + ".",
            ),
            ("Shape", "Any; the result has x's shape."),
        ],
        example=_docs.example_lines(
            activation,
            setup=[
                "import numpy as np, keras, relukit.keras",
                f"x = keras.ops.convert_to_tensor({_docs.example_input(activation)})",
            ],
            call=lambda args: f"relukit.keras.{name}({args})",
            value=lambda expr: f"np.asarray({expr}).tolist()",
            derivative=None,
        ),
    )
