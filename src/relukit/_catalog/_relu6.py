"""ReLU6: min(max(0, x), 6)."""

from __future__ import annotations

from ._spec import Activation, Example, Spelling


def forward(ns, x, *, out=None):
    # Exact in any dtype; NaN stays NaN, relu6(−0) = −0 (the flat branch's 0·x, as ATen's
    # hardtanh gives: the namespaces' maximum keeps x on a tie, where jax's clip gives +0).
    return ns.minimum(ns.maximum(x, 0.0), 6.0, out=out)


def derivative(ns, x, *, out=None):
    # f'(x) = 1 on the open interval 0 < x < 6, else 0: at both kinks the flat branch
    # (PyTorch's hardtanh_backward, JAX's and TensorFlow's relu6 gradients).
    return ns.select_positive(x, ns.select(x < 6.0, 1.0, 0.0), 0.0, out=out)


def output_derivative(ns, y, *, out=None):
    # 0 < y < 6 exactly where 0 < x < 6 (the kink rule above is the open interval): the output
    # determines f' in every dtype, NaN included.
    return derivative(ns, y, out=out)


RELU6 = Activation(
    name="relu6",
    title="ReLU6",
    params=(),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = \min(\max(0, x), 6)",
    derivative_formula=r"f'(x) = 1 \text{ if } 0 < x < 6 \text{ else } 0",
    kink="f'(0) = 0 and f'(6) = 0",
    kink_rule=(
        "the derivative takes the flat branch at both kinks, 1 only on the open interval "
        "0 < x < 6, as PyTorch's, JAX's and TensorFlow's reverse modes do; so f' is a function "
        "of the output"
    ),
    special_values="f(-inf) = 0, f(+inf) = 6; f'(±inf) = 0",
    references=(
        "Krizhevsky, Convolutional Deep Belief Networks on CIFAR-10, 2010",
        "Howard et al., MobileNets, arXiv:1704.04861, 2017",
    ),
    spellings=(
        Spelling("PyTorch", "torch.nn.functional.relu6(input, inplace=False) / torch.nn.ReLU6()"),
        Spelling("Keras 3", "keras.ops.relu6(x) / keras.layers.ReLU(max_value=6.0)"),
        Spelling("JAX", "jax.nn.relu6(x)"),
        Spelling("TensorFlow", "tf.nn.relu6(features)"),
    ),
    piecewise_linear=True,
    family="rectifier",
    kinks=(0.0, 6.0),
    class_name="ReLU6",
    inplace=True,
    output_derivative=output_derivative,
    output_dtypes=("float64", "float32", "float16", "bfloat16"),
    output_note=(
        "the output, in every dtype (f' = 1 exactly where 0 < y < 6), so ``Linear → ReLU6 → "
        "Linear`` stores the hidden tensor once where torch.nn stores it twice"
    ),
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 7.0),
        params={},
        value=(0.0, 0.0, 0.0, 1.2, 6.0),
        derivative=(0.0, 0.0, 0.0, 1.0, 0.0),
    ),
)
