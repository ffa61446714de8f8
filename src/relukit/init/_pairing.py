"""``init_model_``: initialise a PyTorch model's Linear/Conv layers by the activation after each."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from .._catalog import CATALOG, Activation
from ._gain import gain
from ._kaiming import FanMode, kaiming_std

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
            catalog, several consumers, or a model ``torch.fx`` cannot trace). They keep their
            weights and biases untouched: nothing is guessed.
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
            owner, _, attr = value.target.rpartition(".")
            value = getattr(modules[owner] if owner else modules[""], attr)
        params[key] = value
    return entry, params


def _is_layer(module: Any) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear) or (
        isinstance(module, torch.nn.modules.conv._ConvNd) and not module.transposed
    )


def _pair_sequential(model: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Pairs by module order inside (nested) Sequential containers."""
    import torch

    flat: list[tuple[str, Any]] = []

    def walk(prefix: str, seq: Any) -> None:
        for name, child in seq.named_children():
            full = f"{prefix}{name}"
            if isinstance(child, torch.nn.Sequential):
                walk(full + ".", child)
            else:
                flat.append((full, child))

    walk("", model)
    pairs: dict[str, Any] = {}
    unpaired: dict[str, str] = {}
    for i, (name, module) in enumerate(flat):
        if not _is_layer(module):
            if any(_is_layer(m) for m in module.modules()):
                for sub, m in module.named_modules():
                    if _is_layer(m):
                        unpaired[f"{name}.{sub}"] = "inside a non-Sequential block"
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
        if found is None:
            unpaired[name] = f"followed by {type(following[1]).__name__} ({following[0]})"
        else:
            pairs[name] = found
    return pairs, unpaired


def _pair_fx(model: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Pairs by following each layer's node in the ``torch.fx`` graph."""
    import torch

    names = [n for n, m in model.named_modules() if _is_layer(m)]
    try:
        graph_module = torch.fx.symbolic_trace(model)
    except Exception as err:  # any tracing failure: report every layer, guess nothing
        why = f"torch.fx could not trace the model: {type(err).__name__}: {err}"
        return {}, dict.fromkeys(names, why)
    modules = dict(graph_module.named_modules())
    pairs: dict[str, Any] = {}
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
        current, found, why = node, None, None
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
                why = None if found else f"followed by {type(module).__name__} ({user.target})"
                break
            if user.op in ("call_function", "call_method"):
                fname = user.target if user.op == "call_method" else user.target.__name__
                if str(fname) in _TRANSPARENT_FUNCTIONS:
                    current = user
                    continue
                found = _activation_of_call(user, modules)
                why = None if found else f"followed by {fname}"
                break
            why = f"followed by a {user.op} node"
            break
        if found is None:
            unpaired[name] = why or "no activation found"
        else:
            pairs[name] = None if found == "linear" else found
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
    guessed, and nothing is warned (read the report).

    Args:
        model: a ``torch.nn.Module``.
        distribution: ``"normal"`` or ``"uniform"``. Default: ``"normal"``.
        mode: ``"fan_in"`` or ``"fan_out"``. Default: ``"fan_in"``.
        generator: a ``torch.Generator``. Default: torch's global one.

    Returns:
        An :class:`InitReport`.

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
    if distribution not in ("normal", "uniform"):
        raise ValueError(f"distribution must be 'normal' or 'uniform', got {distribution!r}")
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if isinstance(model, torch.nn.Sequential):
        pairs, unpaired = _pair_sequential(model)
    else:
        pairs, unpaired = _pair_fx(model)
    report = InitReport(unpaired=unpaired)
    for name, module in model.named_modules():
        if name not in pairs:
            continue
        found = pairs[name]
        entry, params = found if found is not None else (None, {})
        weight = module.weight
        std = kaiming_std(tuple(weight.shape), entry, mode=mode, **params)
        g = gain(entry, mode="forward" if mode == "fan_in" else "backward", **params)
        with torch.no_grad():
            if distribution == "normal":
                weight.normal_(0.0, std, generator=generator)
            else:
                weight.uniform_(-std * math.sqrt(3.0), std * math.sqrt(3.0), generator=generator)
            if module.bias is not None:
                module.bias.zero_()
        shown = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in params.items()}
        report.initialised.append(LayerInit(name, entry.name if entry else None, shown, g, std))
    return report
