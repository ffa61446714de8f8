"""SELU: λ·x for x > 0, λ·α·(exp(x) − 1) otherwise, with the self-normalising λ and α."""

from __future__ import annotations

from ._spec import Activation, Example, Spelling

# Klambauer et al.'s constants (the solutions of their fixed-point equations, to 32 digits, as
# PyTorch spells them), and λ·α, each rounded once to float64.
LAMBDA_DIGITS = "1.0507009873554804934193349852946"
ALPHA_DIGITS = "1.6732632423543772848170429916717"
LAMBDA = 1.0507009873554805
LAMBDA_ALPHA = 1.7580993408473768
# λ·α − LAMBDA_ALPHA (mpmath, 60 digits): y + λα cancels next to y = −λα, where the constant's
# own rounding (1.4e-17) would be most of a float64 f'.
LAMBDA_ALPHA_LO = 1.41535193800845e-17


def forward(ns, x, *, out=None):
    # λ·x for x > 0, λα·expm1(x) for x ≤ 0 (expm1: exact next to 0; the inner minimum keeps the
    # unused branch finite). λα is one constant, so each branch rounds at most twice.
    return ns.select_positive(x, LAMBDA * x, LAMBDA_ALPHA * ns.expm1(ns.minimum(x, 0)), out=out)


def derivative(ns, x, *, out=None):
    # f'(x) = λ for x > 0, λα·e^x for x ≤ 0 (kink rule: f'(0) = λα, PyTorch's elu_backward).
    return ns.select_positive(x, LAMBDA, LAMBDA_ALPHA * ns.exp(ns.minimum(x, 0)), out=out)


def output_derivative(ns, y, *, out=None):
    # f' = λ for y > 0, else λα·e^x = y + λα (x ≤ 0 ⇔ y ≤ 0). y + λα is exact for y near −λα
    # (Sterbenz); for a float64 output λα's low part is added (for a float32 or narrower one,
    # computed in float64, it is below every f' the output can give: 1.4e-17 against 2.3e-8).
    # An output rounded below −λα (no input gives it) gets the limit's 0, never a wrong sign.
    # Exact for the output, not for the input: where λα·e^x is below y's rounding the input's
    # f' is lost (save="output" only).
    tail = ns.add(y, LAMBDA_ALPHA)
    if ns.exact:
        tail = tail + LAMBDA_ALPHA_LO
    return ns.select_positive(y, LAMBDA, ns.maximum(tail, 0.0), out=out)


SELU = Activation(
    name="selu",
    title="SELU",
    params=(),
    forward=forward,
    derivative=derivative,
    formula=(
        r"f(x) = \lambda x \text{ if } x > 0 \text{ else } \lambda\alpha\,(e^{x} - 1),\ "
        r"\lambda \approx 1.0507,\ \alpha \approx 1.6733"
    ),
    derivative_formula=r"f'(x) = \lambda \text{ if } x > 0 \text{ else } \lambda\alpha e^{x}",
    kink="f'(0) = λα ≈ 1.7581",
    special_values="f(-inf) = -λα, f(+inf) = +inf; f'(-inf) = 0, f'(+inf) = λ",
    references=(
        "Klambauer, Unterthiner, Mayr & Hochreiter, Self-Normalizing Neural Networks, NeurIPS 2017",
    ),
    spellings=(
        Spelling("PyTorch", "torch.nn.functional.selu(input, inplace=False) / torch.nn.SELU()"),
        Spelling("Keras 3", "keras.ops.selu(x) / keras.activations.selu"),
        Spelling("JAX", "jax.nn.selu(x)"),
        Spelling("TensorFlow", "tf.nn.selu(features)", "computes exp(x) − 1 (inexact near 0)"),
    ),
    piecewise_linear=False,
    family="rectifier",
    kinks=(0.0,),
    class_name="SELU",
    inplace=True,
    notes=(
        f"λ = {LAMBDA_DIGITS} and α = {ALPHA_DIGITS} (Klambauer et al.), as PyTorch, Keras and "
        "JAX spell them; relukit rounds λ and λα once to float64.",
    ),
    output_derivative=output_derivative,
    output_note=(
        "the input (as torch.nn): from the output y, λα·e^x would be y + λα, which cancels "
        "for x < 0 (all relative precision lost below x ≈ −17 in float32)"
    ),
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={},
        value=(-1.67057, -0.885053, 0.0, 1.26084, 5.2535),
        derivative=(0.0875306, 0.873046, 1.7581, 1.0507, 1.0507),
    ),
)
