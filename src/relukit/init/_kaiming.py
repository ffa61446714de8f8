"""He/Kaiming initialisers for NumPy arrays and PyTorch tensors, with relukit's exact gains."""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, Literal

import numpy as np

from ._gain import gain

FanMode = Literal["fan_in", "fan_out"]
Layout = Literal["torch", "keras"]


def is_torch_tensor(value: Any) -> bool:
    """True for a ``torch.Tensor``, without importing torch when the caller has not."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _shape(shape: Any, name: str) -> tuple[int, ...]:
    """``shape`` as a tuple of nonnegative ints; errors name ``name``."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(
            f"{name} must be a sequence of nonnegative ints (a weight's shape), "
            f"got {type(shape).__name__}"
        )
    dims = tuple(shape)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{name} must be a sequence of nonnegative ints, got {dims!r}")
        if d < 0:
            raise ValueError(f"{name} must be a sequence of nonnegative ints, got {dims!r}")
    return tuple(int(d) for d in dims)


def fans(shape: tuple[int, ...], layout: Layout = "torch", name: str = "tensor") -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``.

    ``layout="torch"``: ``(out, in, *kernel)`` (PyTorch's Linear and Conv weights);
    ``layout="keras"``: ``(*kernel, in, out)`` (Keras 3 / Flax kernels). The receptive field
    (product of the kernel dims) multiplies both fans, as in ``torch.nn.init``.

    Raises:
        TypeError: ``shape`` is not a sequence of ints (named as ``name``).
        ValueError: fewer than 2 dimensions, zero elements, or an unknown layout (named).
    """
    if not isinstance(layout, str) or layout not in ("torch", "keras"):
        raise ValueError(f"layout must be 'torch' or 'keras', got {layout!r}")
    shape = _shape(shape, name)
    if len(shape) < 2:
        raise ValueError(
            f"{name} must have at least 2 dimensions (a Linear or Conv weight) to have a fan_in "
            f"and a fan_out; got shape {shape}"
        )
    if math.prod(shape) == 0:
        raise ValueError(f"{name} has zero elements (shape {shape}); nothing to initialise")
    receptive = math.prod(shape[2:]) if layout == "torch" else math.prod(shape[:-2])
    if layout == "torch":
        return shape[1] * receptive, shape[0] * receptive
    return shape[-2] * receptive, shape[-1] * receptive


def _out_of_range(activation: Any, params: dict[str, Any]) -> str:
    """Which argument to blame for a std out of range: the parameters given, else activation."""
    if params:
        return " or ".join(params) + " (" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + ")"
    return f"activation ({activation!r})"


def kaiming_std(
    shape: tuple[int, ...],
    activation: Any = "relu",
    *,
    mode: FanMode = "fan_in",
    layout: Layout = "torch",
    **params: Any,
) -> float:
    """The He std ``gain/√fan`` for a weight of ``shape``: forward gain with ``fan_in``, backward
    gain with ``fan_out`` (see :func:`kaiming_normal_`).

    Raises:
        TypeError: ``shape`` is not a sequence of ints; a parameter of the wrong type (named).
        ValueError: ``shape`` with < 2 dimensions or zero elements; unknown ``activation``,
            ``mode`` or ``layout``; a parameter out of range, or one for which the std is not a
            positive float64 (each named).
    """
    return std_for(shape, activation, mode, layout, params, "shape")


def std_for(
    shape: Any, activation: Any, mode: Any, layout: Any, params: dict[str, Any], name: str
) -> float:
    """:func:`kaiming_std`, with ``shape``'s errors naming ``name`` (``"tensor"``...)."""
    if not isinstance(mode, str) or mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(shape, layout, name=name)
    g = gain(activation, mode="forward" if mode == "fan_in" else "backward", **params)
    std = g / math.sqrt(fan_in if mode == "fan_in" else fan_out)
    if not std >= sys.float_info.min:  # a gain of ~1e-308 (slope ~1e308) over a large fan
        raise ValueError(
            f"{_out_of_range(activation, params)} out of range: the std gain/√fan = "
            f"{g!r}/√{fan_in if mode == 'fan_in' else fan_out} underflows the float64 range"
        )
    return std


def check_std(std: float, dtype: Any, activation: Any, params: dict[str, Any]) -> None:
    """Refuse a std below the smallest normal number of ``dtype`` (a NumPy or torch dtype): the
    weights would be subnormal or flush to zero, silently. Names the parameters to blame."""
    tiny = _tiny(dtype)
    if std < tiny:
        raise ValueError(
            f"{_out_of_range(activation, params)} out of range for a {dtype} weight: std "
            f"{std:.3g} is below its smallest normal number {tiny:.3g}, so the weights would "
            "be subnormal or zero"
        )


def _tiny(dtype: Any) -> float:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dtype, torch.dtype):
        return float(torch.finfo(dtype).tiny)
    return float(np.finfo(dtype).tiny)


