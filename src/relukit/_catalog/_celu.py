"""CELU: x for x > 0, alpha·(exp(x/alpha) − 1) otherwise (continuously differentiable ELU)."""

from __future__ import annotations

from ._spec import Activation, Example, Param, Spelling

# Below x/alpha = −800, exp(x/alpha) is 0 in float64: clipping x there keeps the
# double-double quotient (Dekker's splitter) finite, so −inf gives its limit, not NaN.
_CLIP = 800.0


def _quotient(ns, x, alpha):
    """q = min(x, 0)/alpha ≤ 0 as (hi, −lo): exp(q) would lose |q| ulp to hi's rounding (≈ 700 ulp
    near q = −700 in float64); the remainder x − hi·alpha is exact (Dekker's product, then
    Sterbenz), so lo = remainder/alpha restores it. The low part comes back negated, so that
    subtracting it keeps f(−0) = −0 (a +0 added to expm1(−0) would give +0)."""
    limit = min(_CLIP * alpha, 1e299)
    xm = ns.clip(x, -limit, 0.0)
    q = xm / alpha
    if not ns.exact:  # float64 arithmetic for a float32 or half result: ~1e-13 relative
        return q, 0.0
    p, e = ns.two_prod(q, alpha)
    return q, (e - (xm - p)) / alpha


def forward(ns, x, alpha=1.0, *, out=None):
    # alpha·expm1(q) with expm1(hi + lo) = expm1(hi) + lo·e^{hi}; expm1, never exp − 1.
    q, neg_lo = _quotient(ns, x, alpha)
    branch = ns.expm1(q)
    if ns.exact:
        # q ≤ 0, so e^{hi} ≤ 1; the correction's zero is made −0 (+ 0.0, then negated), which
        # leaves expm1(±0) = ±0.
        branch = branch - (neg_lo * ns.exp(q) + 0.0)
    return ns.select_positive(x, x, alpha * branch, out=out)


def derivative(ns, x, alpha=1.0, *, out=None):
    # f'(x) = 1 for x > 0, e^{x/alpha} for x ≤ 0 (f'(0) = 1 from both sides); e^{hi + lo}
    # = e^{hi}·(1 + lo). NaN stays NaN through the clip.
    q, neg_lo = _quotient(ns, x, alpha)
    return ns.select_positive(x, 1.0, ns.exp(q) * (1.0 - neg_lo), out=out)


def output_derivative(ns, y, alpha=1.0, *, out=None):
    # f' = 1 for y > 0, else e^{x/alpha} = (y + alpha)/alpha (x ≤ 0 ⇔ y ≤ 0): y + alpha is exact
    # next to y = −alpha (Sterbenz), so only the division rounds; an output rounded below −alpha
    # gets the limit's 0. Exact for the output, not for the input (save="output" only). The
    # inner minimum keeps the unused branch finite (y/alpha overflows for a large y).
    tail = ns.maximum(ns.add(ns.minimum(y, 0.0), alpha), 0.0) / alpha
    return ns.select_positive(y, 1.0, tail, out=out)


CELU = Activation(
    name="celu",
    title="CELU",
    params=(
        Param(
            "alpha",
            "real",
            1.0,
            "the saturation value −alpha for x → −inf; any finite positive real, rounded to the "
            "input's dtype",
            positive=True,
        ),
    ),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = x \text{ if } x > 0 \text{ else } \alpha\,(e^{x/\alpha} - 1)",
    derivative_formula=r"f'(x) = 1 \text{ if } x > 0 \text{ else } e^{x/\alpha}",
    kink="f'(0) = 1 (f' is continuous; f'' jumps)",
    special_values="f(-inf) = -alpha, f(+inf) = +inf; f'(-inf) = 0, f'(+inf) = 1",
    references=(
        "Barron, Continuously Differentiable Exponential Linear Units, arXiv:1704.07483, 2017",
    ),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.functional.celu(input, alpha=1.0, inplace=False) / torch.nn.CELU(alpha=1.0)",
            "PyTorch also evaluates alpha ≤ 0 (alpha = 0 divides by zero; a negative alpha makes "
            "f grow like −e^{x/alpha} to −inf); relukit accepts alpha > 0, the function's domain. "
            "PyTorch's float64 gradient is up to 2.8e-7 relative off for alpha = 0.1 (float32 "
            "coefficients; measured)",
        ),
        Spelling("Keras 3", "keras.ops.celu(x, alpha=1.0) / keras.activations.celu"),
        Spelling("JAX", "jax.nn.celu(x, alpha=1.0)"),
        Spelling("TensorFlow", "none (tf.nn.elu has no alpha)"),
    ),
    piecewise_linear=False,
    family="rectifier",
    kinks=(0.0,),
    class_name="CELU",
    inplace=True,
    output_derivative=output_derivative,
    output_note=(
        "the input (as torch.nn): from the output y, e^{x/alpha} would be y/alpha + 1, which "
        "cancels for x < 0 (all relative precision lost in the left tail)"
    ),
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={"alpha": 1.0},
        value=(-0.950213, -0.503415, 0.0, 1.2, 5.0),
        derivative=(0.0497871, 0.496585, 1.0, 1.0, 1.0),
    ),
)
