"""Hardswish: x·min(max(x + 3, 0), 6)/6."""

from __future__ import annotations

from ._spec import Activation, Example, Spelling


def forward(ns, x, *, out=None):
    # 0 for x ≤ −3, x(x + 3)/6 on [−3, 3], x for x > 3. On the clipped middle piece x + 3 is
    # exact next to the zero at −3 (Sterbenz) and f rounds at most three times; x > 3 takes x
    # itself (ATen's x·6/6 may round in float64), and ±inf never meet a 0·inf.
    xm = ns.clip(x, -3.0, 3.0)
    return ns.select_positive(x - 3.0, x, xm * (xm + 3.0) / 6.0, out=out)


def derivative(ns, x, *, out=None):
    # f'(x) = 0 for x ≤ −3, (2x + 3)/6 on (−3, 3), 1 for x ≥ 3: at both kinks the outer branch
    # (PyTorch's hardswish_backward, JAX, TensorFlow). 2x + 3 is exact next to f''s zero at
    # x = −1.5, so the sign and relative precision survive there (ATen's x/3 + 0.5 cancels).
    mid = (2.0 * ns.clip(x, -3.0, 3.0) + 3.0) / 6.0
    upper = ns.select(x >= 3.0, 1.0, mid)  # NaN compares false and stays NaN through mid
    return ns.select(x <= -3.0, 0.0, upper, out=out)


HARDSWISH = Activation(
    name="hardswish",
    title="Hardswish",
    params=(),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = x\,\frac{\min(\max(x + 3, 0), 6)}{6}",
    derivative_formula=(
        r"f'(x) = 0 \text{ if } x \le -3,\ \frac{2x + 3}{6} \text{ if } -3 < x < 3,\ "
        r"1 \text{ if } x \ge 3"
    ),
    kink="f'(−3) = 0 and f'(3) = 1",
    kink_rule=(
        "the derivative takes the outer branch at both kinks, as PyTorch's, JAX's and "
        "TensorFlow's reverse modes do"
    ),
    special_values="f(-inf) = 0, f(+inf) = +inf; f'(-inf) = 0, f'(+inf) = 1",
    references=("Howard et al., Searching for MobileNetV3, ICCV 2019",),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.functional.hardswish(input, inplace=False) / torch.nn.Hardswish()",
            "hardswish(-inf) is NaN (-inf·0); its gradient x/3 + 0.5 loses relative precision "
            "next to its zero at x = -1.5",
        ),
        Spelling(
            "Keras 3",
            "keras.ops.hard_swish(x) (alias hard_silu) / keras.activations.hard_silu",
            "hard_swish(-inf) is NaN on jax",
        ),
        Spelling("JAX", "jax.nn.hard_swish(x) (alias hard_silu)", "hard_swish(-inf) is NaN"),
        Spelling("TensorFlow", "none (x * tf.nn.relu6(x + 3) / 6)"),
    ),
    piecewise_linear=False,
    family="smooth",
    kinks=(-3.0, 3.0),
    class_name="Hardswish",
    inplace=True,
    output_note=(
        "the input (as torch.nn): on [−3, 3] f is not monotone (minimum at x = −1.5), so the "
        "output does not determine the derivative"
    ),
    example=Example(
        x=(-4.0, -1.5, 0.0, 1.2, 5.0),
        params={},
        value=(0.0, -0.375, 0.0, 0.84, 5.0),
        derivative=(0.0, 0.0, 0.5, 0.9, 1.0),
    ),
)
