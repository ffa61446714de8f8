"""Asymmetric initialisations against dying ReLU: RAI (Lu et al. 2019) and relukit's own.

The samplers work on NumPy with a leading batch of independent draws (the born-dead experiment
draws thousands of networks at once); ``rai_`` and ``asymmetric_`` apply them to a PyTorch
Linear or Conv module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Lu, Shin, Su & Karniadakis 2019: entries of [W, b] ~ N(0, RAI_STD²/fan_in), then one entry per
# unit replaced by a Beta(2, 1) sample.
RAI_STD = 0.6007
# The share of the mean input direction that relukit's init keeps on the ones direction when a
# layer widens (fan_out > fan_in): cos²θ = 1/2.
_THETA = math.pi / 4


def _draws(draws: Any) -> tuple[int, ...]:
    return (int(draws),) if np.ndim(draws) == 0 and not isinstance(draws, tuple) else tuple(draws)


def _check_fans(fan_out: int, fan_in: int) -> None:
    for name, value in (("fan_out", fan_out), ("fan_in", fan_in)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def sample_rai(
    rng: np.random.Generator,
    fan_out: int,
    fan_in: int,
    *,
    draws: int | tuple[int, ...] = (),
    bias: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Randomized asymmetric initialisation (RAI), as published (Lu et al. 2019, "Dying ReLU and
    Initialization: Theory and Numerical Examples").

    Every entry of the row ``[W_j, b_j]`` of unit j is drawn from N(0, 0.6007²/fan_in); then one
    entry of the row, chosen uniformly among its ``fan_in + 1`` entries (the bias is a candidate),
    is overwritten with a Beta(2, 1) sample, which is positive. Without a bias the candidates are
    the ``fan_in`` weights.

    Args:
        rng: a ``numpy.random.Generator``.
        fan_out, fan_in: the weight is ``(fan_out, fan_in)`` (PyTorch layout; transpose for Keras).
        draws: leading batch shape of independent draws. Default: ``()``.
        bias: whether the layer has a bias. Default: ``True``.

    Returns:
        ``(weight, bias)`` of shapes ``(*draws, fan_out, fan_in)`` and ``(*draws, fan_out)``
        (``bias`` is ``None`` when ``bias=False``).
    """
    _check_fans(fan_out, fan_in)
    draws = _draws(draws)
    cols = fan_in + (1 if bias else 0)
    v = rng.normal(0.0, RAI_STD / math.sqrt(fan_in), size=(*draws, fan_out, cols))
    k = rng.integers(0, cols, size=(*draws, fan_out, 1))
    np.put_along_axis(v, k, rng.beta(2.0, 1.0, size=(*draws, fan_out, 1)), axis=-1)
    return v[..., :fan_in], (v[..., fan_in] if bias else None)


def _orthonormal_complement(rng, draws, fan_out, fan_in):
    """Z with orthonormal singular vectors, Z·1 = 0 and 1ᵀ·Z = 0, rank min(out, in) − 1, Haar
    distributed on the complements of the ones vectors (polar factor of a projected Gaussian)."""
    k = min(fan_out, fan_in) - 1
    if k == 0:
        return np.zeros((*draws, fan_out, fan_in)), np.zeros((*draws, fan_out, 0))
    g = rng.standard_normal((*draws, fan_out, fan_in))
    g -= g.mean(axis=-1, keepdims=True)
    g -= g.mean(axis=-2, keepdims=True)
    u, _, vt = np.linalg.svd(g, full_matrices=False)
    u, vt = u[..., :, :k], vt[..., :k, :]
    return u @ vt, u


