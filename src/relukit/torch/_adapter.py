"""The PyTorch adapter: the same verbs as every backend, for torch.

- ``function(activation)``: the public function of ``relukit.torch.functional``, with
  ``torch.nn.functional``'s signature (parameters after the input, ``inplace=`` where torch.nn
  has it, a fast path's options keyword-only), relukit's gradient, and a docstring rendered from
  the catalog. It runs the fast path registered for the entry in ``_fast`` if there is one, and
  otherwise the generic path of ``_generic`` (the catalog's math on the torch namespace).
- ``module(activation)``: the ``torch.nn.Module`` derived from the function, with torch.nn's
  constructor arguments, ``extra_repr`` and ``state_dict`` keys.
- ``activation_of(module)``, ``discover(model)``, ``watch(model, callback)``: the model-facing
  verbs ``relukit.init`` and the diagnostics use.

Functions and constructors are generated with real signatures (``help()``, ``inspect`` and
``torch.fx`` see them); ``relukit/torch/*.pyi`` (``scripts/make_stubs.py``) types them.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._catalog import CATALOG, Activation, Param, _docs
from . import _autograd as _ag
from . import _generic, _native
from ._fast import FAST, NativePlan, Option

# --- the function ------------------------------------------------------------------------------


# Floating dtypes relukit computes in; integer dtypes ATen's ReLU has kernels for.
_FLOATS = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})
_INTEGERS = frozenset({torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64})


def _check_input(input: Any, activation: Activation) -> None:
    """Refuse what relukit cannot compute, naming the argument and what is accepted."""
    name = activation.name
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"{name}(): input must be a torch.Tensor, got {type(input).__name__}")
    if input.is_nested or input.layout != torch.strided:
        kind = "a nested tensor" if input.is_nested else f"layout {input.layout}"
        raise TypeError(
            f"{name}(): input must be a dense (strided) tensor, got {kind}; "
            "apply it to the values (e.g. sparse.values() or each nested component)"
        )
    if input.dtype in _FLOATS:
        return
    integers = activation.keeps_integers
    if integers and input.dtype in _INTEGERS:
        return
    kinds = "float16, bfloat16, float32 or float64"
    if integers:
        kinds += ", or uint8/int8/int16/int32/int64"
    raise TypeError(
        f"{name}(): input must have dtype {kinds}; got {input.dtype}. "
        "Convert it first, e.g. input.float()"
    )


def _check_params(activation: Activation, input: torch.Tensor, params: dict) -> dict:
    """The catalog's checks, then the contract's range rule: a parameter must be finite in the
    input's dtype (float32 for half types), where ATen computes with it."""
    params = activation.check_params(**params)
    limit = torch.finfo(torch.float64 if input.dtype == torch.float64 else torch.float32)
    for p in activation.params:
        if p.kind == "real" and abs(value := params[p.name]) > limit.max:
            raise ValueError(
                f"{activation.name}(): {p.name}={value!r} overflows {limit.dtype}, the dtype this "
                f"input's parameters must be finite in; use a value of magnitude at most "
                f"{limit.max:.4g}"
            )
    return params


def shape_weight(input: torch.Tensor, weight: Any, name: str, fn: str) -> torch.Tensor:
    """A 0-d/1-D weight of 1 or ``input.shape[1]`` slopes, shaped to broadcast along dim 1."""
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{fn}(): {name} must be a torch.Tensor, got {type(weight).__name__}")
    if not weight.is_floating_point():
        raise TypeError(f"{fn}(): {name} must be a floating-point tensor, got dtype {weight.dtype}")
    if weight.dim() > 1:
        raise ValueError(f"{fn}(): {name} must be 0-d or 1-D, got shape {tuple(weight.shape)}")
    if torch.jit.is_tracing():  # sizes are traced values: no Python checks on them
        shape = [1] * input.dim()
        if input.dim() > 1:
            shape[1] = -1
        return (weight.reshape(shape) if input.dim() > 1 else weight.reshape(())).to(input.dtype)
    n = weight.numel()
    channels = input.shape[1] if input.dim() > 1 else 1
    if n != 1 and n != channels:
        raise ValueError(
            f"{fn}(): {name} has {n} slopes but input has {channels} channels along dim 1 "
            f"(input shape {tuple(input.shape)}); {name} must have 1 or {channels} elements"
        )
    shape = [1] * input.dim()
    if input.dim() > 1:
        shape[1] = n
    w = weight.reshape(shape)
    w = w if w.dtype == input.dtype else w.to(input.dtype)
    # Slopes are few (one per channel): checking them costs nothing measurable in eager CPU.
    eager_cpu = (
        w.device.type == "cpu" and not torch.compiler.is_compiling() and not torch.jit.is_tracing()
    )
    if eager_cpu and not bool(torch.isfinite(w.detach()).all()):
        raise ValueError(
            f"{fn}(): {name} must hold finite slopes in {w.dtype}; got a NaN or an infinity"
        )
    return w


