"""The NumPy backend: each catalog activation as a callable carrying its derivative and backward.

The math is the catalog's, run on ``_numpy_ns``. This module only does what NumPy users expect
around it: array-likes and scalars, dtype rules, ``out=``, broadcasting PReLU's weight along an
axis, and errors that name the argument.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from . import _numpy_ns
from ._catalog import Activation, _docs

# The multi-pass functions (ELU, GELU) run in blocks, so their ~40-80 temporaries stay in the L2
# cache. 15,872 float64 elements (124 KiB) keeps each temporary below glibc's 128 KiB mmap
# threshold: at 16,384 every temporary was a fresh mmap and a Dekker two-product took 317 µs
# instead of 16 µs per block (measured here).
_BLOCK = 15_872


def compute_dtype(activation: Activation, dtype: np.dtype) -> np.dtype:
    """The dtype relukit computes ``activation`` in for an input of ``dtype``.

    Piecewise-linear activations run in the input's dtype (float16 in float32, rounded once);
    ELU and GELU run in float64 and round once, which puts float32 results within 0.5 ulp.
    Integer and bool inputs compute in float64 (``relu`` keeps them as they are).
    Parameters (slopes, alpha, PReLU's weight) are rounded to this dtype first, as PyTorch and
    JAX round them to the input's dtype.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return np.dtype(np.float64)
    return np.dtype(f"float{activation.compute_bits(8 * dtype.itemsize)}")


def result_dtype(activation: Activation, dtype: np.dtype) -> np.dtype:
    """Floating dtypes are preserved; integer/bool promote to float64 as NumPy's ``exp`` does."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def as_real_array(value: Any, name: str) -> np.ndarray:
    """``np.asarray(value)``, refusing what is not a real number array (naming ``name``)."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real array-like; could not convert it: {err}") from None
    if a.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} must hold real numbers (float, int or bool); got dtype {a.dtype}. "
            "Complex, object, string and datetime arrays are not accepted."
        )
    if a.dtype.kind == "f" and a.dtype.itemsize > 8:
        raise TypeError(
            f"{name} has dtype {a.dtype} (extended precision), which relukit does not compute in: "
            "float64 would silently lose its range (1e400 → inf); cast to float64 first"
        )
    if not a.dtype.isnative:  # big-endian input: compute on the native byte order
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def _check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out must have shape {shape}, got {out.shape}")
    if out.dtype != dtype:
        raise TypeError(f"out must have dtype {dtype}, got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
    return out


def _blocked(fn, x: np.ndarray, out: np.ndarray) -> None:
    """Run elementwise ``fn(x_block, out_block)`` over cache-sized blocks of a contiguous x."""
    flat_x = x.reshape(-1)
    flat_out = out.reshape(-1)
    for start in range(0, flat_x.size, _BLOCK):
        stop = start + _BLOCK
        fn(flat_x[start:stop], flat_out[start:stop])


def _run(fn, x: np.ndarray, cdtype: np.dtype, rdtype: np.dtype, out, blocked: bool):
    """Evaluate the elementwise ``fn(x, out=...)`` in ``cdtype``, delivering ``rdtype``."""
    if out is not None:
        out = _check_out(out, x.shape, rdtype)
    if out is not None and np.may_share_memory(out, x):
        # The catalog's math reads x after writing parts of out (blocks, masks, NaN fix-ups):
        # an overlapping out= gets the result of a fresh evaluation (NumPy's ufuncs do the same).
        np.copyto(out, _run(fn, x, cdtype, rdtype, None, blocked))
        return out
    if x.ndim == 0:  # NumPy turns 0-d results into scalars; the namespace assigns into arrays
        r = _run(fn, x.reshape(1), cdtype, rdtype, None if out is None else out.reshape(1), blocked)
        return out if out is not None else r.reshape(())[()]
    with np.errstate(all="ignore"):  # specials are handled explicitly by the catalog's math
        contiguous = x.flags.c_contiguous and (out is None or out.flags.c_contiguous)
        if blocked and contiguous and x.size > 2 * _BLOCK:
            target = out if out is not None else np.empty(x.shape, rdtype)
            if cdtype == rdtype:
                _blocked(lambda xb, ob: fn(xb, out=ob), x, target)
            else:
                _blocked(
                    lambda xb, ob: np.copyto(ob, fn(xb.astype(cdtype)), casting="unsafe"), x, target
                )
            return target
        xc = x.astype(cdtype, copy=False)
        if out is not None and cdtype == rdtype:
            return fn(xc, out=out)
        r = fn(xc)
        if out is not None:
            np.copyto(out, r, casting="unsafe")
            return out
        # Rounding to a narrower dtype may overflow to ±inf: the correctly rounded result.
        return np.asarray(r).astype(rdtype, copy=False)


class NumpyActivation:
    """A catalog activation on NumPy arrays: call it for f(x); ``.derivative``, ``.backward``.

    Built by :func:`function` for every catalog entry. An entry with a weight (PReLU's slopes)
    takes it after ``x`` and broadcasts it along the keyword-only ``axis`` (default 1,
    channels-first); its ``backward`` returns ``(grad_input, grad_weight)``.

    Attributes:
        activation: the catalog entry (``relukit.get(name)``) whose math this runs.
    """

    def __init__(self, activation: Activation, doc: str = ""):
        self.activation = activation
        self.__name__ = self.__qualname__ = activation.name
        self.__module__ = "relukit"
        self.__doc__ = doc or _render_doc(activation)
        self._names = [p.name for p in activation.params]
        self._weights = [p.name for p in activation.params if p.kind == "weight"]
        self.__signature__ = _signature(activation, ["x"], self._extra_keywords())

    def __repr__(self) -> str:
        return f"<relukit.{self.activation.name}: NumPy {self.activation.title}>"

    # --- argument handling ----------------------------------------------------------------

    def _extra_keywords(self) -> list[inspect.Parameter]:
        P = inspect.Parameter
        extra = [P("axis", P.KEYWORD_ONLY, default=1)] if self._has_weight() else []
        return [*extra, P("out", P.KEYWORD_ONLY, default=None)]

    def _has_weight(self) -> bool:
        return any(p.kind == "weight" for p in self.activation.params)

    def _params(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        return self.activation.bind(args, kwargs)

    def _prepare(self, x, args, kwargs):
        """(x as array, compute dtype, result dtype, params rounded to the compute dtype)."""
        axis = kwargs.pop("axis", 1) if self._weights else None
        x = as_real_array(x, "x")
        params = self._params(args, kwargs)
        cdtype = compute_dtype(self.activation, x.dtype)
        rdtype = result_dtype(self.activation, x.dtype)
        pdtype = np.promote_types(rdtype, np.float32)  # parameters must be finite in it
        params = {
            k: _round_param(k, v, cdtype, pdtype) if k not in self._weights else v
            for k, v in params.items()
        }
        for name in self._weights:
            weight = as_real_array(params[name], name)
            if weight.dtype.kind == "b":
                raise TypeError(f"{name} must hold real slopes (float or int), got dtype bool")
            with np.errstate(all="ignore"):
                weight = weight.astype(cdtype)
            if not np.isfinite(weight).all():
                raise ValueError(
                    f"{name} must hold finite slopes in {cdtype} (the dtype relukit computes in "
                    f"for {x.dtype} input); got a NaN or an infinity"
                )
            params[name] = _shape_weight(weight, x, axis, name)
        return x, cdtype, rdtype, params

    # --- the three entry points -----------------------------------------------------------

    def __call__(self, x, *args, out=None, **kwargs):
        if isinstance(x, np.ma.MaskedArray):
            return _masked(self, x, args, kwargs, out)
        x, cdtype, rdtype, params = self._prepare(x, args, kwargs)
        if x.dtype.kind in "biu" and self.activation.keeps_integers:
            cdtype = rdtype = x.dtype  # ReLU of integers stays exact in the integer dtype
        return self._evaluate(self.activation.forward, x, cdtype, rdtype, params, out)

    def derivative(self, x, *args, out=None, **kwargs):
        """f'(x) elementwise, the kink rule applied; same arguments as the function itself."""
        if isinstance(x, np.ma.MaskedArray):
            return _masked(self.derivative, x, args, kwargs, out)
        x, cdtype, rdtype, params = self._prepare(x, args, kwargs)
        return self._evaluate(self.activation.derivative, x, cdtype, rdtype, params, out)

    def backward(self, grad_output, x, *args, **kwargs):
        """The input gradient ``grad_output · f'(x)`` (vector–Jacobian product).

        With a weight (PReLU), ``(grad_input, grad_weight)``, grad_weight reduced to the
        weight's shape.

        Args:
            grad_output: the gradient of the loss with respect to f(x); same shape as x.
            x: the input f was evaluated at; then the parameters, as for the function.
        """
        raw = self.activation.bind(args, {k: v for k, v in kwargs.items() if k != "axis"})
        x, cdtype, rdtype, params = self._prepare(x, args, kwargs)
        g = _check_grad(grad_output, x.shape)
        gx = self._input_grad(g, x, cdtype, rdtype, params)
        if not self._weights:
            return gx
        (name,) = self._weights
        weight = as_real_array(raw[name], name)
        w = params[name]
        with np.errstate(all="ignore"):
            # ∂L/∂a = Σ grad·∂f/∂a over every axis but the channel axis.
            dw = g.astype(cdtype, copy=False) * self._evaluate(
                self.activation.weight_derivative, x, cdtype, cdtype, {}, None
            )
            axes = tuple(i for i in range(np.ndim(dw)) if w.ndim == 0 or w.shape[i] == 1)
            gw = np.sum(dw, axis=axes).reshape(weight.shape)
        gw_dtype = weight.dtype if weight.dtype.kind == "f" else rdtype
        return gx, gw.astype(gw_dtype)

    def _evaluate(self, fn, x, cdtype, rdtype, params, out):
        """The catalog function ``fn`` at x, in the namespace whose precision suits rdtype."""
        ns = _numpy_ns.for_dtype(rdtype)
        return _run(
            lambda v, out=None: fn(ns, v, **params, out=out),
            x,
            cdtype,
            rdtype,
            out,
            not self.activation.piecewise_linear,
        )

    def _input_grad(self, g, x, cdtype, rdtype, params):
        # grad·f'(x): f' is exact (the kink rule and NaN handled by the catalog), so one product
        # in the compute dtype rounds once. g·1 = g and g·slope are exact for any finite g.
        slope = self.activation.nonpositive_slope
        if slope is not None and np.ndim(s := slope(**params)) == 0 and s == 0:
            # ReLU: f' ∈ {0, 1} is the comparison itself, written straight into floats (a bool
            # mask times a float array takes NumPy's buffered casting path: 0.24 ms against
            # 0.17 ms per 1e6 float32, measured here); then one in-place product.
            xc = x.astype(cdtype, copy=False)
            d = np.greater(xc, 0, out=np.empty(xc.shape, cdtype), casting="unsafe")
            with np.errstate(all="ignore"):
                gx = np.multiply(d, g, out=d if g.dtype == d.dtype else None)
                gx = _zero_where_flat(gx, g, lambda: ~(xc > 0))
            gx = _numpy_ns.WIDE.propagate_nan(xc, gx)
        else:
            d = self._evaluate(self.activation.derivative, x, cdtype, cdtype, params, None)
            with np.errstate(all="ignore"):
                gc = g.astype(cdtype, copy=False)
                gx = _zero_where_flat(np.multiply(d, gc, dtype=cdtype), gc, lambda: d == 0)
        with np.errstate(over="ignore"):  # a narrower dtype may round to ±inf
            gx = np.asarray(gx).astype(rdtype, copy=False)
        return gx[()] if x.ndim == 0 else gx


def _zero_where_flat(gx: np.ndarray, g: np.ndarray, flat: Any) -> np.ndarray:
    """grad·f' with an exact 0 where f' = 0, also for an infinite or NaN upstream gradient.

    The kink rule selects the branch, and a flat branch passes nothing back (as torch's and
    Keras' selects do), never 0·inf = NaN. Only an upstream gradient that is not all finite can
    produce it: one read-only reduction looks (a sum is finite iff every element is, up to a
    harmless overflow false alarm), and the masked fix-up (``flat()``: where f' = 0) runs only
    then.
    """
    if g.size and not np.isfinite(np.add.reduce(g, axis=None)):
        where = np.broadcast_to(flat(), gx.shape)
        if gx.ndim == 0:
            return np.zeros_like(gx) if where else gx
        gx[where] = 0
    return gx


def _round_param(name: str, value: Any, cdtype: np.dtype, pdtype: np.dtype) -> Any:
    """A real parameter rounded to the compute dtype ``cdtype``.

    The contract's rule, the same on every backend: a parameter must be finite in the input's
    floating dtype (float32 for half types and integers' float64), where PyTorch computes with
    it; one that overflows it is refused, naming both.
    """
    if not isinstance(value, float):  # a choice
        return value
    limit = float(np.finfo(pdtype).max)
    if abs(value) > limit:
        raise ValueError(
            f"{name}={value!r} overflows {pdtype}, the dtype this input's parameters must be "
            f"finite in; use a value of magnitude at most {limit:.4g}"
        )
    return cdtype.type(value)


def _masked(fn, x: np.ma.MaskedArray, args: tuple, kwargs: dict, out: Any) -> np.ma.MaskedArray:
    """``fn`` on a masked array's data, the mask kept (as NumPy's ufuncs keep it)."""
    if out is not None:
        raise TypeError("out= is not supported with a masked array; call without out=")
    mask = np.ma.getmaskarray(x).copy()
    return np.ma.MaskedArray(fn(np.ma.getdata(x), *args, **kwargs), mask=mask)


def _check_grad(grad_output, shape) -> np.ndarray:
    g = as_real_array(grad_output, "grad_output")
    if g.shape != shape:
        raise ValueError(f"grad_output must have the shape of x, {shape}; got {g.shape}")
    return g


def _shape_weight(weight: np.ndarray, x: np.ndarray, axis, name: str) -> np.ndarray:
    """A scalar or 1-D weight shaped to broadcast along ``axis`` of x."""
    if weight.ndim > 1:
        raise ValueError(f"{name} must be a scalar or 1-D array, got shape {weight.shape}")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {axis!r}")
    if weight.size == 1:
        return weight.reshape(())
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"axis {axis} is out of range for x with {x.ndim} dimensions; a {name} of "
            f"{weight.size} slopes needs a channel axis"
        )
    channels = x.shape[axis]
    if weight.size != channels:
        raise ValueError(
            f"{name} has {weight.size} slopes but x has {channels} channels along axis "
            f"{axis}; {name} must have size 1 or {channels}"
        )
    shape = [1] * x.ndim
    shape[axis] = channels
    return weight.reshape(shape)


def _signature(
    activation: Activation, leading: list[str], extra: list[inspect.Parameter]
) -> inspect.Signature:
    """``(x, <catalog parameters with defaults>, *, <extra keywords>)``."""
    P = inspect.Parameter
    params = [P(name, P.POSITIONAL_OR_KEYWORD) for name in leading]
    params += [
        P(p.name, P.POSITIONAL_OR_KEYWORD, default=P.empty if p.kind == "weight" else p.default)
        for p in activation.params
    ]
    return inspect.Signature(params + extra)


def _render_doc(activation: Activation) -> str:
    name = activation.name
    integers = (
        "integer and bool inputs keep their dtype"
        if activation.keeps_integers
        else "integers and bools promote to float64"
    )
    args = [("x", f"array-like of real numbers; {integers}.")]
    args += [
        (p.name, _docs.param_doc(p, weight="A scalar, or a 1-D array of one slope per channel."))
        for p in activation.params
    ]
    if any(p.kind == "weight" for p in activation.params):
        args.append(("axis", "the channel axis of x for a 1-D weight. Default: ``1`` (Keras: -1)."))
    args.append(("out", "optional array of the result's shape and dtype to write into."))
    return _docs.render(
        activation,
        args=args,
        returns=(
            f"f(x) in x's floating dtype ({integers}): float32 and float16 within 1 ulp, float64 "
            f"within 4 ulp of the mathematical value. ``{name}.derivative`` takes the same "
            f"arguments and returns f'(x); ``{name}.backward(grad_output, x, ...)`` returns "
            "grad_output·f'(x)"
            + (
                ", and the weight's gradient summed to its shape."
                if activation.weight_derivative
                else "."
            )
        ),
        sections=[("Shape", "Any; the result has x's shape.")],
        example=_docs.example_lines(
            activation,
            setup=[
                "import numpy as np, relukit",
                f"x = np.array({_docs.example_input(activation)})",
            ],
            call=lambda args: f"relukit.{name}({args})",
            value=lambda expr: f"{expr}.tolist()",
            derivative=lambda args: f"relukit.{name}.derivative({args})",
        ),
    )


def function(activation: Activation) -> NumpyActivation:
    """The NumPy function for a catalog entry: f(x) with ``.derivative`` and ``.backward``."""
    return NumpyActivation(activation)