def sample_asymmetric(
    rng: np.random.Generator,
    fan_out: int,
    fan_in: int,
    *,
    draws: int | tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    r"""relukit's asymmetric initialisation: orthogonal, with equal positive column sums.

    With :math:`u_n = \mathbf 1_n/\sqrt n`, the weight is

    .. math::
        W = s\,\bigl((\cos\theta\,u_{out} + \sin\theta\,e)\,u_{in}^\top + Z\bigr),
        \qquad s = \sqrt{\max(1, out/in)},

    where θ = 0 unless the layer widens. In words: W maps the mean input direction
    :math:`u_{in}` onto the mean output direction :math:`u_{out}` (when the layer widens,
    fan_out > fan_in, onto :math:`\cos\theta\,u_{out} + \sin\theta\,e` with θ = π/4 and e a
    random unit vector orthogonal to everything else, so that a 1-input layer still has distinct
    units), and the complement of :math:`u_{in}` isometrically onto a random subspace of the
    complement of :math:`u_{out}` (a Haar-random orthogonal map Z, with Z·1 = 0 and 1ᵀ·Z = 0).
    The scale s keeps the per-unit second moment, as orthogonal inits do. The bias is zero.

    Why it cannot be born dead: every column of W sums to the same positive number
    (:math:`\mathbf 1^\top W = s\cos\theta\sqrt{out/in}\,\mathbf 1^\top`), so for a nonnegative,
    nonzero input h (a ReLU layer's output) the pre-activations sum to a positive number and at
    least one unit is active. Past the first layer a network cannot die at init on any input
    where the first layer is alive. Why it does not collapse: W is an isometry (semi-orthogonal)
    and the positive mean it feeds every unit keeps almost all units active after a few layers,
    so the input-dependent part of the signal passes with its norm preserved (He's zero-mean
    weights halve it at every ReLU and rely on √2 to restore it only on average, so narrow deep
    nets shrink in the median; RAI keeps only ~0.86 of the energy per layer). The price: a deep
    net initialised this way is close to linear at init beyond its first layers (as with
    Balduzzi et al. 2017's looks-linear init); training makes it nonlinear.

    Args:
        rng: a ``numpy.random.Generator``.
        fan_out, fan_in: the weight is ``(fan_out, fan_in)`` (PyTorch layout; transpose for Keras).
        draws: leading batch shape of independent draws. Default: ``()``.

    Returns:
        ``(weight, bias)`` of shapes ``(*draws, fan_out, fan_in)`` and ``(*draws, fan_out)``.
    """
    _check_fans(fan_out, fan_in)
    draws = _draws(draws)
    z, u = _orthonormal_complement(rng, draws, fan_out, fan_in)
    u_out = np.full((fan_out, 1), 1.0 / math.sqrt(fan_out))
    u_in = np.full((1, fan_in), 1.0 / math.sqrt(fan_in))
    w = z + u_out @ u_in
    if fan_out > fan_in:
        # a direction e ⊥ 1 and ⊥ range(Z), for the mean input direction to spread onto
        e = rng.standard_normal((*draws, fan_out, 1))
        e -= e.mean(axis=-2, keepdims=True)
        e -= u @ (np.swapaxes(u, -1, -2) @ e)
        e /= np.linalg.norm(e, axis=-2, keepdims=True)
        w += (math.cos(_THETA) - 1.0) * (u_out @ u_in) + math.sin(_THETA) * (e @ u_in)
    w *= math.sqrt(max(1.0, fan_out / fan_in))
    return w, np.zeros((*draws, fan_out))


# --- PyTorch modules --------------------------------------------------------------------------


def _layer_parts(layer: Any, name: str = "layer"):
    """(weight, bias, groups) of a Linear or (non-transposed) Conv module; errors name ``layer``."""
    import torch

    if isinstance(layer, torch.nn.Linear):
        groups = 1
    elif isinstance(layer, torch.nn.modules.conv._ConvNd) and not layer.transposed:
        groups = layer.groups
    else:
        raise TypeError(
            f"{name} must be a torch.nn.Linear or Conv1d/2d/3d module, got {type(layer).__name__}"
            " (transposed convolutions are not supported)"
        )
    weight, bias = layer.weight, layer.bias
    if any(torch.nn.parameter.is_lazy(p) for p in (weight, bias) if p is not None):
        raise ValueError(
            f"{name} has uninitialised (lazy) parameters; run a forward pass through it first"
        )
    if weight.numel() == 0:
        raise ValueError(f"{name} has a zero-size weight {tuple(weight.shape)}; nothing to draw")
    if any(p.is_inference() for p in (weight, bias) if p is not None) and (
        not torch.is_inference_mode_enabled()
    ):
        raise ValueError(
            f"{name}'s parameters are inference tensors, which cannot be changed in place "
            "outside torch.inference_mode()"
        )
    return weight, bias, groups


def _numpy_rng(generator: Any) -> np.random.Generator:
    """A NumPy generator seeded from torch's (global or given) generator, so torch.manual_seed
    makes ``rai_`` / ``asymmetric_`` reproducible."""
    import torch

    if generator is None:
        seed = torch.randint(0, 2**62, (1,)).item()
    else:
        seed = torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item()
    return np.random.default_rng(int(seed))


def _apply(layer, sampler, generator, name):
    import torch

    weight, bias, groups = _layer_parts(layer, name)
    if generator is not None and not isinstance(generator, torch.Generator):
        kind = type(generator).__name__
        raise TypeError(f"generator must be a torch.Generator or None, got {kind}")
    rng = _numpy_rng(generator)
    out = weight.shape[0] // groups
    fan_in = math.prod(weight.shape[1:])
    w = np.empty((weight.shape[0], fan_in))
    b = np.zeros(weight.shape[0])
    for g in range(groups):
        wg, bg = sampler(rng, out, fan_in, bias is not None)
        w[g * out : (g + 1) * out] = wg
        if bg is not None:
            b[g * out : (g + 1) * out] = bg
    with torch.no_grad():
        weight.copy_(torch.from_numpy(w).reshape(weight.shape))
        if bias is not None:
            bias.copy_(torch.from_numpy(b))
    return layer


def rai_(layer: Any, *, generator: Any = None) -> Any:
    """Initialise a PyTorch Linear or Conv module in place with RAI, exactly as published.

    Lu, Shin, Su & Karniadakis (2019), "Dying ReLU and Initialization: Theory and Numerical
    Examples": for every unit (output row, output channel of a conv), the row ``[W_j, b_j]`` is
    drawn from N(0, 0.6007²/fan_in), then one of its ``fan_in + 1`` entries chosen uniformly
    (the bias included) is replaced by a Beta(2, 1) sample. A conv unit's row is its whole
    ``in_channels/groups × kernel`` filter. See :func:`sample_rai` for the NumPy sampler.

    RAI cuts the probability that a deep narrow ReLU net is born dead, but its rows carry only
    ~0.86 of He's energy 2, so deep nets shrink the signal to a near-constant (see the README's
    born-dead table); :func:`asymmetric_` avoids both.

    Args:
        layer: ``torch.nn.Linear`` or ``torch.nn.Conv1d/2d/3d`` (groups allowed).
        generator: a ``torch.Generator`` (None: torch's global one) that seeds the draw.

    Returns:
        ``layer``.

    Raises:
        TypeError: ``layer`` is not a Linear or (non-transposed) Conv module, or ``generator``
            is not a ``torch.Generator`` (named).
        ValueError: ``layer`` is lazy (uninitialised), zero-size or holds inference tensors.
            Every check runs before ``layer`` is changed.

    Example:
        >>> import torch
        >>> from relukit.init import rai_
        >>> layer = rai_(torch.nn.Linear(4, 3), generator=torch.Generator().manual_seed(0))
        >>> tuple(layer.weight.shape), tuple(layer.bias.shape)
        ((3, 4), (3,))
    """
    return _apply(
        layer, lambda rng, o, i, has_bias: sample_rai(rng, o, i, bias=has_bias), generator, "layer"
    )


def asymmetric_(layer: Any, *, generator: Any = None) -> Any:
    """Initialise a PyTorch Linear or Conv module in place with relukit's asymmetric init.

    Weights: a random semi-orthogonal matrix whose columns all sum to the same positive number
    (it maps the all-ones direction onto the all-ones direction); bias: zero. No layer after the
    first can be dead at init on an input where the previous layer is alive, and the signal keeps
    its size through depth. See :func:`sample_asymmetric` for the construction and the reasons,
    and the README's born-dead table for the measurement against He and RAI.

    Meant for layers followed by a ReLU. A conv unit's row is its whole
    ``in_channels/groups × kernel`` filter; groups are initialised one by one.

    Args:
        layer: ``torch.nn.Linear`` or ``torch.nn.Conv1d/2d/3d``.
        generator: a ``torch.Generator`` (None: torch's global one) that seeds the draw.

    Returns:
        ``layer``.

    Raises:
        TypeError, ValueError: as :func:`rai_`, before ``layer`` is changed.

    Example:
        >>> import torch
        >>> from relukit.init import asymmetric_
        >>> layer = asymmetric_(torch.nn.Linear(6, 6), generator=torch.Generator().manual_seed(0))
        >>> w = layer.weight.double()
        >>> torch.allclose(w.T @ w, torch.eye(6, dtype=w.dtype), atol=1e-6)  # orthogonal
        True
        >>> torch.allclose(w.sum(0), torch.ones(6, dtype=w.dtype), atol=1e-6)  # column sums 1
        True
    """
    return _apply(
        layer, lambda rng, o, i, has_bias: sample_asymmetric(rng, o, i), generator, "layer"
    )