def _caller(
    activation: Activation,
) -> tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor]]:
    """``(call, run)``: ``call(input, params, weights, inplace, options)`` checks its arguments
    and calls ``run(input, params, shaped, inplace, options)``, which takes them checked (the
    weights shaped) and runs the fast or generic path. A module checks its arguments once and
    calls ``run`` (``ActivationModule.forward``)."""
    fast = FAST.get(activation.name)
    checks = {o.name: o.check for o in (fast.options if fast else ())}
    name = activation.name

    def call(input, params, weights, inplace, options):
        _check_input(input, activation)
        if inplace is not False and inplace is not True:
            raise TypeError(f"{name}(): inplace must be True or False, got {inplace!r}")
        # Empty containers skip their checks: ~1 µs a call, measured on ReLU's 16-element call.
        if params:
            params = _check_params(activation, input, params)
        if options:
            options = {k: checks[k](v) for k, v in options.items()}
        shaped = {k: shape_weight(input, v, k, name) for k, v in weights.items()} if weights else {}
        return run(input, params, shaped, inplace, options)

    def run(input, params, shaped, inplace, options):
        if torch.jit.is_tracing():
            # torch.jit.trace records the catalog's math as plain ATen ops (no custom op, no
            # Python autograd.Function), so a saved trace loads and runs without relukit.
            return _generic.trace_value(activation, input, params, shaped, inplace)
        if inplace and (_ag._fwd_ad_active() or _ag._functorch_active()):
            # In place under forward AD or torch.func: the out-of-place function on a clone
            # (which has a tangent rule), copied back; copy_ carries the tangent.
            return input.copy_(run(input.clone(), params, shaped, False, options))
        if fast is not None:
            return fast.run(input, params, shaped, inplace, options)
        if inplace:
            return _generic.apply_inplace(activation, input, params)
        return _generic.apply(activation, input, params, shaped)

    return call, run


def _native_plan(activation: Activation) -> NativePlan | None:
    fast = FAST.get(activation.name)
    return fast.native if fast else None


def _options(activation: Activation) -> tuple[Option, ...]:
    fast = FAST.get(activation.name)
    return fast.options if fast else ()


_EMPTY = inspect.Parameter.empty


def _generate(
    name: str, positional: list[tuple[str, Any]], keyword: list[tuple[str, Any]], body: str, env
):
    """A function ``def name(<positional>, *, <keyword>): <body>`` with real defaults.

    Generated, as ``dataclasses`` generates ``__init__``, so that the signature is real (no
    ``*args`` binding per call, and ``inspect``/``torch.fx`` see the parameters).
    """
    defaults = {}

    def spell(pname, default):
        if default is _EMPTY:
            return pname
        defaults[f"_d_{pname}"] = default
        return f"{pname}=_d_{pname}"

    args = [spell(n, d) for n, d in positional]
    if keyword:
        args += ["*", *(spell(n, d) for n, d in keyword)]
    body = body.replace("\n", "\n    ")
    src = f"def {name}({', '.join(args)}):\n    {body}\n"
    scope = dict(env, **defaults)
    exec(src, scope)
    return scope[name]


def _dict_source(names) -> str:
    """``{'a': a, 'b': b}`` as source, passing arguments through by name."""
    return "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"


