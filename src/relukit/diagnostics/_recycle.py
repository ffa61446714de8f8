"""``recycle_``: ReDo-style repair of the dead or dormant units a report selects (PyTorch).

For each selected unit: its incoming weights are re-drawn (He's normal with the activation's
relukit gain, :func:`relukit.init.gain`) and its bias zeroed; a BatchNorm between the layer and
the activation gets that channel reset (weight 1, bias 0, running mean 0, running variance 1:
a large negative shift is a common way to die); its outgoing weights are set to 0, so the
model's output is unchanged at that moment; and the optimizer's state of exactly those entries
is reset. Every change is planned (topology, gains, indices) before anything is written: a
layer it cannot handle raises an error naming it, and then nothing has been modified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from ..init import gain
from ..init._pairing import _is_layer
from ..torch import activation_of
from ._report import Report
from ._stats import check_tau

__all__ = ["RecyclePlan", "recycle_"]

# Between an activation and the layer that consumes it, modules that act on each channel (or
# feature) separately: zeroing a unit's outgoing weights in the consumer still removes it from
# the output. Pooling acts per channel; Flatten maps channel c to a block of features.
_PER_CHANNEL_AFTER = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.Identity,
    nn.Flatten,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
)
# The same as calls (torch.flatten(x, 1) in torchvision's ResNet, F.dropout...). Not the
# functional norms init's pairing skips: layer_norm and group_norm mix units.
_PER_CHANNEL_FUNCTIONS = (
    "flatten",
    "dropout",
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "max_pool2d",
    "adaptive_max_pool2d",
)


class RecycleError(ValueError):
    """A layer ``recycle_`` cannot repair (the message names it); nothing was modified."""


@dataclass(frozen=True)
class RecyclePlan:
    """What ``recycle_`` did to one activation layer.

    Attributes:
        layer: the activation's name in the report.
        units: the recycled unit indices.
        producer: the Linear/Conv whose rows were re-initialised; ``norm``: the BatchNorm between
            it and the activation whose channels were reset, or ``None``.
        consumer: the Linear/Conv whose columns were zeroed.
        std: the std of the re-drawn incoming weights (``gain / √fan_in``).

    Example:
        >>> import torch
        >>> from relukit.diagnostics import UnitMonitor, recycle_
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(),
        ...                             torch.nn.Linear(3, 1))
        >>> with torch.no_grad():
        ...     _ = model[0].bias.fill_(-100.0)
        >>> with UnitMonitor(model) as monitor:
        ...     _ = model(torch.randn(8, 2))
        >>> (plan,) = recycle_(model, monitor.report())
        >>> plan.layer, plan.units, plan.producer, plan.norm, plan.consumer
        ('1', (0, 1, 2), '0', None, '2')
    """

    layer: str
    units: tuple[int, ...]
    producer: str
    norm: str | None
    consumer: str
    std: float


class _Tracer(torch.fx.Tracer):
    """torch.fx's tracer, with every catalog activation module as one node (relukit's modules
    are not torch.nn's, so fx would otherwise trace into them and lose their names)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return activation_of(m) is not None or super().is_leaf_module(m, module_qualified_name)