def _check_target(tensor: Any, layout: Layout) -> None:
    if is_torch_tensor(tensor):
        import torch

        if isinstance(tensor, torch.nn.parameter.UninitializedParameter):
            raise ValueError(
                "tensor is an uninitialised (lazy) parameter with no shape yet; run a forward "
                "pass through its module first"
            )
        if layout != "torch":
            raise ValueError("layout must be 'torch' for a torch.Tensor: (out, in, *kernel)")
        if not tensor.is_floating_point():
            raise TypeError(f"tensor must have a floating dtype, got {tensor.dtype}")
        if tensor.is_inference() and not torch.is_inference_mode_enabled():
            raise ValueError(
                "tensor is an inference tensor, which cannot be changed in place outside "
                "torch.inference_mode()"
            )
        return
    if not isinstance(tensor, np.ndarray):
        raise TypeError(
            f"tensor must be a numpy.ndarray or a torch.Tensor, got {type(tensor).__name__}"
        )
    if tensor.dtype.kind != "f":
        raise TypeError(f"tensor must have a floating dtype, got {tensor.dtype}")
    if not tensor.flags.writeable:
        raise ValueError("tensor must be writeable (the initialisers fill it in place)")


def check_generator(generator: Any, device: Any, name: str = "generator") -> None:
    """``generator`` is None or a ``torch.Generator`` on ``device``'s type; errors name it."""
    if generator is None:
        return
    import torch

    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator or None, got {type(generator).__name__}")
    if generator.device.type != torch.device(device).type:
        raise ValueError(
            f"{name} is on {generator.device.type} but the weights are on {device}; "
            "pass a generator of the same device type"
        )


def _rng(rng: Any) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    return rng


def _check_source(tensor: Any, rng: Any, generator: Any) -> None:
    """The random source fits the target: rng for NumPy arrays, generator for torch tensors."""
    if is_torch_tensor(tensor):
        if rng is not None:
            raise TypeError("rng is for NumPy arrays; pass generator= (a torch.Generator)")
        check_generator(generator, tensor.device)
    else:
        if generator is not None:
            raise TypeError("generator is for torch tensors; pass rng= (a numpy.random.Generator)")
        _rng(rng)


def _fill(tensor, distribution, scale, rng, generator):
    if is_torch_tensor(tensor):
        import torch

        with torch.no_grad():
            if distribution == "normal":
                tensor.normal_(0.0, scale, generator=generator)
            else:
                tensor.uniform_(-scale, scale, generator=generator)
        return tensor
    rng = _rng(rng)
    if distribution == "normal":
        values = rng.normal(0.0, scale, size=tensor.shape)
    else:
        values = rng.uniform(-scale, scale, size=tensor.shape)
    np.copyto(tensor, values, casting="same_kind")
    return tensor


def _init(tensor, distribution, activation, mode, rng, generator, layout, params):
    """Validate everything, then fill: a failing call leaves ``tensor`` unchanged."""
    _check_target(tensor, layout)
    _check_source(tensor, rng, generator)
    std = std_for(tuple(tensor.shape), activation, mode, layout, params, "tensor")
    check_std(std, tensor.dtype, activation, params)
    scale = std if distribution == "normal" else std * math.sqrt(3.0)
    return _fill(tensor, distribution, scale, rng, generator)