def function(activation: Activation) -> Callable[..., torch.Tensor]:
    """The ``relukit.torch.functional`` function for a catalog entry (see the module doc)."""
    values = [p for p in activation.params if p.kind != "weight"]
    weights = [p for p in activation.params if p.kind == "weight"]
    options = _options(activation)
    positional: list[tuple[str, Any]] = [("input", _EMPTY)]
    positional += [(p.name, _EMPTY if p.kind == "weight" else p.default) for p in activation.params]
    if activation.inplace:
        positional.append(("inplace", False))
    keyword = [(o.name, o.default) for o in options]
    tensors = ", ".join(["input", *(p.name for p in weights)])
    passed = ", ".join(
        f"{n}={n}" for n, _ in positional[1:] + keyword if n not in {p.name for p in weights}
    )
    # __torch_function__ first (torch.fx's Proxy, tensor subclasses), as torch.nn.functional
    # does: fx records a call of this function instead of failing on a Proxy.
    body = (
        f"if _has_torch_function(({tensors},)):\n"
        f"    return _handle({activation.name}, ({tensors},), {tensors}{', ' if passed else ''}"
        f"{passed})\n"
        "return _call(input, {}, {}, {}, {})".format(
            _dict_source(p.name for p in values),
            _dict_source(p.name for p in weights),
            "inplace" if activation.inplace else "False",
            _dict_source(o.name for o in options),
        )
    )
    call = _caller(activation)[0]
    env = {
        "_call": call,
        "_has_torch_function": torch.overrides.has_torch_function,
        "_handle": torch.overrides.handle_torch_function,
    }
    fn = _generate(activation.name, positional, keyword, body, env)
    fn.__module__ = "relukit.torch.functional"
    fn.__qualname__ = activation.name
    fn.__annotations__ = {"input": torch.Tensor, **_annotations(activation), "return": torch.Tensor}
    fn.__doc__ = _function_doc(activation)
    fn.activation = activation
    return fn


def inplace_function(activation: Activation, fn: Callable[..., torch.Tensor]):
    """``relu_``-style: ``fn(..., inplace=True)``, as ``torch.nn.functional`` spells it."""
    positional = [("input", _EMPTY)] + [(p.name, p.default) for p in activation.params]
    options = _options(activation)
    passed = ", ".join(f"{n}={n}" for n, _ in positional[1:] + [(o.name, 0) for o in options])
    body = f"return _fn(input, {passed}{', ' if passed else ''}inplace=True)"
    name = activation.name + "_"
    new = _generate(name, positional, [(o.name, o.default) for o in options], body, {"_fn": fn})
    new.__module__ = "relukit.torch.functional"
    new.__qualname__ = name
    new.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "inplace"}
    new.__doc__ = (
        f"In-place version of :func:`{activation.name}` (``{activation.name}(input, ..., "
        "inplace=True)``): overwrites ``input`` and returns it.\n\n"
        "Example:\n"
        "    >>> import torch\n"
        "    >>> from relukit.torch import functional as F\n"
        "    >>> x = torch.tensor([-2.0, 3.0])\n"
        f"    >>> F.{name}(x) is x\n"
        "    True\n"
    )
    new.activation = activation
    return new


def _annotations(activation: Activation) -> dict[str, Any]:
    kinds = {"real": float, "choice": str, "weight": torch.Tensor}
    out: dict[str, Any] = {p.name: kinds[p.kind] for p in activation.params}
    if activation.inplace:
        out["inplace"] = bool
    out.update({o.name: Any for o in _options(activation)})
    return out


def _weight_text(p: Param) -> str:
    return (
        "A 0-d or 1-D floating tensor of 1 or ``input.shape[1]`` slopes (channels on dim 1), "
        "cast to the input's dtype; its gradient comes back in its own dtype."
    )


def _saved(activation: Activation) -> str:
    fast = FAST.get(activation.name)
    if fast is not None:
        return fast.saves
    weights = " and the weights" if activation.weight_derivative else ""
    return (
        f"the input{weights} (as torch.nn). This entry runs relukit's generic path: the "
        "catalog's math on torch tensors, computed in "
        + ("its own dtype (half types in float32)" if activation.piecewise_linear else "float64")
        + " and rounded once."
    )


