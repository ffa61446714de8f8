"""Tanh: the classical baseline."""

from __future__ import annotations

from ._spec import Activation, Example, Spelling

# 1 − tanh²(x) = 4e^{−2|x|}/(1 + e^{−2|x|})² is below the smallest float64 subnormal beyond
# |x| ≈ 373; clipping at 400 keeps the scaled exponential finite (±inf give exactly 0).
_CLIP = 400.0


def forward(ns, x, *, out=None):
    # The platform's tanh (within 1 ulp in float64; float32 and half computed in float64).
    y = ns.tanh(x)
    if out is None:
        return y
    return ns.add(y, 0.0, out=out)


def derivative(ns, x, *, out=None):
    # f'(x) = 1 − tanh²(x) = 4e/(1 + e)², e = e^{−2|x|} (exact doubling), without the
    # cancellation of 1 − tanh² in the tails; e kept scaled (m·2^{−k}) so a subnormal f'
    # rounds once.
    m, k = ns.exp_neg(2.0 * ns.minimum(ns.abs(x), _CLIP))
    e = ns.ldexp(m, k)
    one_e = 1.0 + e
    return ns.ldexp((4.0 * m) / (one_e * one_e), k, out=out)


def output_derivative(ns, y, *, out=None):
    # f' = 1 − y² = (1 − y)·(1 + y): each factor is exact where it is small (Sterbenz), so the
    # product rounds once. Exact for the output, not for the input: where y rounds to ±1 the
    # input's 4e^{−2|x|} is lost (save="output" only).
    r = (1.0 - y) * (1.0 + y)
    if out is None:
        return r
    return ns.add(r, 0.0, out=out)


TANH = Activation(
    name="tanh",
    title="Tanh",
    params=(),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
    derivative_formula=r"f'(x) = 1 - \tanh^2(x) = \frac{4e^{-2|x|}}{(1 + e^{-2|x|})^2}",
    kink="smooth, f'(0) = 1",
    special_values="f(-inf) = -1, f(+inf) = 1, f'(±inf) = 0",
    references=(
        "LeCun, Bottou, Orr & Müller, Efficient BackProp, in Neural Networks: Tricks of the "
        "Trade, 1998",
    ),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.tanh(input) / torch.nn.functional.tanh(input) / torch.nn.Tanh()",
            "saves the output and computes f' = 1 − y², which is 0 where y rounds to ±1 "
            "(|x| > 9 in float32) instead of 4e^{−2|x|}",
        ),
        Spelling("Keras 3", "keras.ops.tanh(x) / keras.activations.tanh"),
        Spelling("JAX", "jax.numpy.tanh(x)"),
        Spelling("TensorFlow", "tf.math.tanh(x)"),
    ),
    piecewise_linear=False,
    family="classical",
    class_name="Tanh",
    inplace=False,
    output_derivative=output_derivative,
    output_note=(
        "the input: f' = 1 − y² from the output y cancels where |y| rounds to 1, so the "
        "derivative would not meet the contract in the tails"
    ),
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={},
        value=(-0.995055, -0.604368, 0.0, 0.833655, 0.999909),
        derivative=(0.00986604, 0.634740, 1.0, 0.305020, 0.000181583),
    ),
)
