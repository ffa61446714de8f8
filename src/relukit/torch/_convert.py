"""``convert(model)``: swap torch.nn's activations for relukit's inside an existing model."""

from __future__ import annotations

from torch import nn

from .._catalog import CATALOG
from ._modules import MODULES


def _replacements() -> dict[type[nn.Module], type]:
    """torch.nn class → relukit class, for every catalog activation (enumerated via the catalog)."""
    out = {}
    for activation in CATALOG:
        ours = MODULES[activation.name]
        if (theirs := ours.torch_class()) is not None:
            out[theirs] = ours
    return out


def convert(model: nn.Module) -> nn.Module:
    """Replace every ``torch.nn`` activation of the catalog in ``model`` with relukit's.

    Nested modules are searched recursively. Arguments carry over (``inplace``,
    ``negative_slope``, ``alpha``, ``approximate``); a PReLU keeps the very same ``weight``
    Parameter, so optimizers already holding it keep working and ``state_dict`` keys are
    unchanged. Only exact instances are replaced (a user subclass of ``nn.ReLU`` may override
    ``forward`` and is left alone), and hooks registered on a replaced module are not carried over.
    The model is changed in place and returned; if ``model`` itself is one of them, its
    replacement is returned.

    Args:
        model: any ``torch.nn.Module``.

    Returns:
        The model, with relukit's activations.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> import relukit.torch
        >>> model = nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(0.2), nn.Sequential(nn.GELU()))
        >>> relukit.torch.convert(model)
        Sequential(
          (0): Linear(in_features=4, out_features=4, bias=True)
          (1): LeakyReLU(negative_slope=0.2)
          (2): Sequential(
            (0): GELU(approximate='none')
          )
        )
        >>> type(model[1]).__module__
        'relukit.torch'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert(): model must be a torch.nn.Module, got {type(model).__name__}")
    table = _replacements()
    if type(model) in table:
        return _swap(table, model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in table:
                setattr(parent, name, _swap(table, child))
    return model


def _swap(table, module: nn.Module) -> nn.Module:
    new = table[type(module)].from_torch(module)
    new.train(module.training)
    return new
