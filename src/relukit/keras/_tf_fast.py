"""TensorFlow fast paths, registered per activation by name (as ``relukit.torch._fast``).

Without ``jit_compile`` TensorFlow runs a ``tf.function`` op by op: every ``keras.ops`` call of
the catalog's generic composition is one more pass over memory, and nothing fuses. Measured
(``benchmarks/bench_keras_speed.py``, forward+backward on 1e6 float32 in a ``tf.function``)
the generic composition took 2.2–2.9× Keras' own layers. Here each entry is written with
TensorFlow's fused kernels where they are exact, and with as few extra ops as relukit's rules
need (the NaN rule in gradients, the kink rule, exact tails):

- ReLU: one select forward (TensorFlow's ``Relu`` loses the sign of −0 in its vectorised
  loop); backward ``g·sign(y)`` as ``MulNoNan`` (0 where y = 0, even for an
  infinite upstream gradient; NaN where the input was NaN). Saves the output, as Keras' own.
- Leaky ReLU (slope > 0, float32): ``LeakyRelu``/``LeakyReluGrad`` on the output (y > 0 exactly
  where x > 0), NaN put back with one select. float64 takes the generic path: TensorFlow's
  ``alpha`` attribute is a float32, and relukit rounds the slope to the input's dtype.
- ELU: ``α·expm1(x)`` (TensorFlow's own ``Elu`` is ``exp(x) − 1``, which cancels next to 0:
  ``elu(−1e-5)`` = −1.001358e-05 in float32, true −9.99995e-06); backward ``α·exp(x)`` from the
  input (from the output it would be y + α, which cancels; see ``relukit.torch``'s ELU); in
  float64 for float32 input, rounded once (TensorFlow's float32 expm1 is 2.5 ulp off).
- PReLU: ``where(x > 0, x, a·x)`` (a zero slope's branch is a·clip(x, −1, 1), its limit at
  −inf, chosen by one ``tf.cond`` on the few slopes); backward ``MulNoNan(g, x ≤ 0 ? a :
  sign(x))`` (NaN where x is NaN; a zero slope passes 0 back even for an infinite gradient) and
  ``∂f/∂a = min(x, 0)``: 3 + 7 full-size ops, where Keras' own PReLU takes 16.
- GELU, both forms, for float32 (and half types, computed in float32): evaluated in float64
  with TensorFlow's own ``Erfc``/``Sigmoid`` and rounded once. For a float32 input the float64
  rounding of the argument is far below float32's resolution (relative 2⁻⁵³·2x² against 2⁻²⁴),
  so the plain formulas are exact to float32 after one rounding, in a dozen ops where the
  float32 double-double composition (exact in any float dtype) takes ~120. float64 input takes
  that composition (the generic path).

Every other entry, dtype or parameter range returns ``None`` from ``get`` and runs the generic
composition. ``tests/test_keras_backends.py`` checks every entry on every backend against the
NumPy reference, and ``tests/test_keras_fast_paths.py`` these paths against the generic one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import tensorflow as tf

# A core takes x (and weights) in the compute dtype and returns (y, backward), where
# backward(g) gives the input's gradient in the compute dtype (and, for an entry with a
# weight, ∂f/∂a·g at x's shape: the caller sums it to the weight's).
Core = Callable[..., tuple[Any, Callable[[Any], Any]]]
_MAKERS: dict[str, Callable[[dict[str, Any], str], Core | None]] = {}


def register(name: str):
    """Register ``maker(params, compute_dtype) -> core | None`` as entry ``name``'s fast path."""

    def deco(maker):
        _MAKERS[name] = maker
        return maker

    return deco


def get(name: str, params: dict[str, Any], cdtype: str) -> Core | None:
    """The fast core of entry ``name`` for rounded ``params`` in ``cdtype``, or ``None``."""
    maker = _MAKERS.get(name)
    return maker(params, cdtype) if maker is not None else None


