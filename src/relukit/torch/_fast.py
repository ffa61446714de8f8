"""Fast paths, registered per activation by name: ATen's kernels and the native C++ kernels.

The generic path (``_generic``) runs any catalog entry from its math; an entry listed here runs
this code instead wherever it applies: the native kernels in eager CPU mode (fused, autograd in
C++, exact GELU), else ATen's kernels directly when no gradient can be asked for, else the
``autograd.Function`` of ``_autograd`` that keeps relukit's saved-tensor policy, kink rule and
NaN rule around ATen's kernels. ``tests/test_torch.py`` checks every fast path against the
generic path. A fast path takes ``(input, params, weights, inplace, options)`` with the
parameters already checked by the catalog and the weights shaped to broadcast against the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .._catalog import get
from . import _autograd as _ag
from . import _generic, _native


@dataclass(frozen=True)
class Option:
    """A keyword-only option a fast path adds to its function and module (GELU's
    ``backward_bits``)."""

    name: str
    default: Any
    doc: str
    check: Callable[[Any], Any]
    annotation: str = "Any"  # for the typed stubs (scripts/make_stubs.py)


# The native op an out-of-place call runs on CPU (eager and compiled), as a function of what
# the call's result depends on: ``plan(dtype, params, options)`` gives the op's name and its
# arguments after the input, or ``None`` where no native op applies to that dtype and those
# arguments. One function serves the fast path (``register`` runs the op before the path's own
# code) and the module, which looks it up once per input dtype and then calls the op directly
# (``ActivationModule.forward``).
NativePlan = Callable[[torch.dtype, dict, dict], "tuple[str, tuple] | None"]


@dataclass(frozen=True)
class FastPath:
    """What runs for one activation, what it saves for backward (docstring text), its options,
    and the native op it runs where one applies (``NativePlan``)."""

    run: Callable[..., torch.Tensor]
    saves: str
    options: tuple[Option, ...] = ()
    native: NativePlan | None = None


FAST: dict[str, FastPath] = {}


# f(x) without a graph, as a fast path computes it: ``value(input, params)``.
Value = Callable[[torch.Tensor, dict], torch.Tensor]


def register(
    name: str,
    *,
    saves: str,
    options: tuple[Option, ...] = (),
    native: NativePlan | None = None,
    value: Value | None = None,
):
    """Register ``fn`` as catalog entry ``name``'s fast path, run where ``native`` gives no
    native op for the call (out of place, on CPU, eager or compiled). A ``few_bit`` entry also
    gets the ``backward_bits`` option, which runs the few-bit backward instead of ``fn``; an
    entry that ``offers_output_save`` gets ``save``, whose ``"output"`` computes f(x) by the
    native op or ``value`` (the catalog's math if none is given) and saves only the output.
    Neither option runs the native op's backward."""

    def deco(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        activation = get(name)
        run, opts, said, plan = fn, options, saves, native
        if activation.few_bit:
            run, opts = _with_few_bit(name, run), (*opts, _BACKWARD_BITS)
            plan = _exact_backward_only(plan) if plan is not None else None
        if activation.offers_output_save:
            opts = (*opts, _SAVE)
            said += ' With ``save="output"``: the output alone, f\' exact for it (``save``).'
            untracked = _untracked_value(native, value or _catalog_value(activation))
            run = _with_output_save(activation, run, untracked)
            plan = _saving_output(activation, plan) if plan is not None else None
        if plan is not None:
            run = _native_first(plan, run)
        FAST[name] = FastPath(run, said, opts, plan)
        return fn

    return deco


def _exact_backward_only(plan: NativePlan) -> NativePlan:
    """``plan`` where ``backward_bits`` is ``None``; no native op with the few-bit backward."""

    def exact(dtype, params, options):
        return None if options.get("backward_bits") is not None else plan(dtype, params, options)

    return exact


def _saving_output(activation, plan: NativePlan) -> NativePlan:
    """``plan``, whose op (``relukit::elu`` or ``relukit::activation``) gets its last argument,
    ``save_output``, with ``save="output"`` where the parameters allow it (else no op: the path
    refuses them)."""

    def saving(dtype, params, options):
        call = plan(dtype, params, options)
        if call is None or options.get("save") != "output":
            return call
        if activation.output_refusal(params) is not None:
            return None
        op, args = call
        return op, (*args, True)

    return saving


def _native_first(
    plan: NativePlan, run: Callable[..., torch.Tensor]
) -> Callable[..., torch.Tensor]:
    """``run`` behind the native op ``plan`` gives, out of place: the op first, tracked or not
    (as fast as ATen's kernel without autograd, and one check less per call;
    benchmarks/bench_channels_last.py measures the Python layer's share)."""

    def first(input, params, weights, inplace, options):
        if not inplace and (y := native_call(plan, input, params, options)) is not None:
            return y
        return run(input, params, weights, inplace, options)

    return first


def native_call(
    plan: NativePlan, input: torch.Tensor, params: dict, options: dict
) -> torch.Tensor | None:
    """The native op's out-of-place result where ``plan`` gives one and the native kernels may
    run on ``input`` (``_native.for_input``), else ``None``."""
    if (call := plan(input.dtype, params, options)) is None:
        return None
    if (ops := _native.for_input(input)) is None:
        return None
    op, args = call
    return getattr(ops, op)(input, *args)


def check_bits(backward_bits):
    """``None`` or one of the few-bit widths, else a ``ValueError`` naming the argument."""
    if backward_bits is None:
        return None
    from . import _fewbit  # the few-bit backward lives in its own module

    is_int = isinstance(backward_bits, int) and not isinstance(backward_bits, bool)
    if not is_int or backward_bits not in _fewbit.BITS:  # 2.0 and True are refused too
        raise ValueError(
            f"backward_bits must be None (exact backward) or one of "
            f"{', '.join(map(str, _fewbit.BITS))}; got {backward_bits!r}"
        )
    return int(backward_bits)


_BACKWARD_BITS = Option(
    "backward_bits",
    None,
    "``None`` for the exact backward (saves the input, as torch.nn), or 1–4 to save only a "
    "k-bit code of the input per element and use a piecewise-constant approximation of f' in "
    "backward (Few-Bit Backward; Gaussian-optimal tables). Default: ``None``.",
    check_bits,
    "int | None",
)


def _with_few_bit(name: str, fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``fn``, or with ``backward_bits`` the few-bit backward (``_fewbit``): same value, a k-bit
    code saved instead of the input. In place, the result is written back (the code does not
    keep the input, so nothing needs a clone)."""

    def run(input, params, weights, inplace, options):
        bits = options.get("backward_bits")
        if bits is None:
            return fn(input, params, weights, inplace, options)
        from . import _fewbit

        y = _fewbit.fewbit(input, _fewbit.target(name, params), bits)
        return input.copy_(y) if inplace else y

    return run


_SAVE_CHOICES = ("auto", "output")


def check_save(save):
    """``"auto"`` or ``"output"``, else a ``ValueError`` naming the argument."""
    if not isinstance(save, str) or save not in _SAVE_CHOICES:
        raise ValueError(
            f"save must be 'auto' (the exact backward: the input is saved where the output "
            f"does not determine f' within the contract) or 'output'; got {save!r}"
        )
    return save


_SAVE = Option(
    "save",
    "auto",
    '``"auto"`` for the exact backward (what it saves is said above), or ``"output"`` to '
    "save only the output, as torch.nn's Sigmoid and Tanh do, and compute f' from it: "
    "``Linear → act → Linear`` then stores its hidden tensor once (the next layer keeps the "
    "same tensor). f' is then exact for the output as rounded (within 1 ulp, 4 in float64, of "
    "f'(f⁻¹(y))), not for the input: where the output's rounding hides the input (the tails) "
    "it is f' at the input the output stands for; ``benchmarks/results/torch_memory.md`` "
    'measures the bytes and ``grad_error.md`` the error. Default: ``"auto"``.',
    check_save,
    "str",
)


def _catalog_value(activation) -> Value:
    def value(x, params):
        return _generic.value(activation, x, params, {})

    return value


def _untracked_value(plan: NativePlan | None, value: Value) -> Value:
    """f(x) without a graph: the native op where one runs (no graph is built inside an
    ``autograd.Function``'s forward), else ``value``."""

    def untracked(x, params):
        if plan is not None and (y := native_call(plan, x, params, {})) is not None:
            return y
        return value(x, params)

    return untracked


def _with_output_save(activation, run: Callable[..., torch.Tensor], untracked: Value):
    """``run``, or with ``save="output"`` f(x) that saves only the output (``_generic``'s
    ``FromOutput``); without a graph (nothing saved) or in ONNX export, ``run`` as is."""

    def save(input, params, weights, inplace, options):
        if options.get("save") != "output":
            return run(input, params, weights, inplace, options)
        if (why := activation.output_refusal(params)) is not None:
            raise ValueError(f"{activation.name}(): save='output' needs {why}")
        if not _tracked(input) or torch.onnx.is_in_onnx_export():
            return run(input, params, weights, inplace, {**options, "save": "auto"})
        return _generic.apply_from_output(activation, input, params, inplace, untracked)

    return save


_FLOAT32_ZERO = 2.0**-150  # a real of at most this magnitude rounds to 0 in float32


def _is_relu(slope: float, dtype: torch.dtype) -> bool:
    """Whether Leaky ReLU with ``slope`` is ReLU on ``dtype``: a slope that is 0 once rounded
    (ATen rounds it to float32 except for float64 input) gives the same values and derivative,
    and f(-inf) = 0 where ATen's 0·(-inf) gives NaN."""
    return slope == 0.0 or (abs(slope) <= _FLOAT32_ZERO and dtype != torch.float64)


def _tracked(*tensors: torch.Tensor) -> bool:
    """Whether autograd (reverse or forward mode, or a torch.func transform) may need our rule."""
    if torch.compiler.is_compiling():
        return True
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return True
    return _ag._fwd_ad_active() or _ag._functorch_active()


def _relu_native(dtype, params, options):
    return ("relu", ()) if dtype.is_floating_point else None  # integers: ATen's


@register(
    "relu",
    saves="the output (as torch.nn). Unlike ``torch.nn.functional.relu``, a NaN input gets a "
    "NaN gradient (PyTorch gives 1).",
    native=_relu_native,
)
def relu(input, params, weights, inplace, options):
    if not input.is_floating_point() or not _tracked(input):
        return torch.relu_(input) if inplace else torch.relu(input)
    fix = _ag.has_nan(input)
    if inplace:
        return _ag.apply(_ag.Inplace, input, "relu", None, fix)
    return _ag.apply(_ag.Relu, input, fix)


def _leaky_native(dtype, params, options):
    slope = params["negative_slope"]
    return ("relu", ()) if _is_relu(slope, dtype) else ("leaky_relu", (slope,))


@register(
    "leaky_relu",
    saves="the output when ``negative_slope > 0`` (torch.nn saves the input, so ``Linear → "
    "LeakyReLU → Linear`` stores the hidden tensor twice; relukit stores it once), the input "
    "when it is negative, and in place the output plus a 1-byte sign mask. In place also works "
    "with a negative slope, which PyTorch refuses.",
    native=_leaky_native,
)
def leaky_relu(input, params, weights, inplace, options):
    slope = params["negative_slope"]
    if _is_relu(slope, input.dtype):
        return relu(input, {}, weights, inplace, options)
    if not _tracked(input):
        return (
            torch.ops.aten.leaky_relu_(input, slope) if inplace else _ag._A.leaky_relu(input, slope)
        )
    fix = _ag.has_nan(input)
    if inplace:
        return _ag.apply(_ag.Inplace, input, "leaky_relu", slope, fix)
    return _ag.apply(_ag.LeakyRelu, input, slope, slope > 0, fix)


_NATIVE_DTYPES = frozenset({torch.float64, torch.float32, torch.float16, torch.bfloat16})


@register(
    "prelu",
    saves="the input and the weight (as torch.nn). ``∂f/∂a`` is summed to the weight's shape. On "
    "CPU, in eager mode and under ``torch.compile``, relukit's native kernels run (one pass "
    "for both gradients; a zero slope gives 0 at −inf). "
    "Forward mode (``torch.func.jvp``) gives ``f'(0) = a`` like the backward (PyTorch's forward "
    "mode gives 1).",
)
def prelu(input, params, weights, inplace, options):
    w = weights["weight"]
    if (
        input.dtype in _NATIVE_DTYPES
        and w.dtype == input.dtype
        and w.device.type == "cpu"
        and w.dim() <= input.dim()
        and (native := _native.for_input(input)) is not None
    ):
        return native.prelu(input, w)
    if not _tracked(input, w):
        y = _ag._A._prelu_kernel(input, w)
    else:
        y = _ag.apply(_ag.PRelu, input, w, _ag.has_nan(input))
    return _ag.zero_slope_at_minus_inf(y, input, w)


def _elu_native(dtype, params, options):
    return ("elu", (params["alpha"], 1.0, 1.0))  # every float dtype; save_output may follow


@register(
    "elu",
    saves="the input (as torch.nn): from the output, alpha·exp(x) would be output + alpha, which "
    "cancels (28% off in float32 for x in [−16, −3], 0 below, wrong-signed in half types). On "
    "CPU out of place, in eager mode and under ``torch.compile``, relukit's native kernels run: "
    "float32, float16 and bfloat16 computed in float64 with expm1 and rounded once, so compiled "
    "results equal eager ones (inductor's own ELU is exp(x) − 1, which cancels next to 0). In "
    "place, a clone of the input (as torch's in-place GELU and SiLU); PyTorch's own elu_ saves "
    "the output and refuses a negative alpha.",
    native=_elu_native,
)
def elu(input, params, weights, inplace, options):
    alpha = params["alpha"]
    if not _tracked(input):
        return _ag.elu_value(input, alpha, out=input if inplace else None)
    fix = _ag.has_nan(input)
    if inplace:  # the gradient needs the input: computed on a clone (as torch's silu_, gelu_)
        return input.copy_(_ag.apply(_ag.Elu, input.clone(), alpha, fix))
    return _ag.apply(_ag.Elu, input, alpha, fix)


def _gelu_native(dtype, params, options):
    tanh = params["approximate"] == "tanh"
    if tanh and dtype == torch.float64:  # the catalog's double-double math: the generic path
        return None
    return ("gelu", (tanh,))


@register(
    "gelu",
    saves="the input (as torch.nn), or a k-bit code per element with ``backward_bits``. On CPU "
    "in eager mode, float32, float16 and bfloat16 run relukit's native kernels, which compute "
    "the value and the derivative in float64 and round once (within 0.5 ulp of mpmath, tails "
    "included; ``benchmarks/results/ulp.md``). float64's exact form runs a native kernel too "
    "(Φ by erfc with its argument's rounding corrected; ATen's is 0 below x ≈ −8.3), and its "
    "tanh form the catalog's float64 math (the generic path: double-double arguments); both "
    "within 4 ulp of the NumPy reference, and of the terms' size next to gelu''s zero, tested. "
    "CUDA, ``torch.func`` and ONNX export run ATen's "
    "float32/half kernels patched at ±inf, NaN and near float max (absolute error below 1.1e-6 "
    "in float32).",
    native=_gelu_native,
)
def gelu(input, params, weights, inplace, options):
    approximate = params["approximate"]
    if input.dtype == torch.float64:
        # ATen's float64 GELU is 0 below x ≈ −8.3 and its tanh-form gradient is off by up to
        # 22 ulp; where no native kernel runs (the tanh form, torch.func, ONNX export), the
        # generic path runs the catalog's float64 math (double-double arguments).
        return _generic.apply(get("gelu"), input, params, {})
    if not _tracked(input):
        return _ag.gelu_value(input, approximate, _ag.has_large(input))
    return _ag.apply(_ag.Gelu, input, approximate, _ag.has_large(input))


from . import _fast_smooth  # noqa: E402, F401  (issue #15's entries register themselves)