def kaiming_normal_(
    tensor: Any,
    activation: Any = "relu",
    *,
    mode: FanMode = "fan_in",
    rng: np.random.Generator | None = None,
    generator: Any = None,
    layout: Layout = "torch",
    **params: Any,
) -> Any:
    r"""Fill ``tensor`` in place with N(0, std²), std = gain/√fan (He et al. 2015).

    ``mode="fan_in"`` uses the forward gain :math:`1/\sqrt{E[f(z)^2]}` (keeps the activations'
    second moment); ``mode="fan_out"`` the backward gain :math:`1/\sqrt{E[f'(z)^2]}` (keeps the
    gradients'). See :func:`relukit.init.gain`.

    Differences from ``torch.nn.init.kaiming_normal_``: the activation is any catalog entry with
    its parameters (PyTorch's ``nonlinearity`` takes only relu/leaky_relu and a few others, its
    default is ``"leaky_relu"`` with ``a=0``, i.e. ReLU, which is the default here too), and
    ``fan_out`` uses the backward gain (PyTorch uses one gain for both; the two agree for the
    piecewise-linear activations). ``mode`` defaults to ``"fan_in"`` as in PyTorch.

    Args:
        tensor: a floating ``numpy.ndarray`` or ``torch.Tensor`` with ≥ 2 dimensions, filled in
            place and returned.
        activation: the activation after this layer: catalog name or entry, or ``None`` for a
            linear layer (gain 1, LeCun's init). Default: ``"relu"``.
        mode: ``"fan_in"`` or ``"fan_out"``. Default: ``"fan_in"``.
        rng: NumPy arrays only: a ``numpy.random.Generator`` (None: a fresh unseeded one).
        generator: torch tensors only: a ``torch.Generator`` (None: torch's global one).
        layout: NumPy arrays only: ``"torch"`` for ``(out, in, *kernel)`` or ``"keras"`` for
            ``(*kernel, in, out)`` (Keras 3 and Flax kernels). Default: ``"torch"``.
        **params: the activation's parameters (``negative_slope``, ``alpha``, ``approximate``,
            PReLU's ``weight``).

    Returns:
        ``tensor``.

    Raises:
        TypeError: ``tensor`` is not a floating array/tensor, or a wrong ``rng``/``generator``.
        ValueError: ``tensor`` has zero elements or < 2 dimensions, is read-only, an
            uninitialised (lazy) parameter or an inference tensor; unknown ``activation``,
            ``mode`` or ``layout``; a parameter out of range, or one whose std is below the
            smallest normal number of the tensor's dtype (the weights would flush to zero);
            a ``generator`` of another device type. Each error names its argument, and every
            check runs before ``tensor`` is touched: a failing call leaves it unchanged.

    Example:
        >>> import numpy as np
        >>> from relukit.init import kaiming_normal_
        >>> w = kaiming_normal_(np.empty((256, 512)), "gelu", rng=np.random.default_rng(0))
        >>> round(float(w.std() * np.sqrt(512)), 1)  # ≈ gain("gelu") = 1.534
        1.5
        >>> k = kaiming_normal_(np.empty((3, 3, 64, 128)), "relu", layout="keras",
        ...                     rng=np.random.default_rng(0))  # a Keras Conv2D kernel
    """
    return _init(tensor, "normal", activation, mode, rng, generator, layout, params)


def kaiming_uniform_(
    tensor: Any,
    activation: Any = "relu",
    *,
    mode: FanMode = "fan_in",
    rng: np.random.Generator | None = None,
    generator: Any = None,
    layout: Layout = "torch",
    **params: Any,
) -> Any:
    r"""Fill ``tensor`` in place with U(−b, b), b = gain·√(3/fan) (std gain/√fan).

    Same arguments and differences from PyTorch as :func:`kaiming_normal_` (PyTorch's
    ``kaiming_uniform_`` also defaults to ``mode="fan_in"`` and ``leaky_relu`` with ``a=0``;
    note that ``nn.Linear``'s own default init calls it with ``a=√5``, which is not He).

    Example:
        >>> import torch
        >>> from relukit.init import kaiming_uniform_
        >>> w = kaiming_uniform_(torch.empty(64, 32), "leaky_relu", negative_slope=0.2)
        >>> bool(w.abs().max() <= 1.386750 * (3 / 32) ** 0.5)
        True
    """
    return _init(tensor, "uniform", activation, mode, rng, generator, layout, params)
