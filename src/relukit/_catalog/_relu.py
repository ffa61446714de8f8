"""ReLU: max(0, x)."""

from __future__ import annotations

from ._spec import Activation, Example, Spelling


def forward(ns, x, *, out=None):
    # maximum keeps integer and bool dtypes and propagates NaN (never fmax, which drops it).
    return ns.maximum(x, 0, out=out)


def derivative(ns, x, *, out=None):
    # f'(x) = 1 for x > 0, else 0 (the kink x = 0 takes the left branch: f'(0) = 0).
    return ns.select_positive(x, 1.0, 0.0, out=out)


RELU = Activation(
    name="relu",
    title="ReLU",
    params=(),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = \max(0, x)",
    derivative_formula=r"f'(x) = 1 \text{ if } x > 0 \text{ else } 0",
    kink="f'(0) = 0",
    special_values="f(-inf) = 0, f(+inf) = +inf; integer and bool inputs keep their dtype",
    references=(
        "Nair & Hinton, Rectified Linear Units Improve Restricted Boltzmann Machines, ICML 2010",
        "Glorot, Bordes & Bengio, Deep Sparse Rectifier Neural Networks, AISTATS 2011",
    ),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.functional.relu(input) / torch.nn.ReLU()",
            "relu'(NaN) is 1 in PyTorch's backward; relukit propagates NaN",
        ),
        Spelling("Keras 3", "keras.ops.relu(x) / keras.layers.ReLU()"),
        Spelling("JAX", "jax.nn.relu(x)"),
        Spelling("TensorFlow", "tf.nn.relu(features)"),
    ),
    piecewise_linear=True,
    family="rectifier",
    kinks=(0.0,),
    keeps_integers=True,
    nonpositive_slope=lambda: 0.0,
    class_name="ReLU",
    inplace=True,
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={},
        value=(0.0, 0.0, 0.0, 1.2, 5.0),
        derivative=(0.0, 0.0, 0.0, 1.0, 1.0),
    ),
)