def _function_doc(activation: Activation) -> str:
    integers = (
        "integer tensors are accepted and keep their dtype (as torch's); bool is refused"
        if activation.keeps_integers
        else "integer and bool tensors raise ``TypeError``"
    )
    args = [("input", f"a floating-point tensor of any shape; {integers}.")]
    args += [(p.name, _docs.param_doc(p, weight=_weight_text(p))) for p in activation.params]
    if activation.inplace:
        args.append(("inplace", "overwrite ``input`` with the result. Default: ``False``."))
    args += [(o.name, o.doc) for o in _options(activation)]
    name = activation.name
    return _docs.render(
        activation,
        args=args,
        returns="The activation, same shape and dtype as ``input``.",
        sections=[
            ("Saved for backward", _saved(activation)),
            ("Shape", "Any; the result has the input's shape."),
        ],
        example=_docs.example_lines(
            activation,
            setup=[
                "import torch",
                "from relukit.torch import functional as F",
                f"x = torch.tensor({_docs.example_input(activation)}, requires_grad=True)",
                f"y = F.{name}({_example_args(activation)})",
                "y.sum().backward()",
            ],
            call=lambda args: "y.detach()",
            value=lambda expr: f"{expr}.tolist()",
            derivative=lambda args: "x.grad",
        ),
    )


def _example_args(activation: Activation) -> str:
    ex = activation.example
    if ex is None:
        return "x"
    spelled = []
    for k, v in ex.params.items():
        kind = activation.param(k).kind
        spelled.append(f"{k}=torch.tensor({v!r})" if kind == "weight" else f"{k}={v!r}")
    return ", ".join(["x", *spelled])


# --- the module --------------------------------------------------------------------------------


