"""Softplus: (1/β)·log(1 + e^{βx}), exact everywhere (``threshold`` is accepted, not needed)."""

from __future__ import annotations

from . import _special
from ._spec import Activation, Example, Param, Spelling

# Beyond |βx| = 800, log1p(e^{−|βx|}) is below the smallest float64 subnormal: clipping βx there
# keeps the exponentials (and Dekker's splitter, |x| < 1e299) finite, so ±inf give their limits.
_CLIP = 800.0
_SPLIT_LIMIT = 1e299


def _product(ns, x, beta):
    """z = β·x (x clipped where it no longer matters) as a double-double (hi, lo)."""
    limit = min(_CLIP / abs(beta), _SPLIT_LIMIT)
    return ns.two_prod(ns.clip(x, -limit, limit), beta)


def _tail(ns, x, beta):
    """log1p(e^{−|βx|})/β, with βx carried exactly (its rounding would cost |βx| ulp) and
    e^{−|βx|} kept scaled where it is subnormal (there log1p(e) = e, rounded once)."""
    z, z_lo = _product(ns, x, beta)
    lo = ns.select(z >= 0, z_lo, -z_lo) if ns.exact else 0.0
    m, k = ns.exp_neg(ns.abs(z), lo)
    l1p = ns.log1p(ns.ldexp(m, k))
    if isinstance(k, int):  # no scaling in this namespace (or none needed)
        return l1p / beta
    return ns.ldexp(ns.select(k > 0, m, l1p) / beta, k)


def forward(ns, x, beta=1.0, threshold=20.0, *, out=None):
    # f(x) = (1/β)·log(1 + e^{βx}) = [x if βx > 0 else 0] + log1p(e^{−|βx|})/β: two terms of
    # the same sign, so nothing cancels; no switch to x at any threshold (PyTorch returns x
    # for βx > threshold, 2e-9 off at βx = 20 in float64).
    linear = ns.minimum(x, 0.0) if beta < 0 else ns.maximum(x, 0.0)
    return ns.add(linear, _tail(ns, x, beta), out=out)


def derivative(ns, x, beta=1.0, threshold=20.0, *, out=None):
    # f'(x) = σ(βx), from the double-double βx (e^{βx} in the left tail is then exact).
    z, z_lo = _product(ns, x, beta)
    s_m, k, _ = _special.scaled_sigmoid(ns, z, z_lo if ns.exact else 0.0)
    return ns.ldexp(s_m, k, out=out)


def output_derivative(ns, y, beta=1.0, threshold=20.0, *, out=None):
    # e^{βy} = 1 + e^{βx}, so f'(x) = σ(βx) = 1 − e^{−βy} = −expm1(−βy): positive for either
    # sign of β, 1 at y = ±inf, 0 at y = 0. The relative error of y reaches f' almost unchanged
    # where βy is small: from a float32 y, f' is up to 1.19 ulp off (measured near x = −4.1),
    # beyond the 1-ulp contract; from a float64 y, 3.0 ulp (within 4), so only float64 saves y.
    r = -ns.expm1(y * (-beta))
    if out is None:
        return r
    return ns.add(r, 0.0, out=out)


SOFTPLUS = Activation(
    name="softplus",
    title="Softplus",
    params=(
        Param(
            "beta",
            "real",
            1.0,
            "the sharpness β; any finite nonzero real (a negative β gives −softplus(−x) "
            "scaled, as PyTorch computes it)",
            nonzero=True,
        ),
        Param(
            "threshold",
            "real",
            20.0,
            "accepted for PyTorch's signature (kept in repr and state); relukit never switches "
            "to x early: f(x) = x exactly only where log1p(e^{−βx})/β is below half an ulp of x",
        ),
    ),
    forward=forward,
    derivative=derivative,
    formula=r"f(x) = \frac{1}{\beta}\log\left(1 + e^{\beta x}\right)",
    derivative_formula=r"f'(x) = \sigma(\beta x) = 1 - e^{-\beta f(x)}",
    kink="smooth, f'(0) = 0.5",
    special_values=(
        "β > 0: f(-inf) = 0, f(+inf) = +inf, f'(-inf) = 0, f'(+inf) = 1; "
        "β < 0: f(-inf) = -inf, f(+inf) = 0, f'(-inf) = 1, f'(+inf) = 0"
    ),
    references=(
        "Dugas, Bengio, Bélisle, Nadeau & Garcia, Incorporating Second-Order Functional "
        "Knowledge for Better Option Pricing, NeurIPS 2000",
    ),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.functional.softplus(input, beta=1.0, threshold=20.0) / "
            "torch.nn.Softplus(beta=1.0, threshold=20.0)",
            "returns x where βx > threshold, which float64 still resolves (2.1e-9 off at "
            "βx = 20); relukit accepts threshold and computes the exact value everywhere; "
            "beta = 0 gives inf in PyTorch and is refused here",
        ),
        Spelling(
            "Keras 3",
            "keras.ops.softplus(x) / keras.activations.softplus",
            "no beta or threshold (β = 1)",
        ),
        Spelling("JAX", "jax.nn.softplus(x)", "no beta or threshold (β = 1)"),
        Spelling("TensorFlow", "tf.math.softplus(features)", "no beta or threshold (β = 1)"),
    ),
    piecewise_linear=False,
    family="smooth",
    class_name="Softplus",
    inplace=False,
    output_derivative=output_derivative,
    output_dtypes=("float64",),
    output_note=(
        "the output for float64 input (f' = −expm1(−β·y), within the 4-ulp contract), so "
        "``Linear → Softplus → Linear`` stores the hidden tensor once where torch.nn stores it "
        "twice; the input for float32 and half types, where the output's rounding would leave "
        "f' up to 1.19 ulp off (measured; 1 ulp is the contract)"
    ),
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={"beta": 1.0, "threshold": 20.0},
        value=(0.0485874, 0.403186, 0.693147, 1.46328, 5.00672),
        derivative=(0.0474259, 0.331812, 0.5, 0.768525, 0.993307),
    ),
)
