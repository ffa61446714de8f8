"""Leaky ReLU: x for x > 0, slope·x otherwise, for any real slope."""

from __future__ import annotations

from ._spec import Activation, Example, Param, Spelling


def forward(ns, x, negative_slope=0.01, *, out=None):
    # x for x > 0, slope·x for x ≤ 0, selected (exact for every real slope, unlike
    # maximum(x, slope·x), which is wrong for slope > 1: MLX, Keras' numpy backend). At a zero
    # the x ≤ 0 branch gives slope·(±0): the contract's sign-of-zero rule, f(±0) = f'(0)·(±0).
    if negative_slope == 0:  # the limit at -inf is 0, but 0·(-inf) would be NaN
        return ns.maximum(x, 0, out=out)
    return ns.select_positive(x, x, negative_slope * x, out=out)


def derivative(ns, x, negative_slope=0.01, *, out=None):
    # f'(x) = 1 for x > 0, else slope (kink rule: f'(0) = slope).
    return ns.select_positive(x, 1.0, negative_slope, out=out)


LEAKY_RELU = Activation(
    name="leaky_relu",
    title="Leaky ReLU",
    params=(
        Param(
            "negative_slope",
            "real",
            0.01,
            "slope for x ≤ 0; any finite real (also > 1 or < 0), rounded to the input's dtype",
        ),
    ),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = x \text{ if } x > 0 \text{ else } a x",
    derivative_formula=r"f'(x) = 1 \text{ if } x > 0 \text{ else } a",
    kink="f'(0) = negative_slope",
    special_values="f(-inf) = -inf·negative_slope (0 for a zero slope), f(+inf) = +inf",
    references=(
        "Maas, Hannun & Ng, Rectifier Nonlinearities Improve Neural Network Acoustic Models, "
        "ICML 2013",
    ),
    spellings=(
        Spelling("PyTorch", "torch.nn.functional.leaky_relu(input, negative_slope=0.01)"),
        Spelling(
            "Keras 3",
            "keras.layers.LeakyReLU(negative_slope=0.3); "
            "keras.ops.leaky_relu(x, negative_slope=0.2)",
            "default slope 0.3 (layer) / 0.2 (ops); the layer refuses negative slopes; "
            "f'(0) = 1 on the jax backend",
        ),
        Spelling("JAX", "jax.nn.leaky_relu(x, negative_slope=0.01)", "f'(0) = 1"),
        Spelling("TensorFlow", "tf.nn.leaky_relu(features, alpha=0.2)", "default slope 0.2"),
    ),
    piecewise_linear=True,
    family="rectifier",
    kinks=(0.0,),
    nonpositive_slope=lambda negative_slope=0.01: negative_slope,
    class_name="LeakyReLU",
    inplace=True,
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={"negative_slope": 0.1},
        value=(-0.3, -0.07, 0.0, 1.2, 5.0),
        derivative=(0.1, 0.1, 0.1, 1.0, 1.0),
    ),
)
