"""``UnitMonitor``: hooks that accumulate a PyTorch model's per-unit statistics on its device.

The per-batch path (the hooks) launches a few reductions and in-place additions into
accumulators that live on the activation's device, in float64 where the device has it: no
``.item()``, ``.cpu()``, ``.tolist()`` and no Python branch on a tensor value, so a CUDA model
is never synchronised by it. Sizes (``n``, the number of units) are Python ints read from
shapes. The host sees the numbers only in :meth:`UnitMonitor.report`.

Each batch is reduced in its own dtype (float32 for half types) and added to the float64
accumulators: a reduction with ``dtype=torch.float64`` first copies the whole activation to
float64, which made a monitored CPU training step 1.5× slower (benchmarks/
bench_monitor_overhead.py); a float32 batch sum is within ~1e-6 relative of the exact one.
Activity is counted as ``nansum(clamp(sign(x), min=0))``, not ``(x > 0).sum()``: the same
count (NaN and ±0 count as inactive), but torch's boolean reductions are 4–5× slower on CPU.
The count per batch is exact in float32 below 2^24 observations per unit, beyond which the
batch is counted in float64.

Each layer's reductions write (``out=``) into rows preallocated in the batch's dtype, and the
rows are added to the float64 accumulators in one ``add_``: a rectifier's batch costs four
kernels (``Σh``, ``sign``, its ``nansum``, the addition) and no allocation but ``sign``'s. The
previous form (fresh results, then ``_foreach_add_`` of float32 into float64, which falls back
to one cast and one addition per tensor: 15 µs against 3 µs for one ``add_`` of the rows) cost
~0.35 ms per step on bench_monitor_overhead.py's MLP, this one ~0.25 ms. Inside a training
step each kernel runs cold (the matmuls have taken the caches), 2-3x its time in a loop, so
what counts is the number of kernels per batch; the per-unit results are unchanged bit for bit
(tests/test_diagnostics_torch.py pins them).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..torch import activation_of
from ._report import Report
from ._stats import UnitStats, check_tau, reduce_axes, resolve_unit_axis

__all__ = ["UnitMonitor", "elementwise_classes"]


@functools.cache
def elementwise_classes() -> tuple[type[nn.Module], ...]:
    """``torch.nn``'s elementwise activation classes, derived rather than listed.

    The rule: every ``nn.Module`` class defined in ``torch.nn.modules.activation`` that can be
    built without arguments and maps a ``(2, 3, 4)`` input to an output of the same shape whose
    Jacobian is diagonal (each output depends on its own input only). That keeps ReLU6, SiLU,
    Tanh, Sigmoid, Mish, Hardswish, Softplus, SELU, CELU, RReLU... and drops what is not
    elementwise (Softmax, Softmin, LogSoftmax, Softmax2d: a whole axis; GLU: halves an axis;
    MultiheadAttention) — and ``Threshold``, which has no default arguments (name it in
    ``modules=``). A future torch.nn activation is picked up without a change here.
    """
    from torch.nn.modules import activation as acts

    probe = torch.linspace(-3.0, 3.0, 24, dtype=torch.float64).reshape(2, 3, 4)
    found = []
    for value in vars(acts).values():
        if not (isinstance(value, type) and issubclass(value, nn.Module)):
            continue
        if value.__module__ != acts.__name__:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Softmax() warns about its implicit dim
                module = value()
                module.eval()  # RReLU: its deterministic slope
                jac = torch.autograd.functional.jacobian(module, probe)
        except Exception:  # needs arguments, or refuses the probe: not a plain elementwise map
            continue
        if jac.shape != (*probe.shape, *probe.shape):
            continue
        flat = jac.reshape(probe.numel(), probe.numel())
        if bool((flat - torch.diag(torch.diagonal(flat))).eq(0).all()):
            found.append(value)
    return tuple(found)


def _kind(module: nn.Module) -> tuple[str, bool] | None:
    """(kind shown in reports, is an activation) of a watched module, or ``None``."""
    found = activation_of(module)
    if found is not None:
        return found[0].name, True
    if isinstance(module, elementwise_classes()):
        return type(module).__name__, True
    return None


def _is_rectifier(module: nn.Module) -> bool:
    """Whether the module is a catalog entry that is 0 on ``x ≤ 0`` and > 0 on ``x > 0`` (ReLU,
    Leaky ReLU with slope 0...): the catalog says so (piecewise linear with a zero slope on
    ``x ≤ 0``), checked on its NumPy function. For those the output alone gives every statistic
    (``h > 0 ⇔ x > 0`` and ``|h| = h``), so an in-place module needs no pre-hook and a batch
    costs two reductions instead of three plus a count."""
    found = activation_of(module)
    if found is None:
        return False
    entry, params = found
    if entry.nonpositive_slope is None or any(p.kind == "weight" for p in entry.params):
        return False
    try:
        if float(entry.nonpositive_slope(**params)) != 0.0:
            return False
        from .. import function

        x = np.array([-1e30, -1.0, -0.0, 0.0, 1e-30, 1.0, 1e30])
        y = np.asarray(function(entry)(x, **params))
    except (TypeError, ValueError):
        return False
    return bool(np.all(y[:4] == 0) and np.all(y[4:] > 0))


class _Slot:
    """One layer's accumulators, on the device of its activations.

    ``acc`` holds the float64 sums as rows (``active``, ``abs_sum``, ``sum``: views of it) and
    ``batch`` a preallocated buffer of the same rows in the batch's dtype: a batch's reductions
    are written into ``batch`` (``out=``) and added to ``acc`` in one ``add_``, so a batch costs
    no small allocations and one accumulation instead of one per statistic. A rectifier's slot
    (``rectified``) has two rows: its ``Σ|h|`` and ``Σh`` are the same sum, ``sum`` is a view
    of ``abs_sum``.
    """

    def __init__(
        self,
        kind: str,
        axis: int,
        ndim: int,
        units: int,
        ref: torch.Tensor,
        grads: bool,
        rectified: bool = False,
    ):
        # Created outside inference mode so that later updates work in either mode.
        with torch.inference_mode(False):
            dtype = torch.float32 if ref.device.type == "mps" else torch.float64  # MPS: no f64
            self.kind = kind
            self.axis = axis
            self.ndim = ndim
            self.dims = reduce_axes(ndim, axis)
            self.units = units
            self.dtype = dtype
            self.device = ref.device
            self.n = 0
            self.grad_n = 0
            self.rectified = rectified
            # counts as floats: exact to 2^53 in float64 (2^24 on MPS), added to without a cast
            self.acc = torch.zeros(2 if rectified else 3, units, dtype=dtype, device=ref.device)
            self.active = self.acc[0]
            self.abs_sum = self.acc[1]
            self.sum = self.acc[1] if rectified else self.acc[2]
            self.grad_abs_sum = (
                torch.zeros(units, dtype=dtype, device=ref.device) if grads else None
            )
            self.batch: torch.Tensor | None = None  # allocated at the first batch, in its dtype
            self.rows: tuple[torch.Tensor, ...] = ()  # the rows of batch
            self.grad_batch: torch.Tensor | None = None

    def buffer(self, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """The rows of the per-batch buffer in ``dtype`` (reallocated if the dtype changes)."""
        buf = self.batch
        if buf is None or buf.dtype != dtype:
            with torch.inference_mode(False):
                buf = self.batch = torch.zeros_like(self.acc, dtype=dtype)
                self.rows = buf.unbind(0)
        return self.rows

    def grad_buffer(self, dtype: torch.dtype) -> torch.Tensor:
        """The preallocated per-batch gradient row in ``dtype``."""
        buf = self.grad_batch
        if buf is None or buf.dtype != dtype:
            with torch.inference_mode(False):
                buf = self.grad_batch = torch.zeros(self.units, dtype=dtype, device=self.device)
        return buf

    def to_stats(self) -> UnitStats:
        grad = self.grad_abs_sum
        return UnitStats(
            self.n,
            self.active.detach().cpu().double().numpy().astype(np.int64),
            self.abs_sum.detach().cpu().double().numpy(),
            self.sum.detach().cpu().double().numpy(),
            self.grad_n,
            None if grad is None else grad.detach().cpu().double().numpy(),
        )


class UnitMonitor:
    """Watches a PyTorch model's activations and reports its dead and dormant units.

    A context manager: hooks are attached on entry and removed on exit, exceptions included.
    Every forward pass inside the block adds to per-unit statistics (see
    :class:`~relukit.diagnostics.UnitStats`): how often each unit's pre-activation is > 0,
    ``Σ|h|`` and ``Σh`` of its output, and with ``gradients=True`` ``Σ|∂L/∂x|`` from the
    backward pass. :meth:`report` turns them into a :class:`~relukit.diagnostics.Report`: dead
    units (never active), τ-dormant units (ReDo's ``s_i = E|h_i| / mean_k E|h_k| ≤ τ``), sparsity
    and the gradient score ``E|∂L/∂x_i| / mean_k E|∂L/∂x_k|``.

    What is watched (``modules=None``): every activation module of the catalog, relukit's and
    torch.nn's (``relukit.torch.activation_of``), and torch.nn's other elementwise activations
    (:func:`elementwise_classes`: SiLU, Tanh, Sigmoid, Mish, ReLU6, Hardswish...). For such a
    module the pre-activation is its input and the activation its output. ``modules=`` names
    exactly the modules to watch instead (qualified names or the modules themselves); a module
    that is not an activation, such as the Linear before a functional ``F.relu``, is read from
    its output: activity is ``output > 0`` (its output *is* the pre-activation) and the score
    is over ``|output|``.

    In-place activations (``nn.ReLU(inplace=True)``, torchvision's ResNets and MobileNets): a
    forward hook sees the input already overwritten by the output, so for an in-place module
    the activity is counted by a forward *pre*-hook, on the input before it is overwritten, and
    the output statistics by the forward hook: right for every activation (Hardswish, ELU...).
    Rectifiers are the exception the catalog lets us make: for an entry that is 0 on ``x ≤ 0``
    and positive on ``x > 0`` (ReLU; a Leaky ReLU of slope 0), ``h > 0 ⇔ x > 0`` and
    ``|h| = h``, so the output alone gives every statistic and one forward hook does, in place or
    not (and it is cheaper: two reductions per batch). With ``gradients=True`` an in-place module
    keeps the pre-hook, which registers the gradient hook on the input before the in-place call:
    it then receives ``∂L/∂x`` of the pre-activation, as for any other module.

    A module called several times in one forward (torchvision's BasicBlock uses one ReLU twice)
    gets one layer per call: ``name``, ``name#2``...; the count restarts at each forward of
    ``model``.

    Units: the last axis for ``(N, F)`` and ``(N, T, F)``, axis 1 for ``(N, C, …)`` with two or
    more trailing axes; a Conv1d's ``(N, C, L)`` needs ``unit_axis=1``. Accumulators live on the
    activation's device in float64 (float32 on MPS); no host synchronisation in the hooks.

    Compared with ReDo (dopamine, JAX, RL): ReDo scores one batch at a time; the monitor
    accumulates any number of batches, merges ranks (``report(all_reduce=True)``), counts dead
    units separately from dormant ones and optionally records the gradient score. Compared
    with keras-contrib's ``DeadReluDetector``: no extra pass over the data (it watches the
    passes the model makes anyway), every activation rather than ReLU only, and in-place and
    batch-normalised models work.

    Args:
        model: the ``torch.nn.Module`` to watch.
        modules: ``None`` (the activations, above) or the modules to watch: qualified names
            (``"layer1.0.relu"``) or module objects of ``model``. Default: ``None``.
        unit_axis: the axis of units, for every layer (an int), per layer (a mapping of name
            to axis; the others take the default), or ``None`` (the default rule above).
        tau: the dormancy threshold τ ≥ 0 of reports. Default: ``0.1``.
        gradients: also record the gradient score (a tensor hook on each pre-activation that
            requires grad). Default: ``False``.

    Raises:
        TypeError: ``model`` is not a module; ``gradients`` not a bool; ``tau`` not real.
        ValueError: ``tau`` not in [0, ∞); a ``modules`` entry not in ``model``; nothing to
            watch. At a forward: ``unit_axis`` out of range for a layer's activations, or a
            layer whose number of units changes (each named).

    Example:
        >>> import torch
        >>> from relukit.diagnostics import UnitMonitor
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Linear(4, 8), torch.nn.ReLU(inplace=True), torch.nn.Linear(8, 1))
        >>> with torch.no_grad():
        ...     model[0].bias[5:] = -50.0  # units 5, 6, 7 never fire
        >>> with UnitMonitor(model) as monitor:
        ...     for _ in range(3):
        ...         _ = model(torch.randn(32, 4))
        >>> report = monitor.report()
        >>> report.dead_units("1").tolist(), report.summary()[0].seen
        ([5, 6, 7], 96)
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        modules: Iterable[str | nn.Module] | None = None,
        unit_axis: int | Mapping[str, int] | None = None,
        tau: float = 0.1,
        gradients: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(gradients, bool):
            raise TypeError(f"gradients must be True or False, got {gradients!r}")
        self.model = model
        self.tau = check_tau(tau)
        self.gradients = gradients
        self._targets = self._select(model, modules)
        if isinstance(unit_axis, Mapping):
            names = {name for name, _, _, _ in self._targets}
            unknown = [k for k in unit_axis if k not in names]
            if unknown:
                raise ValueError(
                    f"unit_axis names {', '.join(map(repr, unknown))}, which are not watched; "
                    f"the watched modules are: {', '.join(sorted(names))}"
                )
            for k, v in unit_axis.items():
                if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                    raise TypeError(f"unit_axis[{k!r}] must be an int or None, got {v!r}")
        elif unit_axis is not None and (
            isinstance(unit_axis, bool) or not isinstance(unit_axis, int)
        ):
            raise TypeError(f"unit_axis must be an int, a mapping or None, got {unit_axis!r}")
        self._unit_axis = unit_axis
        self._slots: dict[str, _Slot] = {}
        self._calls: dict[str, int] = {}
        self._pending: dict[int, list[_Slot]] = {}
        self._handles: list[Any] = []

    # --- what to watch --------------------------------------------------------------------------

    @staticmethod
    def _select(
        model: nn.Module, modules: Iterable[str | nn.Module] | None
    ) -> list[tuple[str, nn.Module, str, bool]]:
        """(name, module, kind, is an activation) of each module to watch, in model order."""
        named = list(model.named_modules())
        if modules is None:
            out = []
            for name, m in named:
                found = _kind(m)
                if found is not None:
                    out.append((name, m, *found))
            if not out:
                raise ValueError(
                    f"found no activation module in {type(model).__name__} to watch; for "
                    "functional activations (F.relu...) name the layers before them: "
                    "modules=['fc1', ...]"
                )
            return out
        if isinstance(modules, (str, nn.Module)) or not isinstance(modules, Iterable):
            raise TypeError(
                f"modules must be None or an iterable of module names or modules, got {modules!r}"
            )
        by_name = dict(named)
        by_id = {id(m): name for name, m in reversed(named)}
        chosen: dict[str, nn.Module] = {}
        for entry in modules:
            if isinstance(entry, str):
                if entry not in by_name:
                    raise ValueError(
                        f"modules entry {entry!r} is not a module of the model; accepted: the "
                        "qualified names of model.named_modules() (e.g. "
                        f"{', '.join(repr(n) for n, _ in named[1:4])}) or the modules themselves"
                    )
                chosen[entry] = by_name[entry]
            elif isinstance(entry, nn.Module):
                if id(entry) not in by_id:
                    raise ValueError(
                        f"modules entry {type(entry).__name__} is not a module of the model "
                        "(not found in model.named_modules())"
                    )
                chosen[by_id[id(entry)]] = entry
            else:
                raise TypeError(
                    f"modules entries must be module names (str) or torch.nn.Module, got {entry!r}"
                )
        if not chosen:
            raise ValueError("modules is empty: name at least one module to watch")
        order = {name: i for i, (name, _) in enumerate(named)}
        out = []
        for name in sorted(chosen, key=order.__getitem__):
            found = _kind(chosen[name])
            if found is None:
                out.append((name, chosen[name], f"{type(chosen[name]).__name__} output", False))
            else:
                out.append((name, chosen[name], *found))
        return out

    @property
    def layers(self) -> list[str]:
        """The names of the layers seen so far (``name#2`` for a second call per forward)."""
        return list(self._slots)

    @property
    def watched(self) -> list[str]:
        """The qualified names of the modules being watched, in model order."""
        return [name for name, _, _, _ in self._targets]

    # --- hooks ----------------------------------------------------------------------------------

    def __enter__(self) -> UnitMonitor:
        if self._handles:
            raise RuntimeError("this UnitMonitor is already attached; leave its with block first")
        try:
            self._handles.append(self.model.register_forward_pre_hook(self._on_model_forward))
            for name, module, kind, is_activation in self._targets:
                inplace = is_activation and getattr(module, "inplace", False) is True
                # An in-place rectifier's gradient hook must sit on its input before the call
                # (the generic path's pre-hook): only without gradients does it take the fast path.
                if is_activation and _is_rectifier(module) and not (inplace and self.gradients):
                    self._handles.append(
                        module.register_forward_hook(functools.partial(self._rectified, name, kind))
                    )
                    continue
                if inplace:
                    self._handles.append(
                        module.register_forward_pre_hook(
                            functools.partial(self._pre_inplace, name, kind)
                        )
                    )
                self._handles.append(
                    module.register_forward_hook(
                        functools.partial(self._post, name, kind, is_activation, inplace)
                    )
                )
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook (the statistics stay; leaving the ``with`` block does this)."""
        for h in self._handles:
            h.remove()
        self._handles = []
        self._pending.clear()

    def _on_model_forward(self, module: nn.Module, args: Any) -> None:
        self._calls.clear()

    def _slot(self, name: str, kind: str, x: torch.Tensor, rectified: bool = False) -> _Slot:
        """The accumulators of this call of module ``name``; created at its first batch."""
        k = self._calls.get(name, 0)
        self._calls[name] = k + 1
        key = name if k == 0 else f"{name}#{k + 1}"
        slot = self._slots.get(key)
        if slot is None:
            where = f"layer {key!r}"
            if x.dim() == 0:
                raise ValueError(f"{where} produced a 0-d tensor: it has no unit axis")
            axis_arg = self._unit_axis
            if isinstance(axis_arg, Mapping):
                axis_arg = axis_arg.get(name)
            axis = resolve_unit_axis(x.dim(), axis_arg, where)
            slot = _Slot(kind, axis, x.dim(), x.shape[axis], x, self.gradients, rectified)
            self._slots[key] = slot
        elif x.dim() != slot.ndim or x.shape[slot.axis] != slot.units:
            raise ValueError(
                f"layer {key!r} had {slot.units} units on axis {slot.axis} of {slot.ndim}-d "
                f"activations, now shape {tuple(x.shape)}; each layer must keep its number of "
                "units (set unit_axis for it)"
            )
        return slot

    def _count_active(self, slot: _Slot, x: torch.Tensor, dtype: torch.dtype) -> None:
        """Row 0 of ``slot``'s batch buffer (in ``dtype``, the output's): ``#{x > 0}``."""
        xd = x.detach()
        per_unit = xd.numel() // slot.units if slot.units else 0
        on = torch.sign(xd).clamp_(min=0)  # 1 where x > 0; 0 at ±0 and below; NaN at NaN
        row = slot.buffer(dtype)[0]
        if per_unit < _EXACT_BELOW:
            torch.nansum(on, slot.dims, dtype=row.dtype, out=row)
        else:  # beyond float32's exact integers: counted in float64, added directly
            slot.active.add_(torch.nansum(on, slot.dims, dtype=torch.float64))
            row.zero_()
        if self.gradients and x.requires_grad and torch.is_grad_enabled():
            x.register_hook(functools.partial(self._on_grad, slot))

    def _count_output(self, slot: _Slot, h: torch.Tensor) -> None:
        """Rows 1 and 2 (``Σ|h|``, ``Σh``), then the whole batch buffer added to ``acc``."""
        hd = h.detach()
        rows = slot.buffer(_batch_dtype(hd))
        torch.sum(torch.abs(hd), slot.dims, dtype=rows[1].dtype, out=rows[1])
        torch.sum(hd, slot.dims, dtype=rows[2].dtype, out=rows[2])
        slot.acc.add_(slot.batch)  # type: ignore[arg-type]  # one addition for the three rows
        slot.n += hd.numel() // slot.units if slot.units else 0

    def _rectified(self, name: str, kind: str, module: nn.Module, args: Any, out: Any) -> None:
        """A rectifier's batch, from its output alone (see ``_is_rectifier``); in place or not."""
        slot = self._slot(name, kind, out, rectified=True)
        h = out.detach()
        dims = slot.dims
        per_unit = h.numel() // slot.units if slot.units else 0
        active, total = slot.buffer(_batch_dtype(h))
        torch.sum(h, dims, dtype=total.dtype, out=total)  # h ≥ 0: Σ|h| = Σh, one row for both
        # sign(h) is 1 where x > 0, 0 elsewhere, NaN at NaN (nansum: inactive)
        if per_unit < _EXACT_BELOW:
            torch.nansum(torch.sign(h), dims, dtype=active.dtype, out=active)
        else:
            slot.active.add_(torch.nansum(torch.sign(h), dims, dtype=torch.float64))
            active.zero_()
        slot.acc.add_(slot.batch)  # type: ignore[arg-type]
        slot.n += per_unit
        if self.gradients and args and args[0].requires_grad and torch.is_grad_enabled():
            args[0].register_hook(functools.partial(self._on_grad, slot))  # not in place here

    @staticmethod
    def _on_grad(slot: _Slot, grad: torch.Tensor) -> None:
        g = grad.detach()
        buf = slot.grad_buffer(_batch_dtype(g))
        torch.sum(torch.abs(g), slot.dims, dtype=buf.dtype, out=buf)
        slot.grad_abs_sum.add_(buf)  # type: ignore[union-attr]
        slot.grad_n += g.numel() // slot.units if slot.units else 0

    def _pre_inplace(self, name: str, kind: str, module: nn.Module, args: Any) -> None:
        x = args[0]
        slot = self._slot(name, kind, x)
        self._count_active(slot, x, _batch_dtype(x))  # before the module overwrites x
        self._pending.setdefault(id(module), []).append(slot)

    def _post(
        self,
        name: str,
        kind: str,
        is_activation: bool,
        inplace: bool,
        module: nn.Module,
        args: Any,
        out: Any,
    ) -> None:
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"layer {name!r} returned {type(out).__name__}; the monitor reads one tensor "
                "(watch another module with modules=)"
            )
        if inplace:
            slot = self._pending[id(module)].pop()
        else:
            x = args[0] if is_activation and args else out
            slot = self._slot(name, kind, out)
            self._count_active(slot, x, _batch_dtype(out))
        self._count_output(slot, out)

    # --- results --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every statistic (the hooks stay)."""
        self._slots.clear()
        self._calls.clear()

    def stats(self, *, all_reduce: bool = False) -> dict[str, UnitStats]:
        """``{layer: UnitStats}`` copied to the host (merged over all ranks with
        ``all_reduce=True``, see :meth:`report`)."""
        if all_reduce:
            self._all_reduce_check()
            return {key: _reduced(slot) for key, slot in self._slots.items()}
        return {key: slot.to_stats() for key, slot in self._slots.items()}

    def report(self, *, all_reduce: bool = False, tau: float | None = None) -> Report:
        """A :class:`~relukit.diagnostics.Report` of the data seen so far.

        Args:
            all_reduce: merge the statistics of every rank of the default ``torch.distributed``
                process group (a collective: every rank must call it; the ranks must have seen
                the same layers). Every rank gets the report of the union of the data.
                Default: ``False``.
            tau: the dormancy threshold. Default: the monitor's.
        """
        stats = self.stats(all_reduce=all_reduce)
        kinds = {key: self._slots[key].kind for key in stats}
        return Report(stats, kinds, self.tau if tau is None else check_tau(tau))

    def _all_reduce_check(self) -> None:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "report(all_reduce=True) needs an initialised torch.distributed process group "
                "(torch.distributed.init_process_group); use all_reduce=False in one process"
            )
        mine = [
            (key, slot.units, slot.grad_abs_sum is not None) for key, slot in self._slots.items()
        ]
        everyone: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(everyone, mine)
        for rank, theirs in enumerate(everyone):
            if theirs != mine:
                raise RuntimeError(
                    f"report(all_reduce=True): rank {rank} saw layers {theirs}, this rank "
                    f"{mine}; every rank must run the same model on batches of the same kind"
                )


_EXACT_BELOW = 2**24  # observations per unit and batch below which float32 counts exactly
_HALF = (torch.float16, torch.bfloat16)


def _batch_dtype(t: torch.Tensor) -> torch.dtype:
    """The dtype a batch is reduced in: its own, float32 for half types (see the module doc)."""
    return torch.float32 if t.dtype in _HALF else t.dtype


def _reduced(slot: _Slot) -> UnitStats:
    """``slot``'s statistics summed over all ranks (one collective: counts are exact floats)."""
    import torch.distributed as dist

    sizes = torch.tensor([slot.n, slot.grad_n], dtype=slot.dtype, device=slot.active.device)
    parts = [sizes, slot.active, slot.abs_sum, slot.sum]
    if slot.grad_abs_sum is not None:
        parts.append(slot.grad_abs_sum)
    packed = torch.cat(parts)
    dist.all_reduce(packed)
    host = packed.cpu().double().numpy()
    u = slot.units
    return UnitStats(
        int(host[0]),
        host[2 : 2 + u].astype(np.int64),
        host[2 + u : 2 + 2 * u],
        host[2 + 2 * u : 2 + 3 * u],
        int(host[1]),
        host[2 + 3 * u :] if slot.grad_abs_sum is not None else None,
    )
