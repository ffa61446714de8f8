"""Sigmoid: σ(x) = 1/(1 + e^{−x}), the classical baseline."""

from __future__ import annotations

from . import _special
from ._spec import Activation, Example, Spelling

# σ(−800) = e^{−800} is below the smallest float64 subnormal (e^{−745}); clipping there keeps the
# scaled exponential finite, so ±inf give exactly 0 and 1.
_CLIP = 800.0


def forward(ns, x, *, out=None):
    # σ(x) = 1/(1 + e^{−x}) or e^{x}/(1 + e^{x}), whichever has e^{−|x|} ≤ 1: never 1 − something.
    # The left tail (e^{x}, subnormal below x ≈ −708) is kept scaled and rounded once.
    s_m, k, _ = _special.scaled_sigmoid(ns, ns.clip(x, -_CLIP, _CLIP))
    return ns.ldexp(s_m, k, out=out)


def derivative(ns, x, *, out=None):
    # f'(x) = σ(x)·(1 − σ(x)), both factors from the same e^{−|x|} (no 1 − σ cancellation in
    # the right tail, where 1 − σ(x) = e^{−x}/(1 + e^{−x})).
    s_m, k, one_minus_s = _special.scaled_sigmoid(ns, ns.clip(x, -_CLIP, _CLIP))
    return ns.ldexp(s_m * one_minus_s, k, out=out)


def output_derivative(ns, y, *, out=None):
    # f' = y·(1 − y): 1 − y is exact for y ≥ 1/2 (Sterbenz), so one product rounds. Exact for
    # the output, not for the input: where y rounds to 1 the input's e^{−x} is lost
    # (save="output" only).
    r = y * (1.0 - y)
    if out is None:
        return r
    return ns.add(r, 0.0, out=out)


SIGMOID = Activation(
    name="sigmoid",
    title="Sigmoid",
    params=(),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = \sigma(x) = \frac{1}{1 + e^{-x}}",
    derivative_formula=r"f'(x) = \sigma(x)\,(1 - \sigma(x))",
    kink="smooth, f'(0) = 0.25",
    special_values="f(-inf) = 0, f(+inf) = 1, f'(±inf) = 0",
    references=(
        "Rumelhart, Hinton & Williams, Learning representations by back-propagating errors, "
        "Nature 1986",
    ),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.sigmoid(input) / torch.nn.functional.sigmoid(input) / torch.nn.Sigmoid()",
            "saves the output and computes f' = y·(1 − y), which loses the right tail's relative "
            "precision (f'(x) for x > 17 in float32 is 0 instead of e^{−x})",
        ),
        Spelling("Keras 3", "keras.ops.sigmoid(x) / keras.activations.sigmoid"),
        Spelling("JAX", "jax.nn.sigmoid(x)"),
        Spelling("TensorFlow", "tf.math.sigmoid(x)"),
    ),
    piecewise_linear=False,
    family="classical",
    class_name="Sigmoid",
    inplace=False,
    output_derivative=output_derivative,
    output_note=(
        "the input: f' = y·(1 − y) from the output y loses all relative precision where y "
        "rounds to 1 (the right tail), so the derivative would not meet the contract there"
    ),
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={},
        value=(0.0474259, 0.331812, 0.5, 0.768525, 0.993307),
        derivative=(0.0451767, 0.221713, 0.25, 0.177894, 0.00664806),
    ),
)
