"""GELU: x·Φ(x), exact or with the tanh approximation."""

from __future__ import annotations

from . import _dd, _special
from ._spec import Activation, Example, Param, Spelling

# Beyond these |x| the float64 results are exactly their limits (x or -0 for the value, 1 or 0
# for the derivative): Φ(-40) and σ(2u(-30)) are below the smallest subnormal. Clipping there keeps
# x³, Dekker's splitter and exp finite, so ±inf never turns into inf·0 = NaN.
_EXACT_CLIP = 40.0
_TANH_CLIP = 30.0

# 2·√(2/π) and 0.044715 as double-double constants: the tanh form is defined with these exact
# reals, and rounding them once would already cost ~|2u| ulp in the left tail.
TWO_SQRT_2_OVER_PI = _dd.const(1.5957691216057308, -9.96930880911092e-17)
CUBIC = _dd.const(0.044715, 2.1960211427085595e-18)


def _exact(ns, x, *, out=None):
    # f(x) = x·Φ(x). Clipping below keeps f(-inf) = 0 instead of -inf·0; above 40, Φ(x) = 1.
    # Φ = Φ_m·2^-k: multiply first, scale last, so a subnormal result is rounded only once.
    cdf, _, k = ns.gaussian(ns.clip(x, -_EXACT_CLIP, _EXACT_CLIP))
    return ns.ldexp(ns.maximum(x, -_EXACT_CLIP) * cdf, k, out=out)


def _exact_derivative(ns, x, *, out=None):
    # f'(x) = Φ(x) + x·φ(x): both terms are accurate in relative terms, and in the left tail the
    # second dominates (Φ ≈ φ/|x|), so the sum only cancels near its zero at x ≈ -0.7518.
    xc = ns.clip(x, -_EXACT_CLIP, _EXACT_CLIP)
    cdf, pdf, k = ns.gaussian(xc)
    return ns.ldexp(cdf + xc * pdf, k, out=out)


def _tanh_argument(ns, x):
    """2u(x) = 2√(2/π)(x + 0.044715x³) as a double-double (hi, lo) in an exact namespace."""
    c_hi, c_lo, c_split = CUBIC
    k_hi, k_lo, k_split = TWO_SQRT_2_OVER_PI
    if not ns.exact:  # plain float64 is ~1e-13 relative: enough for float32 results
        return k_hi * (x + c_hi * (x * x * x)), 0.0
    sq, sq_lo = ns.two_prod(x, x)
    cube, cube_lo = ns.two_prod(sq, x)
    cube_lo = cube_lo + sq_lo * x
    term, term_lo = ns.two_prod(cube, c_hi, c_split)
    term_lo = term_lo + (c_hi * cube_lo + c_lo * cube)
    inner, inner_lo = ns.two_sum(x, term)
    inner_lo = inner_lo + term_lo
    arg, arg_lo = ns.two_prod(inner, k_hi, k_split)
    return arg, arg_lo + (k_hi * inner_lo + k_lo * inner)


def _tanh_sigmoids(ns, x):
    """``(s_m, k, 1 − s)`` with s = σ(2u) = 0.5·(1 + tanh(u)), from the double-double 2u."""
    arg, arg_lo = _tanh_argument(ns, x)
    return _special.scaled_sigmoid(ns, arg, arg_lo)


def _tanh(ns, x, *, out=None):
    # f(x) = 0.5·x·(1 + tanh(u)) = x·σ(2u), u = √(2/π)(x + 0.044715x³).
    xc = ns.clip(x, -_TANH_CLIP, _TANH_CLIP)
    s_m, k, _ = _tanh_sigmoids(ns, xc)
    return ns.ldexp(ns.maximum(x, -_TANH_CLIP) * s_m, k, out=out)


def _tanh_derivative(ns, x, *, out=None):
    # f'(x) = s + x·s·(1 − s)·2u'(x), 2u'(x) = 2√(2/π)(1 + 3·0.044715x²), s = σ(2u):
    # computed through the sigmoid so 1 + tanh never cancels in the left tail.
    xc = ns.clip(x, -_TANH_CLIP, _TANH_CLIP)
    s_m, k, one_minus_s = _tanh_sigmoids(ns, xc)
    two_k = TWO_SQRT_2_OVER_PI[0]
    slope = two_k + (3.0 * two_k * CUBIC[0]) * (xc * xc)
    return ns.ldexp(s_m * (1.0 + xc * one_minus_s * slope), k, out=out)


def forward(ns, x, approximate="none", *, out=None):
    return (_tanh if approximate == "tanh" else _exact)(ns, x, out=out)


def derivative(ns, x, approximate="none", *, out=None):
    fn = _tanh_derivative if approximate == "tanh" else _exact_derivative
    return fn(ns, x, out=out)


# max |exact − tanh| and where it peaks (PRIOR_ART.md; checked by tests/test_numpy_api.py).
TANH_MAX_ABS_ERROR = 4.73e-4
TANH_MAX_ERROR_AT = -2.70

GELU = Activation(
    name="gelu",
    title="GELU",
    params=(
        Param(
            "approximate",
            "choice",
            "none",
            "'none' for x·Φ(x) or 'tanh' for the tanh approximation",
            ("none", "tanh"),
        ),
    ),
    forward=forward,
    derivative=derivative,
    formula=(
        r"f(x) = x\,\Phi(x)\ \text{or (tanh)}\ "
        r"\tfrac12 x\left(1 + \tanh\!\left(\sqrt{2/\pi}\,(x + 0.044715x^3)\right)\right)"
    ),
    derivative_formula=(
        r"f'(x) = \Phi(x) + x\,\varphi(x)\ \text{or (tanh)}\ "
        r"s + x\,s(1-s)\,2u'(x),\ s = \sigma(2u)"
    ),
    kink="smooth, f'(0) = 0.5",
    special_values="f(-inf) = 0, f(+inf) = +inf, f'(-inf) = 0, f'(+inf) = 1 (both forms)",
    references=("Hendrycks & Gimpel, Gaussian Error Linear Units (GELUs), arXiv:1606.08415, 2016",),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.functional.gelu(input, approximate='none')",
            "0.5·x·(1 + erf(x/√2)) returns 0 below x ≈ −5.7 in float32 and NaN at "
            "x = −inf (and at +inf on CPU, pytorch#185770)",
        ),
        Spelling(
            "Keras 3",
            "keras.ops.gelu(x, approximate=True); keras.activations.gelu(x, approximate=False)",
            "keras.ops defaults to the tanh form",
        ),
        Spelling("JAX", "jax.nn.gelu(x, approximate=True)", "defaults to the tanh form"),
        Spelling("TensorFlow", "tf.nn.gelu(features, approximate=False)"),
    ),
    piecewise_linear=False,
    few_bit=True,
    family="smooth",
    notes=(
        f"The tanh form differs from the exact one by at most {TANH_MAX_ABS_ERROR:.3g} "
        f"(at x ≈ {TANH_MAX_ERROR_AT}); weights trained with one do not transfer exactly to "
        "the other (jax#4428).",
    ),
    class_name="GELU",
    inplace=False,
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={"approximate": "none"},
        value=(-0.00404969, -0.169375, 0.0, 1.06192, 5.0),
        derivative=(-0.0119456, 0.0233859, 0.5, 1.11795, 1.00001),
    ),
)