@register("relu")
def _relu(params, cdtype):
    def core(x):
        # Not tf.nn.relu: its vectorised kernel gives relu(−0) = +0 (the scalar tail −0), and
        # the rule is f(−0) = f'(0)·(−0) = −0. x < 0 gives +0; NaN and −0 fall to x.
        y = tf.where(x < 0, tf.constant(0, x.dtype), x)  # a broadcast 0: no zeros tensor
        return y, lambda g: tf.math.multiply_no_nan(g, tf.math.sign(y))

    return core


@register("leaky_relu")
def _leaky_relu(params, cdtype):
    slope = params["negative_slope"]
    if cdtype != "float32" or not slope > 0:
        return None

    def core(x):
        y = tf.nn.leaky_relu(x, alpha=slope)

        def backward(g):
            gx = tf.raw_ops.LeakyReluGrad(gradients=g, features=y, alpha=slope)
            return tf.where(tf.math.is_nan(y), y, gx)

        return y, backward

    return core


@register("elu")
def _elu(params, cdtype):
    alpha = params["alpha"]

    def core(x):
        # float32: expm1 and exp in float64, rounded once (TensorFlow's float32 expm1 is 2.5
        # ulp off: benchmarks/results/keras_ulp.md).
        w = tf.cast(x, tf.float64) if cdtype == "float32" else x
        negative = tf.math.expm1(w) if alpha == 1 else alpha * tf.math.expm1(w)
        # x ≤ 0 takes the α·expm1 branch (−0 stays −0); NaN falls to x and stays NaN.
        y = tf.where(x <= 0, tf.cast(negative, x.dtype), x)

        def backward(g):
            slope = tf.math.exp(w) if alpha == 1 else alpha * tf.math.exp(w)
            return tf.where(x > 0, g, g * tf.cast(slope, x.dtype))  # NaN: exp(NaN) = NaN

        return y, backward

    return core


@register("prelu")
def _prelu(params, cdtype):
    def core(x, a):
        def plain():
            return tf.where(x > 0, x, a * x)

        def zero_slopes():  # 0·(−inf) would be NaN: a zero slope's limit is a signed 0
            return tf.where(x > 0, x, tf.where(a == 0, a * tf.clip_by_value(x, -1, 1), a * x))

        y = tf.cond(tf.reduce_any(tf.equal(a, 0)), zero_slopes, plain)

        def backward(g):
            d = tf.where(x <= 0, a, tf.math.sign(x))  # 1 for x > 0, NaN for NaN
            return tf.math.multiply_no_nan(g, d), g * tf.minimum(x, 0)

        return y, backward

    return core


_INV_SQRT2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_CLIP = 40.0  # Φ(−40) and φ(40) are 0 in float64: the limits, never inf·0
_TWO_K = 2 * math.sqrt(2 / math.pi)  # 2u = 2√(2/π)(x + 0.044715x³)
_CUBIC = 0.044715


@register("gelu")
def _gelu(params, cdtype):
    if cdtype != "float32":
        return None
    tanh = params["approximate"] == "tanh"

    def core(x):
        w = tf.cast(x, tf.float64)
        c = tf.clip_by_value(w, -_CLIP, _CLIP)  # NaN stays NaN
        if tanh:
            t = _TWO_K * (c + _CUBIC * (c * c * c))
            s, not_s = tf.math.sigmoid(t), tf.math.sigmoid(-t)
        else:
            s = 0.5 * tf.math.erfc(c * -_INV_SQRT2)
        y = tf.cast(tf.maximum(w, -_CLIP) * s, x.dtype)

        def backward(g):
            if tanh:
                dt = _TWO_K * (1.0 + (3 * _CUBIC) * (c * c))
                d = s * (1.0 + c * not_s * dt)
            else:
                d = s + c * (tf.math.exp(-0.5 * (c * c)) * _INV_SQRT_2PI)
            return g * tf.cast(d, x.dtype)

        return y, backward

    return core
