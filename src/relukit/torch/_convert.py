"""``convert(model)``: swap torch.nn's activations for relukit's inside an existing model."""

from __future__ import annotations

from torch import nn

from .._catalog import CATALOG
from ._adapter import ActivationModule
from ._fast import check_save
from ._modules import MODULES


def _replacements() -> dict[type[nn.Module], type[ActivationModule]]:
    """torch.nn class → relukit class, for every catalog activation (enumerated via the catalog)."""
    out: dict[type[nn.Module], type[ActivationModule]] = {}
    for activation in CATALOG:
        ours = MODULES[activation.name]
        if (theirs := ours.torch_class()) is not None:
            out[theirs] = ours
    return out


def convert(model: nn.Module, *, save: str = "auto") -> nn.Module:
    """Replace every ``torch.nn`` activation of the catalog in ``model`` with relukit's.

    Nested modules are searched recursively. Arguments carry over (``inplace``,
    ``negative_slope``, ``alpha``, ``approximate``); a PReLU keeps the very same ``weight``
    Parameter, so optimizers already holding it keep working and ``state_dict`` keys are
    unchanged. Only exact instances are replaced (a user subclass of ``nn.ReLU`` may override
    ``forward`` and is left alone). Hooks registered on a replaced module (forward, pre-forward,
    backward, state-dict) move to its replacement, so their handles still remove them.
    The model is changed in place and returned; if ``model`` itself is one of them, its
    replacement is returned.

    Args:
        model: any ``torch.nn.Module``.
        save: ``"auto"`` (the exact backward), or ``"output"`` to give every replacement that
            offers it (ELU with alpha ≥ 0, SELU, CELU, Softplus, Sigmoid, Tanh: the catalog's
            ``offers_output_save``) ``save="output"``: only the output saved, f' exact for the
            output rather than the input (see the modules' ``save``). The others keep their
            exact backward. Default: ``"auto"``.

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

        Only the output saved for backward where the output determines f' (ELU's alpha ≥ 0):

        >>> relukit.torch.convert(nn.Sequential(nn.SELU(), nn.ELU(-0.5), nn.Tanh()), save="output")
        Sequential(
          (0): SELU(save='output')
          (1): ELU(alpha=-0.5)
          (2): Tanh(save='output')
        )
    """
    check_save(save)
    table = {theirs: _from_torch(ours, save) for theirs, ours in _replacements().items()}
    return _walk(model, table)


def _from_torch(ours: type[ActivationModule], save: str):
    activation = ours.activation
    if save == "auto" or not activation.offers_output_save:
        return ours.from_torch

    def replace(module: nn.Module) -> ActivationModule:
        new = ours.from_torch(module)
        params = {p.name: getattr(new, p.name) for p in activation.params}
        if activation.output_refusal(params) is None:
            new.save = save
        return new

    return replace


def _swap(table, module: nn.Module) -> nn.Module:
    new = table[type(module)](module)
    new.train(module.training)
    _carry_hooks(module, new)
    return new


def _carry_hooks(old: nn.Module, new: nn.Module) -> None:
    """Move every hook dictionary (the same objects: a ``RemovableHandle`` keeps working)."""
    for attr, value in vars(old).items():
        if "hook" in attr and isinstance(value, dict):
            setattr(new, attr, value)


def _walk(model: nn.Module, table: dict) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if type(model) in table:
        return _swap(table, model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) in table:
                setattr(parent, name, _swap(table, child))
    return model


def revert(model: nn.Module) -> nn.Module:
    """Replace every relukit.torch activation module in ``model`` with torch.nn's (the inverse of
    :func:`convert`), for runtimes that only know torch.nn (``torch.jit.script``, some
    quantisers and fusers). Arguments, a PReLU's very Parameter and hooks carry over; the
    model then runs PyTorch's own kernels and conventions (relu'(NaN) = 1, gelu(±inf) = NaN...).

    Example:
        >>> import torch
        >>> import relukit.torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), relukit.torch.LeakyReLU(0.2))
        >>> relukit.torch.revert(model)[1]
        LeakyReLU(negative_slope=0.2)
        >>> type(model[1]).__module__
        'torch.nn.modules.activation'
    """
    table = {
        cls: (lambda m: m.to_torch()) for cls in MODULES.values() if cls.torch_class() is not None
    }
    return _walk(model, table)
