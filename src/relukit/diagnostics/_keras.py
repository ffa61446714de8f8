"""``DeadUnitCallback``: dead and dormant fractions per layer in Keras' ``logs`` at epoch end.

Exported as ``relukit.keras.DeadUnitCallback`` (imported lazily there: ``relukit.keras`` is floor
2 and this is floor 3). Units are found by ``relukit.keras.discover``; this module only records
their inputs and outputs during its own pass over ``data`` and accumulates the statistics in
the backend's tensors (``keras.ops``) until the pass ends.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import keras
import numpy as np

from ..keras._layers import ActivationLayer
from ..keras._models import Unit, discover
from ._report import Report
from ._stats import UnitStats, check_tau

__all__ = ["DeadUnitCallback", "DeadUnitWarning"]


class DeadUnitWarning(RuntimeWarning):
    """A layer's dead fraction exceeded ``DeadUnitCallback``'s ``warn_above``."""


def _dtypes() -> tuple[str, str]:
    """(count dtype, sum dtype): int64/float64, except on jax without x64 (int32/float32)."""
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:  # type: ignore[attr-defined]
            return "int32", "float32"
    return "int64", "float64"


class _Accumulator:
    """One unit's sums, as backend tensors (channels-last: units on the last axis)."""

    def __init__(self) -> None:
        self.n = 0
        self.active: Any = None
        self.abs_sum: Any = None
        self.sum: Any = None

    def add(self, pre: Any, out: Any) -> None:
        ops = keras.ops
        count, real = _dtypes()
        shape = tuple(out.shape)
        dims = tuple(range(len(shape) - 1))
        active = ops.sum(ops.cast(ops.greater(pre, 0), count), axis=dims)
        h = ops.cast(out, real)
        abs_sum = ops.sum(ops.abs(h), axis=dims)
        total = ops.sum(h, axis=dims)
        if self.active is None:
            self.active, self.abs_sum, self.sum = active, abs_sum, total
        else:
            self.active = ops.add(self.active, active)
            self.abs_sum = ops.add(self.abs_sum, abs_sum)
            self.sum = ops.add(self.sum, total)
        self.n += math.prod(shape[:-1])

    def stats(self) -> UnitStats:
        def host(v: Any, dtype: Any) -> np.ndarray:
            # Not keras.ops.convert_to_numpy: on torch it passes copy=False, which NumPy 2
            # warns about (as relukit.keras._models notes).
            return np.asarray(keras.ops.stop_gradient(v)).astype(dtype).reshape(-1)

        return UnitStats(
            self.n,
            host(self.active, np.int64),
            host(self.abs_sum, np.float64),
            host(self.sum, np.float64),
        )


class _Recorder:
    """Wraps each unit so that its pre-activation and output reach an accumulator; undone by
    ``restore``. A layer with an ``activation`` function (``Dense(activation="relu")``,
    ``Conv2D``, ``Activation("gelu")``) gets that function wrapped: the layer's output is the
    activation's, its input the pre-activation. An activation layer (relukit's, Keras'
    ``ReLU``...) gets its ``call`` wrapped, as ``relukit.keras.watch`` does."""

    def __init__(self, units: list[Unit], accumulators: dict[str, _Accumulator]) -> None:
        self.restores: list[Any] = []
        for u in units:
            acc = accumulators.setdefault(u.name, _Accumulator())
            layer = u.layer
            if callable(getattr(layer, "activation", None)) and not isinstance(
                layer, ActivationLayer
            ):
                original = layer.activation

                def recorded(x: Any, *a: Any, _f: Any = original, _acc: Any = acc, **k: Any) -> Any:
                    out = _f(x, *a, **k)
                    _acc.add(x, out)
                    return out

                layer.activation = recorded
                self.restores.append(
                    lambda layer=layer, f=original: setattr(layer, "activation", f)
                )
            else:
                call = layer.call

                def wrapped(x: Any, *a: Any, _call: Any = call, _acc: Any = acc, **k: Any) -> Any:
                    out = _call(x, *a, **k)
                    _acc.add(x, out)
                    return out

                vars(layer)["call"] = wrapped
                self.restores.append(lambda layer=layer: layer.__dict__.pop("call", None))

    def restore(self) -> None:
        for undo in reversed(self.restores):
            undo()
        self.restores = []


