"""ELU: x for x > 0, alpha·(exp(x) − 1) otherwise."""

from __future__ import annotations

from ._spec import Activation, Example, Param, Spelling


def forward(ns, x, alpha=1.0, *, out=None):
    # expm1, never exp(x) - 1: the latter is 19% wrong at x = -1e-7 (TF, MLX). The inner minimum
    # keeps the unused branch finite, so no overflow and no inf·0 in gradients (JAX's habit);
    # at a zero the x ≤ 0 branch gives alpha·(±0), the contract's sign-of-zero rule.
    return ns.select_positive(x, x, alpha * ns.expm1(ns.minimum(x, 0)), out=out)


def derivative(ns, x, alpha=1.0, *, out=None):
    # f'(x) = 1 for x > 0, else alpha·exp(x) (kink rule: f'(0) = alpha); NaN stays NaN
    # because minimum propagates it into the selected branch.
    return ns.select_positive(x, 1.0, alpha * ns.exp(ns.minimum(x, 0)), out=out)


def output_derivative(ns, y, alpha=1.0, *, out=None):
    # For alpha ≥ 0 (output_requires): f' = 1 for y > 0, else alpha·e^x = y + alpha (x ≤ 0 ⇔
    # y ≤ 0), exact next to y = −alpha (Sterbenz); an output rounded below −alpha gets the
    # limit's 0. Exact for the output, not for the input: where alpha·e^x is below y's rounding
    # the input's f' is lost (save="output" only; the exact backward saves the input).
    tail = ns.maximum(ns.add(ns.minimum(y, 0.0), alpha), 0.0)
    return ns.select_positive(y, 1.0, tail, out=out)


def output_requires(alpha=1.0):
    if alpha >= 0:
        return None
    return (
        f"alpha ≥ 0 (a negative alpha maps x ≤ 0 to outputs ≥ 0, so the output does not tell "
        f"the input's sign); got alpha={alpha!r}"
    )


ELU = Activation(
    name="elu",
    title="ELU",
    params=(
        Param(
            "alpha",
            "real",
            1.0,
            "the saturation value −alpha for x → −inf; any finite real, rounded to the "
            "input's dtype",
        ),
    ),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = x \text{ if } x > 0 \text{ else } \alpha\,(e^{x} - 1)",
    derivative_formula=r"f'(x) = 1 \text{ if } x > 0 \text{ else } \alpha e^{x}",
    kink="f'(0) = alpha",
    special_values="f(-inf) = -alpha, f(+inf) = +inf; f'(-inf) = 0",
    references=(
        "Clevert, Unterthiner & Hochreiter, Fast and Accurate Deep Network Learning by "
        "Exponential Linear Units (ELUs), ICLR 2016",
    ),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.functional.elu(input, alpha=1.0)",
            "in-place elu_ refuses a negative alpha; relukit accepts it",
        ),
        Spelling("Keras 3", "keras.ops.elu(x, alpha=1.0) / keras.layers.ELU(alpha=1.0)"),
        Spelling("JAX", "jax.nn.elu(x, alpha=1.0)"),
        Spelling(
            "TensorFlow",
            "tf.nn.elu(features)",
            "no alpha parameter; computes exp(x) - 1 (inexact near 0)",
        ),
    ),
    piecewise_linear=False,
    family="rectifier",
    kinks=(0.0,),
    class_name="ELU",
    inplace=True,
    output_derivative=output_derivative,
    output_requires=output_requires,
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={"alpha": 1.0},
        value=(-0.950213, -0.503415, 0.0, 1.2, 5.0),
        derivative=(0.0497871, 0.496585, 1.0, 1.0, 1.0),
    ),
)