def _chain(model: nn.Module, name: str) -> tuple[str, str | None, str, list[str]]:
    """(producer, batch norm or None, consumer, what lies between the activation and the
    consumer) of activation module ``name``, by following its node in the torch.fx graph."""
    try:
        gm = torch.fx.GraphModule(model, _Tracer().trace(model))
    except Exception as err:  # any tracing failure: a Sequential by its order, else refuse
        if isinstance(model, nn.Sequential):
            return _chain_sequential(model, name)
        raise RecycleError(
            f"cannot recycle layer {name!r}: torch.fx could not trace the model to find its "
            f"producer and consumer ({type(err).__name__}: {err})"
        ) from None
    modules = dict(gm.named_modules())
    nodes = [n for n in gm.graph.nodes if n.op == "call_module" and n.target == name]
    if len(nodes) != 1:
        raise RecycleError(
            f"cannot recycle layer {name!r}: it is called {len(nodes)} times in the traced "
            "forward; its units have no single producer"
        )
    act = nodes[0]
    if len(act.args) != 1 or not isinstance(act.args[0], torch.fx.Node):
        raise RecycleError(f"cannot recycle layer {name!r}: it is not called on one tensor")

    # Backwards: the Linear/Conv producing the pre-activation, through Dropout/Identity and at
    # most one BatchNorm (LayerNorm/GroupNorm mix units: re-drawing one would change others).
    norm = None
    node = act.args[0]
    while True:
        if len(node.users) != 1:
            raise RecycleError(
                f"cannot recycle layer {name!r}: its input {node.name} has {len(node.users)} "
                "consumers (a residual or shared path); re-initialising it would change them"
            )
        if node.op != "call_module":
            raise RecycleError(
                f"cannot recycle layer {name!r}: its input comes from {node.op} "
                f"{getattr(node.target, '__name__', node.target)}, not a Linear/Conv module"
            )
        module = modules[node.target]
        if _is_layer(module):
            producer = str(node.target)
            break
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and norm is None:
            norm = str(node.target)
        elif not isinstance(module, (nn.Dropout, nn.Identity)):
            raise RecycleError(
                f"cannot recycle layer {name!r}: between it and its producer lies "
                f"{type(module).__name__} ({node.target}), which mixes units or is not a layer"
            )
        upstream = node.args[0] if node.args else None
        if not isinstance(upstream, torch.fx.Node):
            raise RecycleError(
                f"cannot recycle layer {name!r}: {node.target} is not called on a tensor"
            )
        node = upstream

    # Forwards: the Linear/Conv consuming the activation, through per-channel modules.
    between: list[str] = []
    node = act
    while True:
        users = list(node.users)
        if len(users) != 1:
            raise RecycleError(
                f"cannot recycle layer {name!r}: {'its output' if node is act else node.name} "
                f"has {len(users)} consumers; zeroing one consumer's weights would not keep the "
                "model's output unchanged"
            )
        node = users[0]
        if node.op == "call_module":
            module = modules[node.target]
            if _is_layer(module):
                return producer, norm, str(node.target), between
            if isinstance(module, _PER_CHANNEL_AFTER):
                between.append("flatten" if isinstance(module, nn.Flatten) else "keep")
                continue
            what = f"{type(module).__name__} ({node.target})"
        elif node.op in ("call_function", "call_method"):
            fname = str(node.target if node.op == "call_method" else node.target.__name__)
            if fname in _PER_CHANNEL_FUNCTIONS:
                between.append("flatten" if fname == "flatten" else "keep")
                continue
            what = f"{fname}()"
        else:
            what = "the model's output"
        raise RecycleError(
            f"cannot recycle layer {name!r}: its output goes to {what}, not to a Linear/Conv "
            "layer whose weights could be zeroed"
        )


def _chain_sequential(model: nn.Sequential, name: str) -> tuple[str, str | None, str, list[str]]:
    """``_chain`` by module order in a (nested) Sequential, for one fx cannot trace (a module
    with data-dependent control flow somewhere in it): each module's output is the next one's
    input, as the graph would say."""
    flat: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, seq: nn.Module) -> None:
        for key, child in seq._modules.items():
            if child is None:
                continue
            if isinstance(child, nn.Sequential):
                walk(f"{prefix}{key}.", child)
            else:
                flat.append((f"{prefix}{key}", child))

    walk("", model)
    names = [n for n, _ in flat]
    if names.count(name) != 1 or sum(m is flat[names.index(name)][1] for _, m in flat) != 1:
        raise RecycleError(
            f"cannot recycle layer {name!r}: it is not at exactly one position of the Sequential"
        )
    i = names.index(name)
    norm = None
    for before, module in reversed(flat[:i]):
        if _is_layer(module):
            producer = before
            break
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and norm is None:
            norm = before
        elif not isinstance(module, (nn.Dropout, nn.Identity)):
            raise RecycleError(
                f"cannot recycle layer {name!r}: between it and its producer lies "
                f"{type(module).__name__} ({before}), which mixes units or is not a layer"
            )
    else:
        raise RecycleError(f"cannot recycle layer {name!r}: no Linear/Conv before it")
    between: list[str] = []
    for after, module in flat[i + 1 :]:
        if _is_layer(module):
            return producer, norm, after, between
        if not isinstance(module, _PER_CHANNEL_AFTER):
            raise RecycleError(
                f"cannot recycle layer {name!r}: its output goes to {type(module).__name__} "
                f"({after}), not to a Linear/Conv layer whose weights could be zeroed"
            )
        between.append("flatten" if isinstance(module, nn.Flatten) else "keep")
    raise RecycleError(
        f"cannot recycle layer {name!r}: its output goes to the model's output, not to a "
        "Linear/Conv layer whose weights could be zeroed"
    )


