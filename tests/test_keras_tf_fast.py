"""relukit.keras's TensorFlow fast paths (``relukit/keras/_tf_fast.py``) against the generic
``keras.ops`` composition they replace (issue #12 item 1), on the tensorflow backend only
(``tests/test_keras_backends.py`` runs it in a tensorflow subprocess).

Where a fast path applies, the values and the input gradients agree with the generic
composition's bit for bit for the piecewise entries (the same formula), and for GELU (float64
Erfc rounded once) lie within one epsilon of the NumPy reference (the generic float32
composition is up to 2 ulp off there); NaN, ±inf, the sign of zero and the kink are identical
to the generic composition's, and the paths issue few ops.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from cases import CASE_IDS, CASES

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":
    pytest.skip("relukit.keras' TensorFlow fast paths", allow_module_level=True)
tf = pytest.importorskip("tensorflow")
from relukit.keras import _functions, _tf_fast  # noqa: E402

FLOATS = ("float32", "float64", "float16", "bfloat16")


def _x(dtype):
    # ELU's float32 path switches formula at x = −2⁻²⁵ (x itself above, e − 1 below): both
    # sides of it, where e − 1 would have cancelled in float32, and the far (normal) tail.
    tiny = -(2.0**-25) * np.array([0.5, 0.999, 1.0, 1.001, 2.0, 8.0])
    x = np.concatenate(
        [np.linspace(-9, 9, 301), [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, -1e-5, -1e-19],
         tiny, -np.logspace(-12, -4, 9), np.linspace(-80, -20, 7)]
    )  # fmt: skip
    return tf.constant(x.astype(np.float32 if dtype == "bfloat16" else dtype), dtype=dtype)


def _g(n):
    return np.linspace(-2.0, 2.0, n)


def _run(case, dtype, generic):
    activation = case.activation
    weights = {k: v for k, v in case.params.items() if activation.param(k).kind == "weight"}
    params = {k: v for k, v in case.params.items() if k not in weights}
    x = _x(dtype)
    cdtype = _functions.compute_dtype(dtype)
    ws = [tf.constant(float(v), dtype=cdtype) for v in weights.values()]
    p = _functions._round_params(params, cdtype)
    if generic:
        fn = _functions._custom(activation, p, list(weights), dtype, [cdtype] * len(ws),
                                [() for _ in ws])  # fmt: skip
    else:
        core = _tf_fast.get(activation.name, p, cdtype)
        if core is None:
            return None
        fn = _functions._tf_custom(core, dtype, cdtype, [cdtype] * len(ws), [() for _ in ws])
    g = tf.constant(_g(x.shape[0]))
    with tf.GradientTape() as tape:
        tape.watch([x, *ws])
        y = fn(x, *ws)
    grads = tape.gradient(y, [x, *ws], output_gradients=tf.cast(g, dtype))
    return [np.asarray(tf.cast(t, "float64")) for t in (y, *grads)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fast_path_equals_the_generic_composition(case, dtype):
    fast = _run(case, dtype, generic=False)
    if fast is None:
        pytest.skip(f"no TensorFlow fast path for {case.name} in {dtype}")
    generic = _run(case, dtype, generic=True)
    eps = float(np.finfo(np.float32 if dtype in ("float16", "bfloat16") else dtype).eps)
    if dtype == "bfloat16":
        eps = 2.0**-7
    elif dtype == "float16":
        eps = 2.0**-10
    exact = case.activation.piecewise_linear
    labels = ("value", "x gradient", "weight gradient")[: len(fast)]
    for what, a, b in zip(labels, fast, generic, strict=True):
        assert np.array_equal(np.isnan(a), np.isnan(b)), what
        inf_a, inf_b = (np.where(np.isinf(t), np.sign(t), 0) for t in (a, b))
        assert np.array_equal(inf_a, inf_b), what
        finite = np.isfinite(a) & np.isfinite(b)
        if what == "value":  # the sign-of-zero rule is the values' (a zero gradient's is not)
            zeros = finite & (a == 0)
            assert np.array_equal(np.signbit(a[zeros]), np.signbit(b[zeros])), what
        if exact and what != "weight gradient":
            assert np.array_equal(a[finite], b[finite]), what
        elif what != "weight gradient":  # against the NumPy reference, in float64
            x64 = np.asarray(_x(dtype), dtype=np.float64)
            fn = case.numpy_fn()
            with np.errstate(all="ignore"):
                ref = fn(x64, **case.params)
                if what == "x gradient":
                    ref = _g(len(a)) * fn.derivative(x64, **case.params)
            scale = np.abs(ref)
            if what == "x gradient" and case.derivative_scale is not None:
                # next to a zero of f': in units of the terms f' sums (the contract's measure)
                terms = [float(case.derivative_scale(mp.mpf(float(v)))) if np.isfinite(v) else 0
                         for v in x64]  # fmt: skip
                scale = np.maximum(scale, np.abs(_g(len(a))) * np.array(terms))
            # the dtype's rounding of each (1 ulp each side); subnormal results in absolute steps
            tiny = {"float16": 2.0**-24, "bfloat16": 2.0**-133}.get(dtype, 0.0) or float(
                np.finfo(dtype).smallest_subnormal
            )
            # TensorFlow's CPU kernels flush subnormal inputs to zero (DAZ), as its generic
            # composition does: those inputs are the platform's, not the path's
            finite &= (np.abs(x64) >= np.finfo(np.float32).tiny) | (x64 == 0)
            diff = np.abs(a[finite] - ref[finite])
            assert np.all(diff <= 2 * eps * scale[finite] + 2 * tiny), what


def test_fast_paths_issue_few_ops():
    """Forward+backward in a tf.function: TensorFlow's fused kernels, a handful of ops (the
    generic composition issued 11–125)."""
    import relukit.keras as rk

    x = tf.random.normal((64, 64))
    skip = {"Placeholder", "Const", "NoOp", "Identity", "IdentityN", "Fill"}
    for case in CASES:
        if any(p.kind == "weight" for p in case.activation.params):
            continue
        params = _functions._round_params(case.params, "float32")
        if _tf_fast.get(case.name, params, "float32") is None:
            continue
        fn = getattr(rk, case.name)

        def fb(x, fn=fn, params=case.params):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fn(x, **params)
            return tape.gradient(y, x)

        graph = tf.function(fb).get_concrete_function(x).graph
        ops = [o.type for o in graph.get_operations() if o.type not in skip]
        assert len(ops) <= 24, (case.name, ops)


@pytest.mark.parametrize(
    ("name", "params", "selects"),
    [("relu", {}, 0), ("leaky_relu", {"negative_slope": 0.01}, 0), ("elu", {"alpha": 1.0}, 1)],
)
def test_fast_paths_avoid_selects_and_expm1(name, params, selects):
    """Forward+backward on float32 issues at most ``selects`` selects and no float64 Expm1: the
    two ops that cost most (a SelectV2 ~10x a Less or a Mul on 65536 elements; float64 Expm1
    ~4x Exp), where exact arithmetic does without them (``_tf_fast``'s docstring)."""
    import relukit.keras as rk

    fn = getattr(rk, name)

    def fb(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x, **params)
        return tape.gradient(y, x)

    graph = tf.function(fb).get_concrete_function(tf.random.normal((64, 64))).graph
    ops = [o.type for o in graph.get_operations()]
    assert sum(op in ("Select", "SelectV2") for op in ops) <= selects, ops
    assert "Expm1" not in ops, ops


def test_autograph_converts_the_functions(caplog):
    """A user's ``tf.function`` (AutoGraph on) converts relukit's call path without a warning
    (``apply``'s ``:=`` made AutoGraph log "could not transform ... Please report this to the
    TensorFlow team" at every first trace)."""
    import relukit.keras as rk

    with caplog.at_level("WARNING"):
        tf.function(lambda x: rk.gelu(x))(tf.constant([1.0, -2.0], tf.float64))
    assert "could not transform" not in caplog.text
