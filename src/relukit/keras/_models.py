"""The model-facing verbs: ``discover(model)`` finds a Keras model's activation units,
``watch(model, callback)`` observes their outputs.

A unit is a layer whose output is a catalog activation's output: relukit's layers; Keras' own
layers whose class name is a catalog entry's ``class_name`` (``keras.layers.ReLU``,
``LeakyReLU``, ``PReLU``, ``ELU``), read with the catalog's parameter names; and any layer with
an ``activation`` function that resolves to a catalog entry by its name (``Dense(..,
activation="relu")``, ``Conv2D``, ``keras.layers.Activation("gelu")``, relukit's functions),
with the function's own defaults (Keras' ``leaky_relu``: 0.2). Nothing here lists activations.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from .._catalog import CATALOG, Activation, get
from . import _facts
from ._functions import function
from ._layers import ActivationLayer

__all__ = ["Unit", "Watch", "activation_of", "discover", "watch"]


@dataclass
class Unit:
    """An activation unit of a model.

    Attributes:
        name: the layer's path inside the model, layer names joined by ``/`` (``"block/act"``).
        layer: the layer.
        activation: the catalog entry.
        params: its parameters (a weight as a NumPy array of its current value).
    """

    name: str
    layer: keras.layers.Layer
    activation: Activation
    params: dict[str, Any]


def _numpy(v: Any) -> np.ndarray:
    # Not keras.ops.convert_to_numpy: on torch it passes copy=False, which NumPy 2 warns about.
    return np.asarray(keras.ops.stop_gradient(v))


def _of_function(fn: Any) -> tuple[Activation, dict[str, Any]] | None:
    """The catalog entry and parameters of an activation function, by its ``__name__``."""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if isinstance(fn, functools.partial):
        fn, args, kwargs = fn.func, fn.args, dict(fn.keywords)
    try:
        activation = get(getattr(fn, "__name__", ""))
    except KeyError:
        return None
    if fn is not function(activation):  # Keras' (or another's): its own defaults count
        try:
            signature = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            signature = {}  # type: ignore[assignment]
        for p in activation.params:
            q = signature.get(p.name)
            if q is not None and q.default is not q.empty:
                kwargs.setdefault(p.name, _facts.from_keras(p.name, q.default))
    try:
        return activation, activation.bind(args, kwargs)
    except (TypeError, ValueError):  # e.g. relu with max_value=6, or a weight it cannot have
        return None


def _of_keras_layer(layer: Any) -> tuple[Activation, dict[str, Any]] | None:
    """Keras' own activation layer of the same class name as a catalog entry."""
    for activation in CATALOG:
        keras_cls = getattr(keras.layers, activation.class_name, None)
        if keras_cls is None or not isinstance(layer, keras_cls):
            continue
        facts = _facts.facts(activation)
        if any(getattr(layer, k, v) != v for k, v in facts.neutral.items()):
            return None
        params: dict[str, Any] = {}
        for p in activation.params:
            key = _facts.weight_name(activation, p.name) if p.kind == "weight" else p.name
            if not hasattr(layer, key):
                return None  # not built yet (a weight), or not Keras' spelling
            value = getattr(layer, key)
            params[p.name] = _numpy(value) if p.kind == "weight" else value
        try:
            values = activation.check_params(
                **{k: _facts.from_keras(k, v) for k, v in params.items()}
            )
        except (TypeError, ValueError):
            return None
        return activation, values
    return None


def activation_of(layer: Any) -> tuple[Activation, dict[str, Any]] | None:
    """``(catalog entry, parameters)`` of a layer that is an activation unit, else ``None``."""
    if isinstance(layer, ActivationLayer):
        if not layer._is_catalog():  # ReLU(max_value=6): Keras' extra arguments, not the entry
            return None
        params = layer._values()
        params.update({k: _numpy(v) for k, v in layer._weights_now().items()})
        return layer.relukit_activation, params
    found = _of_keras_layer(layer)
    if found is not None:
        return found
    fn = getattr(layer, "activation", None)
    return _of_function(fn) if callable(fn) else None


def _walk(layer: Any, prefix: str, seen: set[int]) -> Iterator[tuple[str, Any]]:
    for child in layer._flatten_layers(include_self=False, recursive=False):
        if id(child) in seen:
            continue
        seen.add(id(child))
        name = f"{prefix}{child.name}"
        yield name, child
        yield from _walk(child, f"{name}/", seen)


def discover(model: keras.layers.Layer) -> list[Unit]:
    """The activation units of a Keras model (or layer), depth first in layer order.

    Example:
        >>> import keras, relukit.keras
        >>> model = keras.Sequential([
        ...     keras.Input((3,)),
        ...     keras.layers.Dense(4, activation="gelu", name="hidden"),
        ...     keras.layers.LeakyReLU(negative_slope=0.2, name="act"),
        ...     keras.layers.Dense(1, name="out"),
        ... ])
        >>> [(u.name, u.activation.name, u.params) for u in relukit.keras.discover(model)]
        [('hidden', 'gelu', {'approximate': 'none'}), ('act', 'leaky_relu', {'negative_slope': 0.2})]
    """  # noqa: E501
    units = []
    for name, layer in _walk(model, "", {id(model)}):
        found = activation_of(layer)
        if found is not None:
            units.append(Unit(name, layer, *found))
    return units


class Watch:
    """The wrapped ``call`` of each unit ``watch`` found; ``remove()`` (or leaving the ``with``
    block) restores them.

    Attributes:
        units: the units being watched.
    """

    def __init__(self, units: list[Unit]) -> None:
        self.units = units

    def remove(self) -> None:
        for u in self.units:
            vars(u.layer).pop("call", None)
        self.units = []

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def watch(model: keras.layers.Layer, callback: Callable[[Unit, Any], None]) -> Watch:
    """Call ``callback(unit, output)`` each time a unit ``discover`` finds runs its ``call``.

    Keras layers have no hooks, so each unit's ``call`` is wrapped (an instance attribute,
    removed by ``Watch.remove``); the model, its weights and its saved form are unchanged.
    ``output`` is the backend tensor the layer returned: concrete when the model runs eagerly
    (``model(x)``, or ``compile(run_eagerly=True)``), so ``keras.ops.convert_to_numpy(output)``
    gives the values; inside a compiled ``fit``/``predict`` (jax, tensorflow) the callback runs
    once per trace, with symbolic tensors.

    Example:
        >>> import numpy as np, keras, relukit.keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="d"),
        ...                           relukit.keras.ReLU(name="act")])
        >>> seen = []
        >>> with relukit.keras.watch(model, lambda u, out: seen.append((u.name, out.shape))):
        ...     _ = model(np.zeros((4, 2)))
        >>> [(name, tuple(shape)) for name, shape in seen]
        [('act', (4, 3))]
    """
    units = discover(model)
    for u in units:
        original = u.layer.call

        def call(*args: Any, _call: Any = original, _unit: Unit = u, **kwargs: Any) -> Any:
            out = _call(*args, **kwargs)
            callback(_unit, out)
            return out

        vars(u.layer)["call"] = call
    return Watch(units)