def _consumer_columns(
    name: str, consumer: nn.Module, units: int, between: list[str], idx: torch.Tensor
) -> tuple[slice | torch.Tensor, ...]:
    """The index of the consumer's weight entries that read the recycled units."""
    if isinstance(consumer, nn.Linear):
        fan = consumer.in_features
        if fan % units:
            raise RecycleError(
                f"cannot recycle layer {name!r}: its {units} units feed {fan} inputs of the "
                "next Linear, not a whole number per unit"
            )
        per = fan // units
        if per > 1 and "flatten" not in between:
            raise RecycleError(
                f"cannot recycle layer {name!r}: {units} units feed a Linear of {fan} inputs "
                "without a Flatten in between"
            )
        cols = (idx[:, None] * per + torch.arange(per)[None, :]).reshape(-1)
        return (slice(None), cols)
    if consumer.groups != 1:
        raise RecycleError(
            f"cannot recycle layer {name!r}: the next Conv is grouped (groups={consumer.groups});"
            " only groups=1 consumers are handled"
        )
    if consumer.in_channels != units:
        raise RecycleError(
            f"cannot recycle layer {name!r}: {units} units but the next Conv has "
            f"{consumer.in_channels} input channels"
        )
    return (slice(None), idx)


def recycle_(
    model: nn.Module,
    report: Report,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    tau: float | None = None,
    units: Literal["dead", "dormant"] = "dead",
    generator: torch.Generator | None = None,
) -> list[RecyclePlan]:
    """Revive a model's dead (or τ-dormant) units in place, ReDo-style; returns what was done.

    For each layer of ``report`` with selected units, its producer (the Linear/Conv before the
    activation, through Dropout and at most one BatchNorm) and consumer (the Linear/Conv after
    it, through Dropout, BatchNorm, pooling and Flatten) are found by following the activation
    in the ``torch.fx`` graph, or by module order in an ``nn.Sequential`` that fx cannot trace
    (a module with data-dependent control flow in it). Then, for the selected
    units ``i``:

    - incoming weights ``W_in[i]`` ~ N(0, std²) with ``std = gain/√fan_in``, ``gain`` the
      activation's forward gain (:func:`relukit.init.gain`, with its parameters), bias ``b[i] = 0``;
      a BatchNorm in between gets channel ``i`` reset (γ = 1, β = 0, running mean 0 and variance 1);
    - outgoing weights ``W_out[:, i] = 0`` (with a Flatten before a Linear: the block of inputs
      channel ``i`` becomes), so the model's output is unchanged right after: exactly for units
      whose output is 0 (dead ReLU, GELU, SiLU units). A unit with a nonzero output (a dead ELU
      sits at −α, a dead Leaky ReLU at slope·x, a dormant unit is small) would take its
      contribution with it: a Linear consumer's bias absorbs its mean ``W_out[:, i]·E[h_i]``
      (continual backprop's rule; exact for a constant output), a Conv consumer's does not;
    - the optimizer's state of exactly those entries zeroed (Adam/AdamW moments, SGD momentum),
      and for Adam-style optimizers a remedy at each revived entry's first gradient (below).

    **Adam's shared step.** PyTorch's Adam keeps one ``step`` per parameter, so revived entries
    get the bias corrections of a long-trained parameter (≈ 1): with zeroed moments their first
    update is ``lr·(1−β1)g/√((1−β2)g²) ≈ 3.16·lr·sign(g)`` (β = (0.9, 0.999)), several times a
    living unit's step, which can throw the unit straight back into its dead region. Setting
    ``v`` from the living entries does not help either: a new unit's gradient is much larger
    than a converged unit's. The remedy: a one-shot optimizer step pre-hook that, at each revived
    entry's first nonzero gradient ``g``, sets its moments so that ``v̂ = g²`` (its own scale, as
    a fresh Adam) and its update is the median ``|m̂/√v̂|`` step of the living entries of the same
    tensor at that step; then plain Adam. (tests/test_diagnostics_recycle.py checks the first
    update is within 2× of the living units' median, and that zeroed moments are not.)

    Differences: ReDo (Sokar et al. 2023) re-initialises with the layer's original initialiser
    and zeroes the outgoing weights and Adam moments; here the gain is relukit's exact gain for
    the activation, BatchNorm channels are reset too, and Adam's second moment is set as above.
    keras-contrib's ``DeadReluDetector`` only reports.

    Args:
        model: the ``torch.nn.Module`` the report was made on (its layer names).
        report: a :class:`~relukit.diagnostics.Report` (from :class:`UnitMonitor`).
        optimizer: its optimizer, whose state for the changed entries is reset. Default: none.
        tau: the dormancy threshold with ``units="dormant"``. Default: the report's.
        units: ``"dead"`` (never active) or ``"dormant"`` (τ-dormant). Default: ``"dead"``.
        generator: the ``torch.Generator`` for the new weights. Default: torch's global one.

    Returns:
        One :class:`RecyclePlan` per layer that had units to recycle, in report order.

    Raises:
        TypeError: ``model``, ``report``, ``optimizer`` or ``generator`` of the wrong type.
        ValueError: ``units`` not ``"dead"``/``"dormant"``, ``tau`` not in [0, ∞), or a layer it
            cannot handle (named: not in the model, called more than once, a residual input or
            several consumers, no Linear/Conv before or after, a grouped consumer, an activation
            outside the catalog); then nothing has been modified.

    Example:
        >>> import torch
        >>> from relukit.diagnostics import UnitMonitor, recycle_
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
        ...                             torch.nn.Linear(8, 1))
        >>> with torch.no_grad():
        ...     model[0].bias[[2, 5]] = -100.0
        >>> x = torch.randn(64, 4)
        >>> with UnitMonitor(model) as monitor:
        ...     before = model(x)
        >>> recycle_(model, monitor.report())[0].units
        (2, 5)
        >>> torch.equal(model(x), before)
        True
        >>> with UnitMonitor(model) as monitor:
        ...     _ = model(x)
        >>> monitor.report().dead_units("1").tolist()
        []
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(report, Report):
        raise TypeError(f"report must be a relukit.diagnostics.Report, got {type(report).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}"
        )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
    if not isinstance(units, str) or units not in ("dead", "dormant"):
        raise ValueError(f"units must be 'dead' or 'dormant', got {units!r}")
    tau = report.tau if tau is None else check_tau(tau)

    # --- plan: every check before any change -----------------------------------------------
    modules = dict(model.named_modules())
    plans = []
    for layer in report.layers:
        idx = report.dead_units(layer) if units == "dead" else report.dormant_units(layer, tau)
        if not len(idx):
            continue
        name = layer.split("#")[0]
        if "#" in layer or f"{name}#2" in report.stats:
            raise RecycleError(
                f"cannot recycle layer {name!r}: it is called more than once per forward "
                "(its units have several producers)"
            )
        if name not in modules:
            raise RecycleError(f"cannot recycle layer {layer!r}: no module of that name in model")
        found = activation_of(modules[name])
        if found is None:
            raise RecycleError(
                f"cannot recycle layer {name!r} ({type(modules[name]).__name__}): not a catalog "
                "activation, so relukit has no gain to re-initialise its units with"
            )
        entry, params = found
        producer, norm, consumer, between = _chain(model, name)
        p_mod, c_mod = modules[producer], modules[consumer]
        n_units = report.stats[layer].units
        if p_mod.weight.shape[0] != n_units:
            raise RecycleError(
                f"cannot recycle layer {name!r}: {n_units} units but its producer {producer!r} "
                f"has {p_mod.weight.shape[0]} outputs"
            )
        try:
            g = gain(entry, mode="forward", **params)
        except (TypeError, ValueError) as err:
            raise RecycleError(f"cannot recycle layer {name!r}: no gain for it: {err}") from None
        fan_in = p_mod.weight[0].numel()
        std = g / math.sqrt(fan_in)
        rows = torch.as_tensor(idx, dtype=torch.long)
        cols = _consumer_columns(name, c_mod, n_units, between, rows)
        if generator is not None and generator.device != p_mod.weight.device:
            raise ValueError(
                f"generator is on {generator.device} but layer {producer!r} is on "
                f"{p_mod.weight.device}"
            )
        # A dead unit of ReLU outputs 0, one of ELU (or a dormant unit) a near-constant: a
        # Linear consumer's bias absorbs its mean contribution W_out[:, i]·E[h_i] (continual
        # backprop's rule), so removing the unit keeps the output (in the mean; exactly for a
        # constant output). Not through a Flatten or a Conv: E[h_i] is per channel there.
        shift = None
        if isinstance(c_mod, nn.Linear) and c_mod.bias is not None and "flatten" not in between:
            mean = torch.as_tensor(report.stats[layer].mean[idx], dtype=torch.float64)
            if bool(mean.ne(0).any()):
                w_out = c_mod.weight.detach()[:, rows.to(c_mod.weight.device)].double()
                shift = (w_out @ mean.to(w_out.device)).to(c_mod.bias.dtype)
        plans.append((layer, rows, p_mod, producer, norm, c_mod, consumer, cols, std, shift))

    # --- apply --------------------------------------------------------------------------------
    done = []
    touched: list[tuple[torch.Tensor, Any]] = []  # (parameter, index of the changed entries)
    with torch.no_grad():
        for layer, rows, p_mod, producer, norm, _, consumer, _, std, _ in plans:
            dev_rows = rows.to(p_mod.weight.device)
            w = p_mod.weight
            fresh = torch.empty((len(rows), *w.shape[1:]), dtype=w.dtype, device=w.device)
            fresh.normal_(0.0, std, generator=generator)
            w[dev_rows] = fresh
            touched.append((w, (dev_rows,)))
            if p_mod.bias is not None:
                p_mod.bias[dev_rows] = 0.0
                touched.append((p_mod.bias, (dev_rows,)))
            if norm is not None:
                bn = modules[norm]
                if bn.affine:
                    bn.weight[dev_rows] = 1.0
                    bn.bias[dev_rows] = 0.0
                    touched += [(bn.weight, (dev_rows,)), (bn.bias, (dev_rows,))]
                if bn.running_mean is not None:
                    bn.running_mean[dev_rows] = 0.0
                    bn.running_var[dev_rows] = 1.0
            done.append(
                RecyclePlan(layer, tuple(int(i) for i in rows), producer, norm, consumer, std)
            )
        # Outgoing weights last: a consumer that is also the next layer's producer keeps the
        # zeros in its re-drawn rows, so every recycled unit is cut off from the output.
        for *_, c_mod, _, cols, _, shift in plans:
            cw = c_mod.weight
            index = tuple(c.to(cw.device) if isinstance(c, torch.Tensor) else c for c in cols)
            cw[index] = 0.0
            touched.append((cw, index))
            if shift is not None:
                # not into rows re-drawn just now: their bias stays 0 (and their own outgoing
                # weights are zero, so what they receive does not reach the output)
                for _, rows, p_mod, *_ in plans:
                    if p_mod is c_mod:
                        shift[rows.to(shift.device)] = 0.0
                c_mod.bias.add_(shift)
        if optimizer is not None:
            for param, index in touched:
                _reset_state(optimizer, param, index)
    return done


def _reset_state(optimizer: torch.optim.Optimizer, param: torch.Tensor, index: Any) -> None:
    """Zero ``optimizer``'s per-entry state of ``param`` at ``index``; Adam-style moments are
    then set at the entry's first gradient by :class:`_FirstStep`."""
    state = optimizer.state.get(param)
    if not state:
        return
    for value in state.values():
        if isinstance(value, torch.Tensor) and value.shape == param.shape:
            value[index] = 0.0  # moments, momentum buffers; step counts are scalars
    if "exp_avg" in state and "exp_avg_sq" in state:
        mask = torch.zeros_like(param, dtype=torch.bool)
        mask[index] = True
        _FirstStep.of(optimizer).add(param, mask)


