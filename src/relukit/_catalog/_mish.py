"""Mish: x·tanh(softplus(x))."""

from __future__ import annotations

from ._spec import Activation, Example, Spelling

# Below x = −800, x·tanh(softplus(x)) ≈ x·e^x is far below the smallest float64 subnormal;
# clipping keeps exp finite and −inf gives −0 (never −inf·0).
_CLIP = 800.0


def _gate(ns, x):
    """``(x > 0, E, t_m, k)``: E = e^{−|x|} (unscaled) and t = tanh(softplus(x)) = t_m·2^{−k}.

    With w = e^x, tanh(log(1 + w)) = w(w + 2)/(w(w + 2) + 2) exactly (no tanh, no log): for
    x ≤ 0, w = E and t carries E's scale 2^{−k} (the left tail, t ≈ E, rounds once); for x > 0,
    dividing by w² gives t = (1 + 2E)/(1 + 2E + 2E²), which never computes 1 − something.
    """
    positive = x > 0
    m, k = ns.exp_neg(ns.minimum(ns.abs(x), _CLIP))
    e = ns.ldexp(m, k)
    n = e * (e + 2.0)  # x ≤ 0: w(w + 2)
    d_neg = n + 2.0
    d_pos = 1.0 + 2.0 * e + 2.0 * (e * e)  # x > 0: (w² + 2w + 2)/w²
    t_m = ns.select(positive, (1.0 + 2.0 * e) / d_pos, m * (e + 2.0) / d_neg)
    k_t = k if isinstance(k, int) else ns.select(positive, 0.0, k)
    return positive, e, m, t_m, k_t, d_neg, d_pos


def forward(ns, x, *, out=None):
    # f(x) = x·t, t = tanh(softplus(x)) from e^{−|x|} alone (see _gate); −inf gives −0·0.
    _, _, _, t_m, k, _, _ = _gate(ns, x)
    return ns.ldexp(ns.maximum(x, -_CLIP) * t_m, k, out=out)


def derivative(ns, x, *, out=None):
    # f'(x) = t + x·σ(x)·sech²(softplus(x)), and with w = e^x:
    # x·σ·sech² = 4x·w(1 + w)/(w(w + 2) + 2)² = 4x·E²(1 + E)/(1 + 2E + 2E²)² for x > 0.
    # It crosses zero at x ≈ −1.1924, where the two terms cancel (errors are measured against
    # |t| + |x·σ·sech²| there, as for GELU and SiLU).
    positive, e, m, t_m, k, d_neg, d_pos = _gate(ns, x)
    xc = ns.clip(x, -_CLIP, _CLIP)
    second_neg = 4.0 * xc * (m * (1.0 + e)) / (d_neg * d_neg)
    second_pos = 4.0 * xc * ((e * e) * (1.0 + e)) / (d_pos * d_pos)
    return ns.ldexp(t_m + ns.select(positive, second_pos, second_neg), k, out=out)


MISH = Activation(
    name="mish",
    title="Mish",
    params=(),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = x\,\tanh(\operatorname{softplus}(x)) = x\,\tanh(\log(1 + e^{x}))",
    derivative_formula=(
        r"f'(x) = \tanh(\operatorname{softplus}(x)) + x\,\sigma(x)\,"
        r"\operatorname{sech}^2(\operatorname{softplus}(x))"
    ),
    kink="smooth, f'(0) = tanh(log 2) = 0.6",
    special_values="f(-inf) = 0, f(+inf) = +inf, f'(-inf) = 0, f'(+inf) = 1",
    references=(
        "Misra, Mish: A Self Regularized Non-Monotonic Activation Function, BMVC 2020 "
        "(arXiv:1908.08681)",
    ),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.functional.mish(input, inplace=False) / torch.nn.Mish()",
            "mish(-inf) is NaN and the gradient is NaN at ±inf",
        ),
        Spelling("Keras 3", "keras.activations.mish(x)", "no keras.ops or layer spelling"),
        Spelling("JAX", "none (x * jnp.tanh(jax.nn.softplus(x)))"),
        Spelling("TensorFlow", "none (x * tf.math.tanh(tf.math.softplus(x)))"),
    ),
    piecewise_linear=False,
    few_bit=True,
    family="smooth",
    class_name="Mish",
    inplace=True,
    output_note=(
        "the input (as torch.nn): Mish is not monotone (its minimum is at x ≈ −1.19), so the "
        "output does not determine the derivative"
    ),
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={},
        value=(-0.145647, -0.26787, 0.0, 1.07795, 4.99955),
        derivative=(-0.0933931, 0.184416, 0.6, 1.07635, 1.0008),
    ),
)