def _inputs(batch: Any) -> Any:
    """The model inputs of a batch: ``x`` of ``(x, y)`` / ``(x, y, w)``, else the batch."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class DeadUnitCallback(keras.callbacks.Callback):
    """Records per-layer dead and dormant fractions in Keras' ``logs`` at epoch end.

    Every ``every`` epochs it runs the model (inference mode) over ``data`` and measures each
    activation unit ``relukit.keras.discover`` finds: relukit's layers, Keras' activation layers
    (``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, ``Activation("relu")``) and catalog activations
    inside layers (``Dense(..., activation="relu")``, ``Conv2D``), with anything (batch
    normalisation...) between a layer and its activation. A unit is dead if its pre-activation
    was never > 0 on ``data``, τ-dormant if its ReDo score ``E|h_i| / mean_k E|h_k|`` is ≤ ``tau``
    (units on the last axis: channels-last). ``logs`` gets ``dead_fraction/<layer>`` and
    ``dormant_fraction/<layer>`` (and ``/overall``), so the values appear in ``History`` and in
    Keras' ``TensorBoard`` callback (list this callback before it); :attr:`report` keeps the
    last :class:`~relukit.diagnostics.Report`. A :class:`DeadUnitWarning` is issued for each
    layer whose dead fraction exceeds ``warn_above``.

    Compared with keras-contrib's ``DeadReluDetector`` (ReLU only, the whole training set every
    epoch, an output summed to 0 as "dead", a crash with batch norm between a conv and its ReLU,
    no generators): any catalog activation, any slice of data you choose (arrays, generators,
    ``PyDataset``, ``tf.data``), dead read on the pre-activation, dormancy (ReDo), and values in
    ``logs`` rather than only printed.

    Args:
        data: what to measure on: an array (or a tuple ``(x, y)``) cut into batches of
            ``batch_size``; a ``keras.utils.PyDataset``; a re-iterable of batches (``tf.data``,
            a list, a torch ``DataLoader``); or an iterator/generator, of which ``steps``
            batches are drawn at each measurement.
        every: measure every ``every`` epochs. Default: ``1``.
        tau: the dormancy threshold τ ≥ 0. Default: ``0.1``.
        warn_above: warn when a layer's dead fraction is above this, in [0, 1]. Default: ``0.1``
            (keras-contrib's threshold).
        batch_size: the batch size for array ``data``. Default: ``32``.
        steps: the number of batches per measurement: required for an iterator, optional
            otherwise (at most that many). Default: ``None`` (all).

    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu",
        ...     name="hidden"), keras.layers.Dense(1, name="out")])
        >>> _ = model.get_layer("hidden").bias.assign(np.r_[np.full(2, -100.0), np.zeros(6)])
        >>> model.compile("sgd", "mse")
        >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
        >>> callback = relukit.keras.DeadUnitCallback(x, warn_above=0.5)
        >>> history = model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[callback])
        >>> history.history["dead_fraction/hidden"]
        [0.25]
        >>> callback.report.dead_units("hidden").tolist()
        [0, 1]
    """

    def __init__(
        self,
        data: Any,
        *,
        every: int = 1,
        tau: float = 0.1,
        warn_above: float = 0.1,
        batch_size: int = 32,
        steps: int | None = None,
    ) -> None:
        super().__init__()
        for name, value, low in (("every", every, 1), ("batch_size", batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an int ≥ {low}, got {value!r}")
        if steps is not None and (
            isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1
        ):
            raise ValueError(f"steps must be None or an int ≥ 1, got {steps!r}")
        if isinstance(warn_above, bool) or not isinstance(warn_above, numbers.Real):
            raise TypeError(f"warn_above must be a real number in [0, 1], got {warn_above!r}")
        if not 0.0 <= float(warn_above) <= 1.0:
            raise ValueError(f"warn_above must be a real number in [0, 1], got {warn_above!r}")
        if data is None:
            raise ValueError("data must be arrays, a PyDataset, an iterable or an iterator")
        if isinstance(data, Iterator) and steps is None:
            raise ValueError(
                "data is an iterator (a generator): pass steps=, the number of batches to draw "
                "at each measurement (an iterator cannot be rewound)"
            )
        self.data: Any = data
        self.every: int = int(every)
        self.tau: float = check_tau(tau)
        self.warn_above: float = float(warn_above)
        self.batch_size: int = int(batch_size)
        self.steps: int | None = None if steps is None else int(steps)
        self.report: Report | None = None

    def _batches(self) -> Iterable[Any]:
        data, steps = self.data, self.steps
        if isinstance(data, keras.utils.PyDataset):
            count = len(data) if steps is None else min(steps, len(data))
            return (_inputs(data[i]) for i in range(count))
        if isinstance(data, (np.ndarray, tuple)) or hasattr(data, "__array__"):
            x = np.asarray(_inputs(data))
            starts = range(0, len(x), self.batch_size)
            if steps is not None:
                starts = starts[:steps]
            return (x[i : i + self.batch_size] for i in starts)
        if isinstance(data, Iterable):
            it = iter(data)

            def draw() -> Iterator[Any]:
                for k, batch in enumerate(it):
                    if steps is not None and k >= steps:
                        return
                    yield _inputs(batch)

            return draw()
        raise TypeError(
            "data must be arrays, a PyDataset, an iterable or an iterator, got "
            f"{type(data).__name__}"
        )

    def measure(self) -> Report:
        """Run the model over ``data`` and return the :class:`Report` (also kept as
        :attr:`report`)."""
        units = discover(self.model)
        if not units:
            raise ValueError(
                f"DeadUnitCallback found no activation unit in model {self.model.name!r}"
            )
        accumulators: dict[str, _Accumulator] = {}
        recorder = _Recorder(units, accumulators)
        try:
            for x in self._batches():
                self.model(x, training=False)
        finally:
            recorder.restore()
        stats = {name: acc.stats() for name, acc in accumulators.items() if acc.n}
        if not stats:
            raise ValueError("DeadUnitCallback: data gave no batch to measure on")
        kinds = {u.name: u.activation.name for u in units}
        self.report = Report(stats, {k: kinds[k] for k in stats}, self.tau)
        return self.report

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        report = self.measure()
        for row in report.summary():
            if logs is not None:
                logs[f"dead_fraction/{row.layer}"] = row.dead_fraction
                logs[f"dormant_fraction/{row.layer}"] = row.dormant_fraction
            if row.dead_fraction > self.warn_above:
                warnings.warn(
                    f"epoch {epoch + 1}: layer {row.layer!r} has {row.dead} of {row.units} units "
                    f"dead ({row.dead_fraction:.1%} > warn_above={self.warn_above:g})",
                    DeadUnitWarning,
                    stacklevel=2,
                )
        if logs is not None:
            overall = report.overall()
            logs["dead_fraction/overall"] = overall["dead_fraction"]
            logs["dormant_fraction/overall"] = overall["dormant_fraction"]
