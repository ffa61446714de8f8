"""TensorFlow fast paths, registered per activation by name (as ``relukit.torch._fast``).

Without ``jit_compile`` TensorFlow runs a ``tf.function`` op by op: every ``keras.ops`` call of
the catalog's generic composition is one more pass over memory, and nothing fuses. Measured
(``benchmarks/bench_keras_speed.py``, forward+backward on 1e6 float32 in a ``tf.function``)
the generic composition took 2.2–2.9× Keras' own layers. Here each entry is written with
TensorFlow's fused kernels where they are exact, and with as few extra ops as relukit's rules
need (the NaN rule in gradients, the kink rule, exact tails). What costs is not the number of
ops but which: measured on 65536 float32 elements, one thread, a ``SelectV2`` takes 60-90 µs
where ``Less``, ``Cast``, ``Sign`` or a ``Mul`` take 3-10, and float64's ``Expm1`` ~500 µs
where its ``Exp`` takes ~130. So selects are avoided where arithmetic is exact:

- ReLU: forward ``MulNoNan(x, 1 − [x < 0])`` (x itself for ±0, NaN and +inf, +0 for x < 0;
  TensorFlow's ``Relu`` loses the sign of −0 in its vectorised loop); backward ``g·sign(y)`` as
  ``MulNoNan`` (0 where y = 0, even for an infinite upstream gradient; NaN where the input was
  NaN). Saves the output, as Keras' own.
- Leaky ReLU (slope > 0, float32): ``LeakyRelu``/``LeakyReluGrad`` on the output (y > 0 exactly
  where x > 0); ``LeakyReluGrad`` gives g·slope for a NaN y, so 0·sign(y) is added (NaN there,
  ±0 elsewhere). float64 takes the generic path: TensorFlow's ``alpha`` attribute is a float32,
  and relukit rounds the slope to the input's dtype.
- ELU: ``α·expm1(x)`` (TensorFlow's own ``Elu`` is ``exp(x) − 1`` in the input's dtype, which
  cancels next to 0: ``elu(−1e-5)`` = −1.001358e-05 in float32, true −9.99995e-06); the
  derivative ``α·exp(x)`` from the input (from the output it would be y + α, which cancels; see
  ``relukit.torch``'s ELU). For float32 input one float64 ``Exp`` of min(x, 0) serves both:
  the value is e − 1 (x itself for x > −2⁻²⁵, where expm1 rounds to x), the derivative e,
  each rounded once; float64's ``Expm1`` is avoided (4-5x the cost of ``Exp``) and float32's
  ``Exp``/``Expm1`` are 1.2/2.8 ulp off. float64 input: ``Expm1`` and ``Exp``.
- PReLU: ``where(x > 0, x, a·x)`` (a zero slope's branch is a·clip(x, −1, 1), its limit at
  −inf, chosen by one ``tf.cond`` on the few slopes); backward ``MulNoNan(g, x ≤ 0 ? a :
  sign(x))`` (NaN where x is NaN; a zero slope passes 0 back even for an infinite gradient) and
  ``∂f/∂a = min(x, 0)``: 3 + 7 full-size ops, where Keras' own PReLU takes 16.
- GELU, both forms, for float32 (and half types, computed in float32): evaluated in float64
  with TensorFlow's own ``Erfc``/``Sigmoid`` and rounded once. For a float32 input the float64
  rounding of the argument is far below float32's resolution (relative 2⁻⁵³·2x² against 2⁻²⁴),
  so the plain formulas are exact to float32 after one rounding, in a dozen ops where the
  float32 double-double composition (exact in any float dtype) takes ~120. float64 exact GELU
  runs ``_gelu64``'s core (jax's too: no ``erfc``, whose float64 kernels are not
  float64-accurate: through TensorFlow's own the generic composition was 11.7 ulp off at
  x ≈ −1.4, through XLA's under ``jit_compile`` 123 ulp at x ≈ −18.6); value and derivative in
  one pass, the derivative saved for the backward. float64 tanh-GELU takes the generic
  double-double composition.

Every other entry, dtype or parameter range returns ``None`` from ``get`` and runs the generic
composition. ``tests/test_keras_backends.py`` checks every entry on every backend against the
NumPy reference, and ``tests/test_keras_tf_fast.py`` these paths against the generic one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from . import _gelu64

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
        # the rule is f(−0) = f'(0)·(−0) = −0. x·1 where x is not < 0 (x itself: ±0, NaN, +inf),
        # MulNoNan's +0 where it is (−inf too, where x·0 would be NaN). No select: TensorFlow's
        # SelectV2 took ~60-90 µs on 65536 float32 elements against ~5 for Less or Cast.
        y = tf.math.multiply_no_nan(x, 1 - tf.cast(x < 0, x.dtype))
        # f' = sign(y): 1 for x > 0, 0 at and below the kink, NaN for NaN; MulNoNan passes 0
        # back where f' = 0 even for an infinite upstream gradient.
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
            # LeakyReluGrad gives g·slope where y is NaN (measured: NaN > 0 is false); adding
            # 0·sign(y) (±0, or NaN where y is NaN; sign(±inf) = ±1, so never inf·0) puts the
            # NaN back without a select.
            gx = tf.raw_ops.LeakyReluGrad(gradients=g, features=y, alpha=slope)
            return gx + 0 * tf.math.sign(y)

        return y, backward

    return core


# Below |x| = 2⁻²⁵, float32's rounding of expm1(x) = x·(1 + x/2 + …) is x itself (the x²/2 is
# under half a float32 step), and so is exp(x)'s of 1; from there on, e − 1 with e = exp(x) in
# float64 is within 2⁻²⁷ relative of expm1(x) (float64 exp's error, ≤ 2.2e-16, over
# |e − 1| ≥ 2⁻²⁵; e − 1 is exact for e ≥ 0.5): float32 gets one rounding of a value that
# accurate.
_ELU_TINY = 2.0**-25


@register("elu")
def _elu(params, cdtype):
    alpha = params["alpha"]
    if cdtype != "float32":
        return _elu_float64(alpha)

    def core(x):
        # float32 (and half types): e = exp(min(x, 0)) in float64, once, for the value and the
        # derivative. Measured on 65536 elements, one thread: TensorFlow's float64 Expm1 takes
        # ~500 µs, its Exp ~130; its float32 Exp is 1.2 ulp off and its own Elu/EluGrad
        # compute exp(x) − 1 and y + 1 in float32, which cancel (1.7e7 ulp at x = −1e-19).
        w = tf.cast(x, tf.float64)
        e = tf.math.exp(tf.minimum(w, 0.0))  # e^x for x ≤ 0, 1 for x > 0, NaN for NaN
        # e + (−1), not e − 1: grappler rewrites Sub(Exp(a), 1) into the slow Expm1(a).
        em1 = e + -1.0
        if alpha == 1:
            # x > −2⁻²⁵ (x > 0, ±0 and the tiny negatives, where expm1 rounds to x) keeps x;
            # NaN falls to e − 1 = NaN.
            y = tf.where(x > -_ELU_TINY, x, tf.cast(em1, x.dtype))
            d = tf.cast(e, x.dtype)  # f' = e^x for x ≤ 0 (1 at the kink), 1 for x > 0
        else:
            # expm1 to float32's precision: x·(1 + x/2) for the tiny negatives, e − 1 below.
            em1 = tf.where(w > -_ELU_TINY, w * (1.0 + 0.5 * w), em1)  # −0 stays −0
            y = tf.where(x > 0, x, tf.cast(alpha * em1, x.dtype))  # −0 → α·(−0); NaN → NaN
            d = tf.where(x > 0, tf.constant(1, x.dtype), tf.cast(alpha * e, x.dtype))
        return y, lambda g: g * d  # saves d (float32), as Keras' EluGrad saves its output

    return core


def _elu_float64(alpha):
    def core(x):
        negative = tf.math.expm1(x) if alpha == 1 else alpha * tf.math.expm1(x)
        # x ≤ 0 takes the α·expm1 branch (−0 stays −0); NaN falls to x and stays NaN.
        y = tf.where(x <= 0, negative, x)

        def backward(g):
            # from the input: from the output it would be y + α, which cancels
            slope = tf.math.exp(x) if alpha == 1 else alpha * tf.math.exp(x)
            return tf.where(x > 0, g, g * slope)  # NaN: exp(NaN) = NaN

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
_LN_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_CLIP = 40.0  # Φ(−40) and φ(40) are 0 in float64: the limits, never inf·0
_TWO_K = 2 * math.sqrt(2 / math.pi)  # 2u = 2√(2/π)(x + 0.044715x³)
_CUBIC = 0.044715


@register("gelu")
def _gelu(params, cdtype):
    if cdtype != "float32":
        return _gelu_float64 if params["approximate"] == "none" else None
    if params["approximate"] == "tanh":
        return _gelu_tanh

    def core(x):
        w = tf.cast(x, tf.float64)
        # Φ(x) = ½·erfc(−x/√2): erfc(∓inf) = 2 or 0, NaN stays NaN, so no clip is needed.
        s = 0.5 * tf.math.erfc(w * -_INV_SQRT2)
        y = tf.cast(tf.maximum(w, -_CLIP) * s, x.dtype)  # −40 for −inf: −0, never −inf·0

        def backward(g):
            # x·φ(x), φ = e^(−x²/2)/√(2π) (ln of the constant folded into the exponent); MulNoNan
            # gives 0 where φ underflows to 0 (|x| ≥ 38.6, ±inf: never inf·0), NaN for NaN.
            pdf = tf.math.exp(w * (-0.5 * w) - _LN_SQRT_2PI)
            d = s + tf.math.multiply_no_nan(w, pdf)
            return g * tf.cast(d, x.dtype)

        return y, backward

    return core


def _gelu_float64(x):
    # Eager: op by op (nothing rewrites it, and nothing to compile per shape). In a graph: one
    # XLA computation (measured on 1e6 elements, one thread, forward+backward in a tf.function:
    # 17 ms, where the erfc composition it replaces took 82), also out of grappler's reach:
    # without jit_compile it pushes constants together, (c₁ − y) + c₂ into (c₁ + c₂) − y, and
    # that drops the double-double constants' low parts (2.2 ulp measured; 1.1 compiled).
    y, d = _gelu64.gelu(_TF_OPS, x) if tf.executing_eagerly() else _gelu_float64_xla()(x)
    return y, lambda g: g * d


_TF_OPS = _gelu64.array_ops("tensorflow")


@functools.cache
def _gelu_float64_xla():
    """``_gelu64.gelu`` as its own XLA computation inside a graph (inlined under an outer
    ``jit_compile``)."""
    return tf.function(lambda x: _gelu64.gelu(_TF_OPS, x), jit_compile=True)


def _gelu_tanh(x):
    w = tf.cast(x, tf.float64)
    c = tf.clip_by_value(w, -_CLIP, _CLIP)  # NaN stays NaN
    t = _TWO_K * (c + _CUBIC * (c * c * c))
    s, not_s = tf.math.sigmoid(t), tf.math.sigmoid(-t)
    y = tf.cast(tf.maximum(w, -_CLIP) * s, x.dtype)

    def backward(g):
        dt = _TWO_K * (1.0 + (3 * _CUBIC) * (c * c))
        d = s * (1.0 + c * not_s * dt)
        return g * tf.cast(d, x.dtype)

    return y, backward