class _FirstStep:
    """An optimizer step pre-hook that gives each revived Adam entry, at its first nonzero
    gradient ``g``, the state a living entry would have: ``v`` with ``v̂ = g²`` (its own
    gradient's scale, as a fresh Adam's first step) and ``m`` with
    ``m̂/√v̂ = u·sign(g)``, ``u`` the median of this step's ``|m̂/√v̂|`` over the living entries
    of the same tensor. Its first update is then the living entries' median update; later
    steps are plain Adam. Removes itself once every revived entry has had its first step.

    (Incoming weights get their first gradient a step after the outgoing ones, which start at
    zero: hence per entry, at its first nonzero gradient, rather than at the next step.)
    """

    # The hook of an optimizer is kept on it (one per optimizer, however often recycle_ runs).
    _ATTRIBUTE = "_relukit_first_step"

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.pending: dict[torch.Tensor, torch.Tensor] = {}
        self.handle = optimizer.register_step_pre_hook(self)

    @classmethod
    def of(cls, optimizer: torch.optim.Optimizer) -> _FirstStep:
        hook = getattr(optimizer, cls._ATTRIBUTE, None)
        if hook is None:
            hook = cls(optimizer)
            setattr(optimizer, cls._ATTRIBUTE, hook)
        return hook

    def add(self, param: torch.Tensor, mask: torch.Tensor) -> None:
        old = self.pending.get(param)
        self.pending[param] = mask if old is None else old | mask

    def __call__(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        with torch.no_grad():
            for group in optimizer.param_groups:
                beta1, beta2 = group.get("betas", (0.9, 0.999))
                eps = group.get("eps", 1e-8)
                for p in group["params"]:
                    if p in self.pending and p.grad is not None:
                        self._first_step(p, p.grad, optimizer.state[p], beta1, beta2, eps)
        self.pending = {p: m for p, m in self.pending.items() if bool(m.any())}
        if not self.pending:
            self.handle.remove()
            delattr(optimizer, self._ATTRIBUTE)

    def _first_step(
        self, p: torch.Tensor, g: torch.Tensor, state: dict, beta1: float, beta2: float, eps: float
    ) -> None:
        pending = self.pending[p]
        now = pending & (g != 0)
        if not bool(now.any()):
            return
        t = float(state["step"]) + 1.0  # the step about to be taken
        bc1, bc2 = 1.0 - beta1**t, 1.0 - beta2**t
        m, v = state["exp_avg"], state["exp_avg_sq"]
        living = ~pending
        u = torch.zeros((), dtype=m.dtype, device=m.device)
        if bool(living.any()):
            m_next = beta1 * m[living] + (1 - beta1) * g[living]
            v_next = beta2 * v[living] + (1 - beta2) * g[living] ** 2
            u = ((m_next / bc1).abs() / ((v_next / bc2).sqrt() + eps)).median()
        gn = g[now]
        # Solve Adam's moment updates backwards: after them v = bc2·g² and m = bc1·u·g.
        v[now] = (bc2 - (1 - beta2)) * gn**2 / beta2
        m[now] = (bc1 * u - (1 - beta1)) * gn / beta1
        if "max_exp_avg_sq" in state:
            state["max_exp_avg_sq"][now] = v[now]
        pending &= ~now