class ActivationModule(nn.Module):
    """Base of relukit's modules: ``activation`` is the catalog entry; ``forward`` calls the
    function. They derive from ``torch.nn.Module``, not from torch.nn's classes, so code that
    special-cases ``nn.ReLU`` (fusers, quantisers) does not silently swap relukit's rules out."""

    activation: Activation
    _values: tuple[str, ...] = ()
    _weights: tuple[str, ...] = ()
    _option_names: tuple[str, ...] = ()
    _arguments: tuple[str, ...] = ()
    _function: Callable[..., torch.Tensor]
    _run: Callable[..., torch.Tensor]  # _function's body, arguments checked (_caller)
    _native_plan: NativePlan | None = None  # the fast path's native op (_fast.NativePlan)
    init: float  # a weighted module's initial slope
    num_parameters: int

    @classmethod
    def torch_class(cls) -> type[nn.Module] | None:
        """The ``torch.nn`` module this one replaces (same class name), if torch.nn has one."""
        return getattr(nn, cls.activation.class_name, None)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        # The hot call, a dense CPU tensor in eager mode: the native op this module's arguments
        # give for the input's dtype, looked up once (_plan_direct) and called directly. The
        # function's Python layers cost more than their own time at 1e6 elements: in a
        # randomised in-process A/B (three processes), ReLU/LeakyReLU took 0.95-1.13x
        # torch.nn's forward+backward through them and 0.86-1.03x calling the op from here;
        # benchmarks/bench_torch_speed.py's module rows now match its bare-op control rows.
        direct = self.__dict__.get("_direct")
        if (
            direct is not None
            and type(input) is torch.Tensor
            and input.dtype is direct[0]
            and _native.eager_dense_cpu(input)
        ):
            return direct[1](input, *direct[2])
        # Any other plain tensor in eager mode: the module's arguments are checked once per kind
        # of input (float64 or not: the range rule differs) and again only after one is
        # reassigned (__setattr__). Weights (PReLU) are shaped and checked on every call,
        # proxies and subclasses take the function (__torch_function__).
        if type(input) is torch.Tensor and not self._weights and not torch.compiler.is_compiling():
            _check_input(input, self.activation)
            wide = input.dtype == torch.float64
            checked = self.__dict__.get("_checked")
            if checked is None or checked[0] is not wide:
                checked = self._check_arguments(input, wide)
            self._plan_direct(input, checked)
            return type(self)._run(input, checked[1], {}, *checked[2:])
        kwargs = {n: getattr(self, n) for n in self._arguments}
        return type(self)._function(input, **kwargs)

    def _plan_direct(self, input: torch.Tensor, checked: tuple) -> None:
        """Keep ``(dtype, op, arguments)`` in ``__dict__`` when the fast path runs a native op
        out of place on this input's dtype (what ``_run`` would call), else forget it."""
        _, params, inplace, options = checked
        plan = self._native_plan
        call = None
        if plan is not None and not inplace and _native.eager_dense_cpu(input):
            call = plan(input.dtype, params, options)
        ops = _native.for_input(input) if call is not None else None
        if call is None or ops is None:
            self.__dict__.pop("_direct", None)
            return
        op, args = call
        self.__dict__["_direct"] = (input.dtype, getattr(ops, op), args)

    def _check_arguments(self, input: torch.Tensor, wide: bool) -> tuple:
        """``(wide, params, inplace, options)`` checked as the function checks them, kept in
        ``__dict__`` (not a buffer or attribute that state_dict or repr would see)."""
        activation = self.activation
        params = {n: getattr(self, n) for n in self._values}
        params = _check_params(activation, input, params) if params else {}
        inplace = getattr(self, "inplace", False)
        if inplace is not False and inplace is not True:
            raise TypeError(f"{activation.name}(): inplace must be True or False, got {inplace!r}")
        options = {o.name: o.check(getattr(self, o.name)) for o in _options(activation)}
        checked = (wide, params, inplace, options)
        self.__dict__["_checked"] = checked
        return checked

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._arguments:  # checked again at the next call
            self.__dict__.pop("_checked", None)
            self.__dict__.pop("_direct", None)
        super().__setattr__(name, value)

    def __getstate__(self) -> dict:
        # pickle and deepcopy: the looked-up op is this process's, found again at the next call
        state = self.__dict__.copy()
        state.pop("_direct", None)
        return state

    def __prepare_scriptable__(self) -> nn.Module:
        # torch.jit.script calls this on every submodule before compiling it.
        raise RuntimeError(
            f"torch.jit.script cannot compile relukit's {type(self).__name__} (its function runs "
            "Python autograd and relukit's native kernels). Use torch.jit.trace(model.eval(), "
            "example) or torch.export.export(model, (example,)) instead, or script "
            "relukit.torch.revert(model), which swaps in torch.nn's modules."
        )

    def to_torch(self) -> nn.Module:
        """The ``torch.nn`` module with this one's arguments (a weight: the same Parameter)."""
        theirs = self.torch_class()
        if theirs is None:
            raise TypeError(f"torch.nn has no {type(self).__name__} to revert to")
        if self._weights:
            new = theirs.__new__(theirs)
            nn.Module.__init__(new)
            vars(new).update(num_parameters=self.num_parameters, init=self.init)  # plain values
            for n in self._weights:
                setattr(new, n, getattr(self, n))
        else:
            kwargs = {n: getattr(self, n) for n in self._values}
            if self.activation.inplace:
                kwargs["inplace"] = self.inplace
            new = theirs(**kwargs)
        new.train(self.training)
        return new

    def extra_repr(self) -> str:
        if self._weights:
            return f"num_parameters={self.num_parameters}"
        parts = [f"{n}={getattr(self, n)!r}" for n in self._values]
        if getattr(self, "inplace", False):
            parts.append("inplace=True")
        for o in _options(self.activation):
            if getattr(self, o.name) != o.default:
                parts.append(f"{o.name}={getattr(self, o.name)!r}")
        return ", ".join(parts)

    def reset_parameters(self) -> None:
        """Set every slope to ``init``."""
        for n in self._weights:
            nn.init.constant_(getattr(self, n), self.init)

    @classmethod
    def from_torch(cls, module: nn.Module) -> ActivationModule:
        """This module with ``module``'s arguments; a weight is the very same ``Parameter``."""
        if cls._weights:
            new = cls.__new__(cls)
            nn.Module.__init__(new)
            new.num_parameters = getattr(module, "num_parameters", 1)
            init: Any = getattr(module, "init", cls.activation.param(cls._weights[0]).initial)
            new.init = init
            for n in cls._weights:  # the same Parameter: optimizers keep tracking it
                setattr(new, n, getattr(module, n))
            return new
        kwargs = {n: getattr(module, n) for n in cls._values if hasattr(module, n)}
        if cls.activation.inplace:
            kwargs["inplace"] = getattr(module, "inplace", False)
        return cls(**kwargs)


