"""``init_model_``: initialise a PyTorch model's Linear/Conv layers by the activation after each."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from .._catalog import CATALOG, Activation
from ._gain import gain
from ._kaiming import FanMode, check_generator, check_std, std_for

# Modules that neither change which activation follows a layer nor need a gain of their own:
# they are skipped when looking for the activation after a layer (Conv → BatchNorm → ReLU pairs
# the conv with the ReLU, as torchvision's ResNet init does).
_TRANSPARENT = (
    "Identity",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "Flatten",
    "Unflatten",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
)
_TRANSPARENT_FUNCTIONS = ("dropout", "flatten", "batch_norm", "layer_norm", "group_norm")


@dataclass(frozen=True)
class LayerInit:
    """How ``init_model_`` initialised one layer.

    Attributes:
        name: the layer's qualified name in the model (``model.get_submodule(name)``).
        activation: the catalog name of the activation after it, or ``None`` (a linear layer:
            nothing follows it before the model's output).
        params: that activation's parameters as found on the module or call.
        gain: the gain used; ``std``: the resulting weight std.
    """

    name: str
    activation: str | None
    params: dict[str, Any]
    gain: float
    std: float


@dataclass
class InitReport:
    """What ``init_model_`` did: the layers it initialised and those it left alone.

    Attributes:
        initialised: one :class:`LayerInit` per Linear/Conv layer it set, in model order.
        unpaired: ``{name: reason}`` for the Linear/Conv layers it could not pair with an
            activation (another layer, a residual addition, pooling, an activation outside the
            catalog, several consumers, or a model ``torch.fx`` cannot trace) and those it must
            not touch (used more than once, a Parameter shared with another module, lazy). They
            keep their weights and biases untouched: nothing is guessed.
    """

    initialised: list[LayerInit] = field(default_factory=list)
    unpaired: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [
            f"{x.name}: {x.activation or 'linear'} gain {x.gain:.4f} std {x.std:.4g}"
            for x in self.initialised
        ]
        lines += [f"{name}: not initialised ({why})" for name, why in self.unpaired.items()]
        return "\n".join(lines)


def activation_of_module(module: Any) -> tuple[Activation, dict[str, Any]] | None:
    """The catalog entry and parameters of an activation module, or ``None``.

    ``relukit.torch.activation_of`` (the torch adapter's verb, shared with the diagnostics):
    relukit.torch's modules and torch.nn's classes of the catalog's class names.
    """
    from ..torch import activation_of

    return activation_of(module)


def _activation_of_call(node: Any, modules: dict[str, Any]) -> tuple[Activation, dict] | None:
    """Catalog entry and parameters of an fx ``call_function``/``call_method`` node, or None."""
    import torch

    name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
    if node.op == "call_function":
        origin = getattr(node.target, "__module__", None) or ""
        if not origin.startswith(("torch", "relukit")):
            return None
    entry = next((a for a in CATALOG if a.name == str(name).rstrip("_")), None)
    if entry is None:
        return None
    # catalog parameters are spelled and ordered as torch.nn.functional's, after the input
    values = dict(zip((p.name for p in entry.params), node.args[1:], strict=False))
    values.update({k: v for k, v in node.kwargs.items() if k in {p.name for p in entry.params}})
    params = {}
    for key, value in values.items():
        if isinstance(value, torch.fx.Node):
            if value.op != "get_attr":
                return None
            owner, _, attr = str(value.target).rpartition(".")
            value = getattr(modules[owner] if owner else modules[""], attr)
        params[key] = value
    return entry, params


def _is_layer(module: Any) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear) or (
        isinstance(module, torch.nn.modules.conv._ConvNd) and not module.transposed
    )


# A pairing: the catalog entry, its parameters and where the activation was found (for messages);
# ``None`` for a layer whose output is the model's output (linear).
_Pair = tuple[Activation, dict[str, Any], str]


def _pair_sequential(model: Any) -> tuple[dict[str, _Pair | None], dict[str, str]]:
    """Pairs by module order inside (nested) Sequential containers.

    ``named_children`` lists a module once however often it is registered, so the walk reads
    ``_modules`` itself: a layer at two positions (``Sequential(lin, relu, lin)``) is seen at both
    and reported as used more than once, never initialised for its first use only.
    """
    import torch

    flat: list[tuple[str, Any]] = []
    uses: dict[int, list[str]] = {}

    def walk(prefix: str, seq: Any) -> None:
        for name, child in seq._modules.items():
            if child is None:
                continue
            full = f"{prefix}{name}"
            if isinstance(child, torch.nn.Sequential):
                walk(full + ".", child)
                continue
            flat.append((full, child))
            for sub, m in child.named_modules(remove_duplicate=False):
                if _is_layer(m):
                    uses.setdefault(id(m), []).append(f"{full}.{sub}" if sub else full)

    walk("", model)
    pairs: dict[str, _Pair | None] = {}
    unpaired: dict[str, str] = {}
    for name, positions in ((p[0], p) for p in uses.values() if len(p) > 1):
        unpaired[name] = f"used more than once: at {', '.join(positions)}"
    for i, (name, module) in enumerate(flat):
        if not _is_layer(module):
            for sub, m in module.named_modules():
                if _is_layer(m) and len(uses[id(m)]) == 1:
                    unpaired[f"{name}.{sub}"] = "inside a non-Sequential block"
            continue
        if len(uses[id(module)]) > 1:
            continue
        following = None
        for nxt_name, nxt in flat[i + 1 :]:
            if type(nxt).__name__ in _TRANSPARENT:
                continue
            following = (nxt_name, nxt)
            break
        if following is None:
            pairs[name] = None  # nothing after it: the model's linear output layer
            continue
        found = activation_of_module(following[1])
        where = f"{type(following[1]).__name__} ({following[0]})"
        if found is None:
            unpaired[name] = f"followed by {where}"
        else:
            pairs[name] = (*found, where)
    return pairs, unpaired


def _pair_fx(model: Any) -> tuple[dict[str, _Pair | None], dict[str, str]]:
    """Pairs by following each layer's node in the ``torch.fx`` graph."""
    import torch

    names = [n for n, m in model.named_modules() if _is_layer(m)]
    try:
        graph_module = torch.fx.symbolic_trace(model)
    except Exception as err:  # any tracing failure: report every layer, guess nothing
        reason = f"torch.fx could not trace the model: {type(err).__name__}: {err}"
        return {}, dict.fromkeys(names, reason)
    modules = dict(graph_module.named_modules())
    pairs: dict[str, _Pair | None] = {}
    unpaired: dict[str, str] = {}
    seen: set[str] = set()
    for node in graph_module.graph.nodes:
        if node.op != "call_module" or not _is_layer(modules[node.target]):
            continue
        name = node.target
        if name in seen:
            unpaired[name] = "called more than once"
            pairs.pop(name, None)
            continue
        seen.add(name)
        current, where = node, ""
        found: Any = None
        why: str | None = None
        while True:
            users = list(current.users)
            if len(users) != 1:
                why = f"its output has {len(users)} consumers"
                break
            user = users[0]
            if user.op == "output":
                found = "linear"
                break
            if user.op == "call_module":
                module = modules[user.target]
                if type(module).__name__ in _TRANSPARENT:
                    current = user
                    continue
                found = activation_of_module(module)
                where = f"{type(module).__name__} ({user.target})"
                why = None if found else f"followed by {where}"
                break
            if user.op in ("call_function", "call_method"):
                fname = user.target if user.op == "call_method" else user.target.__name__
                if str(fname) in _TRANSPARENT_FUNCTIONS:
                    current = user
                    continue
                found = _activation_of_call(user, modules)
                where = f"{fname}()"
                why = None if found else f"followed by {fname}"
                break
            why = f"followed by a {user.op} node"
            break
        if found is None:
            unpaired[name] = why or "no activation found"
        else:
            pairs[name] = None if found == "linear" else (*found, where)
    for name in names:
        if name not in pairs and name not in unpaired:
            unpaired[name] = "not called in the traced forward"
    return pairs, unpaired


def init_model_(
    model: Any,
    *,
    distribution: Literal["normal", "uniform"] = "normal",
    mode: FanMode = "fan_in",
    generator: Any = None,
) -> InitReport:
    """Initialise every Linear/Conv layer of a PyTorch model by the activation that follows it.

    Pairing: in a ``torch.nn.Sequential`` (nested ones are flattened) each layer pairs with the
    next module; in any other model, with the consumer of its output in the ``torch.fx`` graph
    (``symbolic_trace``): an activation module (torch.nn's ReLU, LeakyReLU, PReLU, ELU, GELU or
    relukit.torch's) or a call such as ``F.relu``, ``torch.relu``, ``x.relu()``, ``F.gelu(x,
    approximate="tanh")``, with its parameters. Dropout, Identity, Flatten and normalisation layers
    in between are skipped (Conv → BatchNorm → ReLU pairs the conv with the ReLU).

    Each paired layer gets He's init with relukit's exact gain (:func:`kaiming_normal_`, forward
    gain for ``fan_in``, backward for ``fan_out``; a PReLU's current slope enters its gain) and a
    zero bias. A layer whose output goes straight to the model's output gets gain 1 (LeCun's init,
    ``activation=None``) and a zero bias. Any other layer (followed by another layer, pooling, a
    residual addition, an activation outside the catalog, used twice, or in a model fx cannot
    trace) is left untouched and listed in the report's ``unpaired`` with the reason: nothing is
    guessed, and nothing is warned (read the report). So are, whatever follows them:

    * a layer used more than once: the same module at two positions of a Sequential (or called
      twice in the traced forward) would need one init per use;
    * a layer with a Parameter shared (by identity) with another module, e.g. two Linears tied to
      one weight or a decoder tied to an embedding: initialising it for one use would overwrite
      the other, and when both are Linears the report would state a std one of them does not
      have, so neither is touched;
    * a lazy layer (``nn.LazyLinear``... before its first forward): it has no shape yet.

    Atomic: every change is planned first (each std and gain computed and validated, each weight's
    dtype and device checked) and applied only if all succeed. A layer that cannot be
    initialised (zero-size, a PReLU slope that is NaN, a parameter whose gain or std is out of
    range or below the smallest normal number of the weight's dtype) raises an error naming the
    layer, the activation after it and the problem, and leaves the whole model unchanged.

    Args:
        model: a ``torch.nn.Module``.
        distribution: ``"normal"`` or ``"uniform"``. Default: ``"normal"``.
        mode: ``"fan_in"`` or ``"fan_out"``. Default: ``"fan_in"``.
        generator: a ``torch.Generator``. Default: torch's global one.

    Returns:
        An :class:`InitReport`.

    Raises:
        TypeError: ``model`` is not a ``torch.nn.Module``, ``generator`` not a
            ``torch.Generator``, or a layer's activation has a parameter of the wrong type.
        ValueError: unknown ``distribution`` or ``mode``; a layer that cannot be initialised
            (named, see above), or a ``generator`` on another device than a layer's weight.

    Example:
        >>> import torch
        >>> from relukit.init import init_model_
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 16),
        ...     torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))
        >>> print(init_model_(model))
        0: gelu gain 1.5335 std 0.5422
        2: leaky_relu gain 1.3868 std 0.3467
        4: linear gain 1.0000 std 0.25
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(distribution, str) or distribution not in ("normal", "uniform"):
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    if not isinstance(mode, str) or mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    if isinstance(model, torch.nn.Sequential):
        pairs, unpaired = _pair_sequential(model)
    else:
        pairs, unpaired = _pair_fx(model)
    modules = dict(model.named_modules())
    holders = _parameter_holders(model)
    for name, module in modules.items():
        if not _is_layer(module):
            continue
        why = _why_untouchable(module, holders)
        if why is not None:
            unpaired[name] = why
            pairs.pop(name, None)

    # Plan every change first (std, gain, dtype, generator): a failure raises before any weight
    # is touched, naming the layer.
    plan = []
    for name, module in modules.items():
        if name not in pairs:
            continue
        found = pairs[name]
        entry, params, where = found if found is not None else (None, {}, "")
        try:
            g, std = _plan_layer(module, entry, params, mode, generator)
        except (TypeError, ValueError) as err:
            after = f", followed by {where}" if where else " (the model's output layer)"
            raise type(err)(
                f"init_model_ cannot initialise layer {name!r} ({type(module).__name__}{after}); "
                f"nothing was changed: {err}"
            ) from err
        plan.append((name, module, entry, params, g, std))

    report = InitReport(unpaired=unpaired)
    with torch.no_grad():
        for name, module, entry, params, g, std in plan:
            if distribution == "normal":
                module.weight.normal_(0.0, std, generator=generator)
            else:
                bound = std * math.sqrt(3.0)
                module.weight.uniform_(-bound, bound, generator=generator)
            if module.bias is not None:
                module.bias.zero_()
            shown = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in params.items()}
            report.initialised.append(LayerInit(name, entry.name if entry else None, shown, g, std))
    return report


def _parameter_holders(model: Any) -> dict[int, list[tuple[int, str]]]:
    """id(Parameter) → (id(module), qualified name) for every registration of it in ``model``."""
    holders: dict[int, list[tuple[int, str]]] = {}
    for mod_name, mod in model.named_modules(remove_duplicate=False):
        for p_name, p in mod._parameters.items():
            if p is not None:
                full = f"{mod_name}.{p_name}" if mod_name else p_name
                holders.setdefault(id(p), []).append((id(mod), full))
    return holders


def _why_untouchable(module: Any, holders: dict[int, list[tuple[int, str]]]) -> str | None:
    """Why a layer must be left alone whatever follows it: lazy or shared parameters."""
    import torch

    params = [
        (n, p) for n, p in (("weight", module.weight), ("bias", module.bias)) if p is not None
    ]
    if any(torch.nn.parameter.is_lazy(p) for _, p in params):
        return "lazy: its parameters are uninitialised; run a forward pass first"
    for p_name, p in params:
        others = sorted({full for mod_id, full in holders[id(p)] if mod_id != id(module)})
        if others:
            return (
                f"its {p_name} is a Parameter shared with {', '.join(others)}: one std cannot "
                "serve both uses, so neither is changed"
            )
    return None


def _plan_layer(
    module: Any, entry: Activation | None, params: dict[str, Any], mode: str, generator: Any
) -> tuple[float, float]:
    """(gain, std) for one layer, after every check its initialisation needs."""
    import torch

    weight = module.weight
    std = std_for(tuple(weight.shape), entry, mode, "torch", params, "weight")
    g = gain(entry, mode="forward" if mode == "fan_in" else "backward", **params)
    check_std(std, weight.dtype, entry, params)
    check_generator(generator, weight.device)
    for p in (weight, module.bias):
        if p is not None and p.is_inference() and not torch.is_inference_mode_enabled():
            raise ValueError(
                "its parameters are inference tensors, which cannot be changed in place "
                "outside torch.inference_mode()"
            )
    return g, std
