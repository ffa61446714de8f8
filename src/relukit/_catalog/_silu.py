"""SiLU (Swish-1): x·σ(x)."""

from __future__ import annotations

from . import _special
from ._spec import Activation, Example, Spelling

# Below x = −800, x·σ(x) ≈ x·e^x is far below the smallest float64 subnormal (it underflows at
# x ≈ −752); clipping there keeps exp and the scaling finite, so −inf gives −0, never −inf·0.
_CLIP = 800.0


def forward(ns, x, *, out=None):
    # f(x) = x·σ(x), σ kept scaled so that the left tail (x·e^x, subnormal below x ≈ −745) is
    # rounded once; σ(x) = 1/(1 + e^{−x}) never computes 1 − something.
    xc = ns.clip(x, -_CLIP, _CLIP)
    s_m, k, _ = _special.scaled_sigmoid(ns, xc)
    return ns.ldexp(ns.maximum(x, -_CLIP) * s_m, k, out=out)


def derivative(ns, x, *, out=None):
    # f'(x) = σ(x)·(1 + x·(1 − σ(x))): smooth, f'(0) = 1/2; it crosses zero at x ≈ −1.2785,
    # where the sum cancels (errors are measured against |σ| + |x·σ·(1 − σ)| there).
    xc = ns.clip(x, -_CLIP, _CLIP)
    s_m, k, one_minus_s = _special.scaled_sigmoid(ns, xc)
    return ns.ldexp(s_m * (1.0 + xc * one_minus_s), k, out=out)


SILU = Activation(
    name="silu",
    title="SiLU",
    params=(),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = x\,\sigma(x) = \frac{x}{1 + e^{-x}}",
    derivative_formula=r"f'(x) = \sigma(x)\,\bigl(1 + x\,(1 - \sigma(x))\bigr)",
    kink="smooth, f'(0) = 0.5",
    special_values="f(-inf) = 0, f(+inf) = +inf, f'(-inf) = 0, f'(+inf) = 1",
    references=(
        "Hendrycks & Gimpel, Gaussian Error Linear Units (GELUs), arXiv:1606.08415, 2016",
        "Elfwing, Uchibe & Doya, Sigmoid-Weighted Linear Units for Neural Network Function "
        "Approximation in Reinforcement Learning, Neural Networks 2018",
        "Ramachandran, Zoph & Le, Searching for Activation Functions (Swish), 2017",
    ),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.functional.silu(input, inplace=False) / torch.nn.SiLU()",
            "silu(-inf) is NaN (-inf·0) in torch's CPU kernel",
        ),
        Spelling("Keras 3", "keras.ops.silu(x) / keras.activations.silu (alias swish)"),
        Spelling("JAX", "jax.nn.silu(x) (alias jax.nn.swish)"),
        Spelling("TensorFlow", "tf.nn.silu(features, beta=1.0)"),
    ),
    piecewise_linear=False,
    few_bit=True,
    family="smooth",
    class_name="SiLU",
    inplace=True,
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={},
        value=(-0.142278, -0.232269, 0.0, 0.92223, 4.96654),
        derivative=(-0.0881041, 0.176613, 0.5, 0.981998, 1.02655),
    ),
)
