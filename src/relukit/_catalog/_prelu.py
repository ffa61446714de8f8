"""PReLU: Leaky ReLU whose slope is learned, one slope or one per channel."""

from __future__ import annotations

from ._spec import Activation, Example, Param, Spelling


def forward(ns, x, weight, *, out=None):
    # ``weight`` arrives already shaped to broadcast against x along the channel axis.
    # x for x > 0, a·x for x ≤ 0, selected (see leaky_relu); ``scale`` makes a zero slope's
    # branch exactly 0 at -inf (its limit), where a·x would be 0·(-inf) = NaN.
    return ns.select_positive(x, x, ns.scale(weight, x), out=out)


def derivative(ns, x, weight, *, out=None):
    # ∂f/∂x = 1 for x > 0, else a (kink rule: f'(0) = a, also in forward mode, unlike PyTorch).
    return ns.select_positive(x, 1.0, weight, out=out)


def weight_derivative(ns, x, *, out=None):
    # ∂f/∂a = min(x, 0): zero at the kink, NaN for NaN (minimum propagates it).
    return ns.minimum(x, 0, out=out)


PRELU = Activation(
    name="prelu",
    title="PReLU",
    params=(
        Param(
            "weight",
            "weight",
            None,
            "the learned slopes: one value, or one per channel along the channel axis "
            "(initialised at 0.25 by PyTorch and by relukit's layers)",
            initial=0.25,
        ),
    ),
    forward=forward,
    derivative=derivative,
    weight_derivative=weight_derivative,
    formula=r"f(x) = x \text{ if } x > 0 \text{ else } a_c x",
    derivative_formula=(
        r"\partial f/\partial x = 1 \text{ if } x > 0 \text{ else } a_c,\quad "
        r"\partial f/\partial a_c = \min(x, 0)"
    ),
    kink="f'(0) = a (and ∂f/∂a = 0 at x = 0)",
    special_values="f(-inf) = -inf·a, f(+inf) = +inf",
    references=("He, Zhang, Ren & Sun, Delving Deep into Rectifiers, ICCV 2015",),
    spellings=(
        Spelling(
            "PyTorch",
            "torch.nn.PReLU(num_parameters=1, init=0.25); torch.nn.functional.prelu(input, weight)",
            "forward-mode AD gives f'(0) = 1 while its backward gives a",
        ),
        Spelling(
            "Keras 3",
            "keras.layers.PReLU(alpha_initializer='Zeros', shared_axes=None)",
            "slopes start at 0 (a ReLU), one per element unless shared_axes; f'(0) = 0",
        ),
        Spelling(
            "JAX", "flax.linen.PReLU(negative_slope_init=0.01)", "one scalar slope starting at 0.01"
        ),
        Spelling("TensorFlow", "none built in (tf.keras.layers.PReLU is Keras')"),
    ),
    piecewise_linear=True,
    family="rectifier",
    kinks=(0.0,),
    nonpositive_slope=lambda weight: weight,
    class_name="PReLU",
    inplace=False,
    example=Example(
        x=(-3.0, -0.7, 0.0, 1.2, 5.0),
        params={"weight": 0.25},
        value=(-0.75, -0.175, 0.0, 1.2, 5.0),
        derivative=(0.25, 0.25, 0.25, 1.0, 1.0),
    ),
)
