"""The activation catalog: floor 1, the single source of truth (see DESIGN.md §2).

``CATALOG`` lists the activations in order; ``get(name)`` finds one. Everything else in relukit
(backends, CLI, gains, docs, tests) enumerates this tuple instead of keeping its own list.
"""

from __future__ import annotations

import itertools

from . import (
    _celu,
    _elu,
    _gelu,
    _hardswish,
    _leaky_relu,
    _mish,
    _prelu,
    _relu,
    _relu6,
    _selu,
    _sigmoid,
    _silu,
    _softplus,
    _tanh,
)
from ._spec import FAMILIES, Activation, Example, Namespace, Param, Spelling

CATALOG: tuple[Activation, ...] = (
    _relu.RELU,
    _leaky_relu.LEAKY_RELU,
    _prelu.PRELU,
    _elu.ELU,
    _selu.SELU,
    _celu.CELU,
    _relu6.RELU6,
    _gelu.GELU,
    _silu.SILU,
    _mish.MISH,
    _hardswish.HARDSWISH,
    _softplus.SOFTPLUS,
    _sigmoid.SIGMOID,
    _tanh.TANH,
)

_BY_NAME = {a.name: a for a in CATALOG}


def get(name: str | Activation) -> Activation:
    """The catalog entry called ``name`` (an entry is returned as is).

    Raises:
        KeyError: ``name`` is not in the catalog; the message lists the known names.

    Example:
        >>> import relukit
        >>> relukit.get("elu").defaults
        {'alpha': 1.0}
        >>> [a.name for a in relukit.catalog][:4]
        ['relu', 'leaky_relu', 'prelu', 'elu']
        >>> relukit.get("softplus").family
        'smooth'
    """
    if isinstance(name, Activation):
        return name
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown activation {name!r}; known: {', '.join(_BY_NAME)}") from None


def few_bit_targets() -> dict[str, tuple[Activation, dict[str, str]]]:
    """The derivatives that few-bit backward tables approximate: key -> (entry, parameters).

    One target per configuration of a ``few_bit`` entry's choice parameters, keyed by the entry's
    name plus each non-default choice (the keys of ``relukit/_data/fewbit.json``, written by
    ``scripts/make_fewbit_tables.py``).

    Example:
        >>> from relukit._catalog import few_bit_targets
        >>> for key, (entry, params) in few_bit_targets().items():
        ...     print(key, entry.name, params)
        gelu gelu {'approximate': 'none'}
        gelu_tanh gelu {'approximate': 'tanh'}
        silu silu {}
        mish mish {}
    """
    targets: dict[str, tuple[Activation, dict[str, str]]] = {}
    for a in CATALOG:
        if not a.few_bit:
            continue
        choices = [p for p in a.params if p.kind == "choice"]
        for values in itertools.product(*(p.choices for p in choices)):
            params = {p.name: v for p, v in zip(choices, values, strict=True)}
            key = "_".join(
                [a.name, *(v for p, v in zip(choices, values, strict=True) if v != p.default)]
            )
            targets[key] = (a, params)
    return targets


__all__ = [
    "CATALOG",
    "FAMILIES",
    "Activation",
    "Example",
    "Namespace",
    "Param",
    "Spelling",
    "few_bit_targets",
    "get",
]