def _init_values(self, params: dict, inplace: bool, options: dict) -> None:
    nn.Module.__init__(self)
    for k, v in self.activation.check_params(**params).items():
        setattr(self, k, v)
    if self.activation.inplace:
        self.inplace = inplace
    for o in _options(self.activation):
        setattr(self, o.name, o.check(options[o.name]))


def _init_weights(self, num_parameters, init, device, dtype) -> None:
    if isinstance(num_parameters, bool) or not isinstance(num_parameters, int):
        raise TypeError(f"num_parameters must be an int, got {num_parameters!r}")
    if isinstance(init, bool) or not isinstance(init, (int, float)) or not math.isfinite(init):
        raise TypeError(f"init must be a finite real number, got {init!r}")
    if num_parameters < 1:
        raise ValueError(f"num_parameters must be at least 1, got {num_parameters}")
    nn.Module.__init__(self)
    self.num_parameters = num_parameters
    self.init = init
    for n in self._weights:
        setattr(self, n, nn.Parameter(torch.empty(num_parameters, device=device, dtype=dtype)))
    self.reset_parameters()


def module(activation: Activation, fn: Callable[..., torch.Tensor]) -> type[ActivationModule]:
    """The ``torch.nn.Module`` class for a catalog entry, derived from its function ``fn``."""
    values = tuple(p.name for p in activation.params if p.kind != "weight")
    weights = tuple(p.name for p in activation.params if p.kind == "weight")
    options = _options(activation)
    if weights:
        initial = activation.param(weights[0]).initial
        positional = [("self", _EMPTY), ("num_parameters", 1), ("init", initial)]
        positional += [("device", None), ("dtype", None)]
        init = _generate(
            "__init__",
            positional,
            [],
            "_init(self, num_parameters, init, device, dtype)",
            {"_init": _init_weights},
        )
    else:
        positional = [("self", _EMPTY)]
        positional += [(p.name, p.default) for p in activation.params]
        if activation.inplace:
            positional.append(("inplace", False))
        init = _generate(
            "__init__",
            positional,
            [(o.name, o.default) for o in options],
            "_init(self, {}, {}, {})".format(
                _dict_source(values),
                "inplace" if activation.inplace else "False",
                _dict_source(o.name for o in options),
            ),
            {"_init": _init_values},
        )
    cls = type(
        activation.class_name,
        (ActivationModule,),
        {
            "__init__": init,
            "__module__": "relukit.torch",
            "__doc__": _module_doc(activation),
            "activation": activation,
            "_values": values,
            "_weights": weights,
            "_option_names": tuple(o.name for o in options),
            "_arguments": (
                tuple(p.name for p in activation.params)
                + (("inplace",) if activation.inplace else ())
                + tuple(o.name for o in options)
            ),
            "_function": staticmethod(fn),
            "_run": staticmethod(_caller(activation)[1]),
            "_native_plan": staticmethod(plan) if (plan := _native_plan(activation)) else None,
        },
    )
    init.__qualname__ = f"{activation.class_name}.__init__"
    return cls


def _module_doc(activation: Activation) -> str:
    cls = activation.class_name
    weights = [p for p in activation.params if p.kind == "weight"]
    if weights:
        initial = weights[0].initial
        args = [
            (
                "num_parameters",
                "1 (one slope) or the number of channels (dim 1 of the input). Default: ``1``.",
            ),
            ("init", f"the slopes' initial value. Default: ``{initial!r}`` (torch.nn's)."),
            ("device", "the weight's device. Default: ``None``."),
            ("dtype", "the weight's dtype. Default: ``None``."),
        ]
        shape = "Input: ``(N, C, *)`` or any shape with ``num_parameters=1``. Output: the same."
        extra = [
            (
                "Attributes",
                f"{', '.join(p.name for p in weights)}: the learnable slopes, "
                "shape ``(num_parameters,)``; the ``state_dict`` keys are torch.nn's, so its "
                "checkpoints load unchanged.",
            )
        ]
        setup = [f"m = {cls}()", f"x = torch.tensor({_docs.example_input(activation)})"]
        call = "m(x)"
    else:
        args = [(p.name, _docs.param_doc(p)) for p in activation.params]
        if activation.inplace:
            args.append(("inplace", "overwrite the input. Default: ``False``."))
        args += [(o.name, o.doc) for o in _options(activation)]
        shape = "Input: ``(*)``, any shape. Output: ``(*)``, the same shape."
        extra = []
        ex = activation.example
        params = ", ".join(f"{k}={v!r}" for k, v in (ex.params if ex else {}).items())
        setup = [f"m = {cls}({params})", f"x = torch.tensor({_docs.example_input(activation)})"]
        call = "m(x)"
    return _docs.render(
        activation,
        args=args,
        sections=[
            *extra,
            ("Saved for backward", _saved(activation)),
            ("Shape", shape),
        ],
        example=_docs.example_lines(
            activation,
            setup=["import torch", f"from relukit.torch import {cls}", *setup],
            call=lambda _: call,
            value=lambda expr: f"{expr}.tolist()",
            derivative=None,
        ),
    )


# --- model-facing verbs ------------------------------------------------------------------------


def activation_of(module: Any) -> tuple[Activation, dict[str, Any]] | None:
    """The catalog entry and parameters of an activation module, or ``None``.

    Recognises relukit.torch's modules (their ``activation``) and torch.nn's classes of the
    catalog's class names (``nn.ReLU``, ``nn.LeakyReLU``, ``nn.SiLU``...). Parameters are read
    from the module's attributes of the catalog's parameter names.
    """
    entry = getattr(module, "activation", None)
    if not isinstance(entry, Activation):
        entry = None
        if type(module).__module__.startswith("torch.nn"):
            key = type(module).__name__
            entry = next((a for a in CATALOG if a.class_name == key), None)
    if entry is None:
        return None
    params = {p.name: getattr(module, p.name) for p in entry.params if hasattr(module, p.name)}
    return entry, params


@dataclass(frozen=True)
class Unit:
    """An activation module found in a model: its qualified name, the module, the catalog entry
    and its parameters."""

    name: str
    module: nn.Module
    activation: Activation
    params: dict[str, Any]


def discover(model: nn.Module) -> list[Unit]:
    """The catalog activation modules of ``model`` (relukit's and torch.nn's), in module order.

    Example:
        >>> import torch
        >>> from relukit.torch import discover
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LeakyReLU(0.2))
        >>> [(u.name, u.activation.name, u.params) for u in discover(model)]
        [('1', 'leaky_relu', {'negative_slope': 0.2})]
    """
    units = []
    for name, m in model.named_modules():
        found = activation_of(m)
        if found is not None:
            units.append(Unit(name, m, *found))
    return units


class Watch:
    """Forward hooks on a model's activation units; ``remove()`` (or leaving the ``with``
    block) removes every one."""

    def __init__(self, handles: list[Any], units: list[Unit]) -> None:
        self.handles = handles
        self.units = units

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def watch(model: nn.Module, callback: Callable[[Unit, torch.Tensor], None]) -> Watch:
    """Call ``callback(unit, output)`` after every forward of each unit ``discover`` finds.

    Example:
        >>> import torch
        >>> from relukit.torch import watch
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
        >>> seen = []
        >>> with watch(model, lambda unit, out: seen.append((unit.name, tuple(out.shape)))):
        ...     _ = model(torch.zeros(4, 2))
        >>> seen
        [('1', (4, 3))]
    """
    units = discover(model)
    handles = [
        u.module.register_forward_hook(lambda m, args, out, u=u: callback(u, out)) for u in units
    ]
    return Watch(handles, units)
