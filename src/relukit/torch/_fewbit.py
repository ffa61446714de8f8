r"""Few-bit backward for GELU, SiLU and Mish: keep a k-bit code per element instead of the input.

These entries' exact backward needs the input x (4 bytes per float32 element): their derivative
is not a function of the output (the catalog marks them ``few_bit``), e.g. GELU's
f'(x) = Φ(x) + x·φ(x) or SiLU's σ(x)(1 + x(1 − σ(x))). The few-bit backward (Novikov et al.,
"Few-Bit Backward", ICML 2023) keeps only *which piece* of a piecewise-constant approximation q of
f' the input fell in, k = 1…4 bits per element, and backward returns ``grad · q(x)``:

.. math::

    q(x) = l_i \quad\text{for}\quad b_i < x \le b_{i+1},\qquad i = 0,\dots,2^k-1,\quad
    b_0 = -\infty,\ b_{2^k} = +\infty.

Our breakpoints b and levels l minimise the *Gaussian-weighted* squared error
∫ (f'(x) − q(x))² φ(x) dx (φ the standard normal density: roughly what a GELU input looks like
after a normalisation layer); Few-Bit's own tables weight every x in [−100, 100] equally.
``scripts/make_fewbit_tables.py`` computes one table per *target* (``few_bit_targets()``: "gelu",
"gelu_tanh", "silu", "mish") and width (exact dynamic programming) and writes
``relukit/_data/fewbit.json``, which ships with the package and is read once, lazily.

Errors of the shipped tables, exact GELU (the tanh form's agree to 3 digits; SiLU's and Mish's are
in ``benchmarks/results/fewbit.md``), with ``gaussian_l2`` = sqrt(∫ (f' − q)² φ dx) and
``max_abs`` = sup over all real x of |f' − q|:

====  ============  ===========  =================================
bits  gaussian_l2   max_abs      uniform-weighted table's gaussian_l2
====  ============  ===========  =================================
1     0.196         0.409        0.216
2     0.0894        0.187        0.0949
3     0.0437        0.0900       0.0582
4     0.0243        0.102        0.0283
====  ============  ===========  =================================

The tables trade the tails for the bulk: for k = 3 and 4 GELU's outermost pieces have levels
≈ −0.09…−0.05 and ≈ 1.09…1.10, so for |x| ≳ 2.5 the gradient factor is off by up to the max_abs
above (f'(−∞) = 0, f'(+∞) = 1), while inside [−2, 2] the error is far below it.

What is stored for backward (``ctx.save_for_backward``, so ``saved_tensors_hooks`` see it):
one ``uint8`` tensor of exactly ⌈n·k/8⌉ bytes (element i's code is bits k·i … k·i+k−1 of the
little-endian byte stream) — plus, only when the input holds a NaN, a 1-bit-per-element NaN mask.
Nothing else: no input, no output, no float tensor.

Behaviour:

* value: relukit's own (``relukit.torch.functional.gelu``/``silu``/``mish`` without
  ``backward_bits``, bit for bit), with its special values: f(−inf) = 0 and f(+inf) = +inf
  (PyTorch's CPU kernels return NaN there). Under ``torch.compile`` GELU's value is ATen's
  (inductor generates its own erf) patched at ±inf; SiLU's and Mish's are relukit's.
* gradient: ``grad · q(x)`` exactly (the level rounded to grad's dtype, one multiplication); a point
  on a breakpoint takes the left piece (``torch.bucketize`` semantics), and the breakpoints are
  honoured exactly in every dtype (they are rounded down to the input's dtype).
  ±inf inputs get the outermost levels. A NaN input gets a NaN gradient (in eager mode, exactly
  at the NaN positions; under ``torch.compile`` the whole gradient of that call is NaN — the
  per-element mask would need a data-dependent branch, see ``_forward_traceable``).
* second derivative: q is piecewise constant, so the backward is linear in grad and its derivative
  with respect to the input is 0; double backward works and says so.
* dtypes: float16, bfloat16, float32, float64, any shape (0-d, empty, non-contiguous), any device
  (the tables are cached per device and dtype). Integer, bool and complex inputs raise TypeError.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import torch
from torch import Tensor

from .._catalog import few_bit_targets
from . import _fast_smooth
from ._fast import FAST

__all__ = ["BITS", "TARGETS", "FewBitTable", "fewbit", "fewbit_table", "packed_nbytes", "target"]

BITS = (1, 2, 3, 4)
TARGETS = few_bit_targets()  # key -> (catalog entry, parameters)

_TABLE_FILE = "fewbit.json"
_DOC: dict[str, Any] | None = None
# (target, bits, device, dtype) -> _DeviceTable; filled lazily, never evicted (16 tables per
# device and dtype, ≤ 400 KiB each).
_CACHE: dict[tuple[str, int, torch.device, torch.dtype], _DeviceTable] = {}

# The eager encoder finds each element's piece by a table lookup on the top 16 bits of its bit
# pattern (sign, exponent and leading mantissa bits: 65536 cells, each an interval of floats that
# holds at most one breakpoint), plus one comparison with that cell's breakpoint. For float16 and
# bfloat16 the 16 bits are the whole number and the lookup alone is exact. Measured on 1e6
# float32, 1 CPU thread: torch.bucketize 14 ms, 15 comparisons 4.6 ms, this lookup ~1 ms (the
# GELU value itself: 0.2 ms).
# Work goes in blocks of 2**18 elements with scratch buffers allocated once per call: fresh
# multi-MB temporaries cost more in page faults than the arithmetic does (glibc returns them to
# the OS on free).
_BLOCK = 1 << 18
_KEY_SHIFT = {2: 0, 4: 16, 8: 48}  # element size -> right shift that leaves the top 16 bits
_INT_OF_SIZE = {2: torch.int16, 4: torch.int32, 8: torch.int64}


@dataclass(frozen=True)
class FewBitTable:
    """One shipped table: q(x) = levels[i] for breakpoints[i−1] < x ≤ breakpoints[i].

    Attributes:
        target: whose derivative this approximates: ``"gelu"``, ``"gelu_tanh"``, ``"silu"`` or
            ``"mish"`` (a key of ``TARGETS``).
        bits: k; there are 2**k levels and 2**k − 1 breakpoints.
        breakpoints: interior breakpoints, increasing (float64).
        levels: the Gaussian-weighted mean of f' over each piece (float64).
        gaussian_l2: sqrt(∫ (f'(x) − q(x))² φ(x) dx) over the real line, φ = N(0, 1) density.
        max_abs_error: sup over all real x of |f'(x) − q(x)|.
        uniform_gaussian_l2: gaussian_l2 of the table that is optimal for weight 1 on
            [−100, 100] (Few-Bit's kind of table), for comparison.
    """

    target: str
    bits: int
    breakpoints: tuple[float, ...]
    levels: tuple[float, ...]
    gaussian_l2: float
    max_abs_error: float
    uniform_gaussian_l2: float


@dataclass(frozen=True)
class _DeviceTable:
    breakpoints: Tensor  # in the input dtype, each rounded down (so x > b̃ ⟺ x > b exactly)
    cell_code: Tensor | None  # uint8 (65536,): the code of the smallest number of each cell
    cell_break: Tensor | None  # the breakpoint inside each cell, +inf where none (32/64-bit only)
    decode: Tensor  # (2**chunk_bits, codes per chunk): the levels of every chunk of codes


def _document() -> dict[str, Any]:
    global _DOC
    if _DOC is None:
        path = resources.files("relukit").joinpath("_data").joinpath(_TABLE_FILE)
        _DOC = json.loads(path.read_text(encoding="utf-8"))
    return _DOC


def _check(key: str, bits: int) -> None:
    if key not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(map(repr, TARGETS))}; got {key!r}")
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in BITS:
        raise ValueError(f"backward_bits must be one of {BITS} (or None), got {bits!r}")


def target(name: str, params: Mapping[str, Any]) -> str:
    """The table key of catalog entry ``name`` with ``params``: ``target("gelu", {"approximate":
    "tanh"})`` is ``"gelu_tanh"``.

    Raises:
        ValueError: the entry has no few-bit backward (its output determines f', or it is
            piecewise linear: the exact backward is already as small).

    >>> target("silu", {}), target("gelu", {"approximate": "none"})
    ('silu', 'gelu')
    """
    for key, (entry, p) in TARGETS.items():
        if entry.name == name and all(params.get(k) == v for k, v in p.items()):
            return key
    names = sorted({entry.name for entry, _ in TARGETS.values()})
    raise ValueError(f"backward_bits is offered for {', '.join(names)} only; got {name!r}")


def fewbit_table(key: str = "gelu", bits: int = 4) -> FewBitTable:
    """The shipped k-bit table for a target's derivative (read from the package data once).

    Args:
        key: ``"gelu"`` (x·Φ(x)), ``"gelu_tanh"``, ``"silu"`` or ``"mish"``.
        bits: 1, 2, 3 or 4.

    Returns:
        The table with its breakpoints, levels and errors.

    Example:
        >>> from relukit.torch._fewbit import fewbit_table
        >>> t = fewbit_table("gelu", 3)
        >>> len(t.breakpoints), len(t.levels)
        (7, 8)
        >>> round(t.gaussian_l2, 4), round(t.uniform_gaussian_l2, 4)
        (0.0437, 0.0582)
        >>> round(fewbit_table("silu", 4).gaussian_l2, 4)
        0.0218
    """
    _check(key, bits)
    entry = _document()["tables"][key][str(bits)]
    return FewBitTable(
        target=key,
        bits=bits,
        breakpoints=tuple(entry["breakpoints"]),
        levels=tuple(entry["levels"]),
        gaussian_l2=entry["gaussian_l2"],
        max_abs_error=entry["max_abs_error"],
        uniform_gaussian_l2=entry["uniform_baseline"]["gaussian_l2"],
    )


def packed_nbytes(numel: int, bits: int) -> int:
    """Bytes the few-bit backward keeps for ``numel`` elements: ⌈numel·bits/8⌉.

    >>> packed_nbytes(1_000_000, 4), packed_nbytes(5, 3)
    (500000, 2)
    """
    return -(-numel * bits // 8)


def _round_down(values: list[float], dtype: torch.dtype) -> Tensor:
    """Each value rounded to the largest ``dtype`` number ≤ it."""
    exact = torch.tensor(values, dtype=torch.float64)
    rounded = exact.to(dtype)
    below = torch.nextafter(rounded, torch.full_like(rounded, -math.inf))
    return torch.where(rounded.double() > exact, below, rounded)


def _chunk(bits: int) -> tuple[int, int]:
    """(bits, codes) per chunk: a byte for k = 1, 2, 4; 12 bits (two per 3 bytes) for k = 3."""
    return (12, 4) if bits == 3 else (8, 8 // bits)


def _cells(b: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor | None] | None:
    """Lookup tables over the 65536 values of the top 16 bits of ``dtype``'s bit pattern.

    Returns ``(cell_code, cell_break)``: the code of x is ``cell_code[key] + (x > cell_break[key])``
    (``cell_break`` is None for 16-bit dtypes, whose cells are single numbers), or None if some
    cell holds two breakpoints.
    """
    size = torch.empty((), dtype=dtype).element_size()
    itype = _INT_OF_SIZE[size]
    key = torch.arange(1 << 16, dtype=torch.int64)
    low = key << _KEY_SHIFT[size]
    high = low | ((1 << _KEY_SHIFT[size]) - 1)
    if size == 2:
        low = torch.where(low >= 1 << 15, low - (1 << 16), low)
        high = low
    elif size == 4:
        low = torch.where(low >= 1 << 31, low - (1 << 32), low)
        high = torch.where(high >= 1 << 31, high - (1 << 32), high)
    # Bit patterns -> numbers: the ends of each cell (one of them may be a NaN pattern).
    ends = torch.stack([low.to(itype).view(dtype), high.to(itype).view(dtype)]).double()
    ends = torch.where(torch.isnan(ends), ends.flip(0), ends)  # a NaN end: use the other one
    lo = ends.min(0).values
    hi = ends.max(0).values
    nan = torch.isnan(lo)
    lo = torch.where(nan, 0.0, lo)
    hi = torch.where(nan, 0.0, hi)
    below_lo = torch.searchsorted(b, lo, side="left")  # breakpoints < the cell's smallest number
    below_hi = torch.searchsorted(b, hi, side="left")
    if bool(torch.any(below_hi - below_lo > 1)):
        return None
    cell_code = below_lo.to(torch.uint8)
    if size == 2:
        return cell_code, None
    inside = below_hi > below_lo
    cell_break = torch.full((1 << 16,), math.inf, dtype=torch.float64)
    cell_break[inside] = b[below_lo[inside]]
    return cell_code, cell_break.to(dtype)


def _build(key: str, bits: int, device: torch.device, dtype: torch.dtype) -> _DeviceTable:
    table = fewbit_table(key, bits)
    bps = _round_down(list(table.breakpoints), dtype)
    # One breakpoint: a single comparison beats any lookup.
    cells = _cells(bps.double(), dtype) if bits > 1 else None
    cell_code, cell_break = cells if cells is not None else (None, None)
    chunk_bits, per = _chunk(bits)
    values = torch.arange(1 << chunk_bits)[:, None]
    codes = (values >> (bits * torch.arange(per))[None, :]) & ((1 << bits) - 1)
    decode = torch.tensor(table.levels, dtype=torch.float64)[codes].to(dtype)

    def move(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.to(device)

    return _DeviceTable(
        breakpoints=bps.to(device),
        cell_code=move(cell_code),
        cell_break=move(cell_break),
        decode=decode.to(device),
    )


def _tables(key: str, bits: int, device: torch.device, dtype: torch.dtype) -> _DeviceTable:
    cache_key = (key, bits, device, dtype)
    t = _CACHE.get(cache_key)
    if t is None:
        t = _CACHE[cache_key] = _build(key, bits, device, dtype)
    return t


@torch.compiler.assume_constant_result
def _traced_table(key: str, bits: int, dtype: torch.dtype) -> tuple[tuple, tuple]:
    """(breakpoints rounded down to dtype, levels) as Python floats. Under ``torch.compile`` this
    runs once at trace time and its result is a constant of the graph (file reads do not trace)."""
    table = fewbit_table(key, bits)
    return tuple(_round_down(list(table.breakpoints), dtype).tolist()), table.levels


def _pack_into(code: Tensor, bits: int, out: Tensor) -> None:
    """Codes (uint8, < 2**bits, a multiple of 8 of them) -> out (n·bits/8 bytes): element i at
    bits k·i … k·i+k−1 of the little-endian byte stream."""
    _, per = _chunk(bits)
    v = code.view(-1, per)
    if bits == 3:
        v = v.to(torch.int32)
        chunk = v[:, 0] | (v[:, 1] << 3) | (v[:, 2] << 6) | (v[:, 3] << 9)  # 12 bits
        w = chunk.view(-1, 2)
        w = w[:, 0] | (w[:, 1] << 12)  # 24 bits: 8 codes in 3 bytes
        out.view(-1, 3).copy_(torch.stack([w & 255, (w >> 8) & 255, w >> 16], dim=1))
        return
    torch.bitwise_or(v[:, 0], v[:, 1] << bits, out=out)  # per ≥ 2
    for e in range(2, per):
        out |= v[:, e] << (bits * e)


def _word_masks(bits: int) -> tuple[tuple[int, int], ...]:
    """(shift, mask) of the three steps that squeeze 8 codes, one per byte of an int64 word, into
    its low 8·bits bits: step s merges neighbouring fields of width bits·2^s."""
    steps = []
    for s in range(3):
        width = 16 << s
        lane = (1 << (bits << (s + 1))) - 1
        mask = sum(lane << j for j in range(0, 64, width))
        steps.append(((8 - bits) << s, mask - (1 << 64) if mask >= 1 << 63 else mask))
    return tuple(steps)


def _pack_words(code: Tensor, bits: int, out: Tensor, tmp: Tensor) -> None:
    """``_pack_into`` for little-endian machines, in place on ``code`` (3 shift-or-mask steps on
    int64 words instead of 8/bits strided byte columns: 1.2–2.7× faster)."""
    w = code.view(torch.int64)
    t = tmp[: w.numel()]
    for shift, mask in _word_masks(bits):
        w |= torch.bitwise_right_shift(w, shift, out=t)
        w &= mask
    out.view(-1, bits).copy_(w.view(torch.uint8).view(-1, 8)[:, :bits])


def _pad8(code: Tensor) -> Tensor:
    pad = -code.numel() % 8
    return torch.cat([code, code.new_zeros(pad)]) if pad else code


def _encode(flat: Tensor, t: _DeviceTable, bits: int) -> Tensor:
    """⌈n·bits/8⌉ packed bytes of the codes #{breakpoints b : b < x} of a flat contiguous x."""
    n = flat.numel()
    packed = torch.empty(packed_nbytes(n, bits), dtype=torch.uint8, device=flat.device)
    block = min(_BLOCK, n)
    if n == 0:
        return packed
    size = flat.element_size()
    block += -block % 8
    code = torch.empty(block, dtype=torch.uint8, device=flat.device)
    words = torch.empty(block // 8, dtype=torch.int64, device=flat.device)
    little = sys.byteorder == "little"
    if t.cell_code is not None:
        key = torch.empty(
            block, dtype=torch.int64 if size == 8 else torch.int32, device=flat.device
        )
        if t.cell_break is not None:
            brk = torch.empty(block, dtype=flat.dtype, device=flat.device)
            above = torch.empty(block, dtype=torch.bool, device=flat.device)
    else:
        above = torch.empty(block, dtype=torch.bool, device=flat.device)
    for start in range(0, n, block):
        xs = flat[start : start + block]
        m = xs.numel()
        c = code[:m]
        if t.cell_code is not None:
            k = key[:m]
            bits_view = xs.view(_INT_OF_SIZE[size])
            if size == 2:
                k.copy_(bits_view)
            else:
                torch.bitwise_right_shift(bits_view, _KEY_SHIFT[size], out=k)
            k.bitwise_and_(0xFFFF)
            torch.index_select(t.cell_code, 0, k, out=c)
            if t.cell_break is not None:
                torch.index_select(t.cell_break, 0, k, out=brk[:m])
                c.add_(torch.gt(xs, brk[:m], out=above[:m]).view(torch.uint8))
        else:  # no lookup table for this dtype: count the breakpoints below x
            torch.gt(xs, t.breakpoints[0], out=c.view(torch.bool))
            for b in t.breakpoints[1:]:
                c.add_(torch.gt(xs, b, out=above[:m]).view(torch.uint8))
        first, stop = start * bits // 8, packed_nbytes(start + m, bits)
        if m % 8:  # the last block: pad to whole words, keep the bytes that hold codes
            c = code[: m + (-m % 8)]
            c[m:] = 0
            dest = torch.empty(c.numel() * bits // 8, dtype=torch.uint8, device=flat.device)
        else:
            dest = packed[first:stop]
        if little:
            _pack_words(c, bits, dest, words)
        else:  # pragma: no cover - no big-endian CI
            _pack_into(c, bits, dest)
        if m % 8:
            packed[first:stop].copy_(dest[: stop - first])
    return packed


def _decode(packed: Tensor, n: int, bits: int, t: _DeviceTable) -> Tensor:
    """Per-element levels (n,) in the table's dtype, from the packed codes."""
    full = packed_nbytes(-(-n // 8) * 8, bits)
    if packed.numel() != full:
        packed = torch.cat([packed, packed.new_zeros(full - packed.numel())])
    chunk_bits, per = _chunk(bits)
    nchunks = full * 8 // chunk_bits
    out = torch.empty(nchunks, per, dtype=t.decode.dtype, device=packed.device)
    step = _BLOCK // per  # chunks per block
    index = torch.empty(min(step, nchunks), dtype=torch.int32, device=packed.device)
    for start in range(0, nchunks, step):
        stop = min(start + step, nchunks)
        i = index[: stop - start]
        if bits == 3:  # two 12-bit chunks in every 3 bytes
            b = packed[start * 3 // 2 : stop * 3 // 2].view(-1, 3).to(torch.int32)
            w = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            torch.stack([w & 0xFFF, w >> 12], dim=1, out=i.view(-1, 2))
        else:
            i.copy_(packed[start:stop])
        torch.index_select(t.decode, 0, i, out=out[start:stop])
    return out.view(-1)[:n]


def _unpack_codes(packed: Tensor, n: int, bits: int) -> Tensor:
    """The codes (int64, n) from the packed bytes (traceable; used under torch.compile)."""
    full = packed_nbytes(-(-n // 8) * 8, bits)
    if packed.numel() != full:
        packed = torch.cat([packed, packed.new_zeros(full - packed.numel())])
    b = packed.view(-1, bits).to(torch.int64)
    word = b[:, 0]
    for i in range(1, bits):
        word = word | (b[:, i] << (8 * i))
    shifts = bits * torch.arange(8, device=packed.device)
    return ((word[:, None] >> shifts) & ((1 << bits) - 1)).view(-1)[:n]


def _pack_bits(mask: Tensor) -> Tensor:
    """A bool tensor as 1 bit per element (little-endian bit order in each byte)."""
    c = _pad8(mask.reshape(-1).view(torch.uint8))
    out = torch.empty(c.numel() // 8, dtype=torch.uint8, device=mask.device)
    _pack_into(c, 1, out)
    return out


def _unpack_bits(packed: Tensor, n: int) -> Tensor:
    """The bool (n,) written by ``_pack_bits``."""
    shifts = torch.arange(8, device=packed.device, dtype=torch.uint8)
    return ((packed[:, None] >> shifts) & 1).view(-1)[:n].bool()


def _value(key: str, x: Tensor) -> Tensor:
    """The value as ``relukit.torch.functional`` computes it without ``backward_bits``: the same
    fast path (native kernels, ATen's float64 kernels rounded once, the catalog's float64 math),
    special values included; no graph."""
    entry, params = TARGETS[key]
    with torch.no_grad():
        return FAST[entry.name].run(x.detach(), params, {}, False, {})


def _traced_value(key: str, x: Tensor) -> Tensor:
    """The value in traceable, branch-free code (torch.compile, meta tensors)."""
    entry, params = TARGETS[key]
    if entry.name != "gelu":
        return _fast_smooth.value(entry.name, x, params)
    # Inductor generates its own erf for ATen's GELU (within ~5e-7 absolute, not bitwise).
    y = torch.nn.functional.gelu(x, **params)
    return torch.where(torch.isinf(x), x.clamp(min=0), y)


def _forward_eager(x: Tensor, key: str, bits: int) -> tuple[Tensor, tuple[Tensor, ...]]:
    t = _tables(key, bits, x.device, x.dtype)
    y = _value(key, x)
    flat = x.reshape(-1)
    # One cheap reduction decides whether anything is non-finite (a NaN or ±inf makes the sum
    # non-finite; so can an overflow of huge finite values, which only costs the careful path).
    total = flat.sum(dtype=torch.float32 if x.element_size() < 4 else x.dtype)
    packed = _encode(flat, t, bits)
    if bool(torch.isfinite(total)):
        return y, (packed,)
    nan = torch.isnan(flat)
    if bool(nan.any()):
        return y, (packed, _pack_bits(nan))
    return y, (packed,)


def _forward_traced(x: Tensor, key: str, bits: int) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Branch-free forward for torch.compile (a data-dependent ``if`` breaks the graph): the code
    is a sum of comparisons (inductor fuses it into the value's loop), and NaN is recorded as one
    0-d flag that makes the whole gradient of this call NaN."""
    bps, _ = _traced_table(key, bits, x.dtype)
    y = _traced_value(key, x)
    flat = x.reshape(-1)
    code = torch.zeros_like(flat, dtype=torch.uint8)
    for b in bps:
        code = code + (flat > b).to(torch.uint8)
    code = _pad8(code)
    packed = torch.empty(code.numel() * bits // 8, dtype=torch.uint8, device=x.device)
    _pack_into(code, bits, packed)
    return y, (packed[: packed_nbytes(flat.numel(), bits)].clone(), torch.isnan(flat).any())


def _branch_free(x: Tensor) -> bool:
    """The traced (data-independent) code: under torch.compile, and on meta tensors (shape
    inference), where no value can be read."""
    return torch.compiler.is_compiling() or x.device.type == "meta"


class _FewBit(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, key: str, bits: int) -> Tensor:
        if _branch_free(x):
            y, saved = _forward_traced(x, key, bits)
        else:
            y, saved = _forward_eager(x, key, bits)
        ctx.save_for_backward(*saved)
        ctx.shape = x.shape
        ctx.key = key
        ctx.bits = bits
        return y

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, None, None]:
        packed, *nan = ctx.saved_tensors
        n = math.prod(ctx.shape)
        if _branch_free(grad):
            _, levels = _traced_table(ctx.key, ctx.bits, grad.dtype)
            table = torch.tensor(levels, dtype=grad.dtype, device=grad.device)
            q = table[_unpack_codes(packed, n, ctx.bits)]
        else:
            q = _decode(packed, n, ctx.bits, _tables(ctx.key, ctx.bits, grad.device, grad.dtype))
        # f'(x) ≈ q(x), the level of x's piece: grad_input = grad · q(x).
        grad_input = q.view(ctx.shape).mul_(grad)
        if nan:
            (flag,) = nan
            if flag.dim() == 0:  # traced: one flag for the whole call
                grad_input = torch.where(flag, torch.full_like(grad_input, math.nan), grad_input)
            else:
                grad_input = grad_input.masked_fill_(
                    _unpack_bits(flag, n).view(ctx.shape), math.nan
                )
        return grad_input, None, None


def fewbit(input: Tensor, key: str = "gelu", bits: int = 4) -> Tensor:
    r"""GELU, SiLU or Mish whose backward keeps a ``bits``-bit code per element, not the input.

    .. math::

        y = f(x),\qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\cdot q(x),\qquad
        q(x) = l_i\ \text{for}\ b_i < x \le b_{i+1}

    with the shipped Gaussian-optimal table of the target's f' (:func:`fewbit_table`): for the
    exact GELU and ``bits`` = 1, 2, 3, 4 the error sqrt(∫ (f' − q)² φ dx) is 0.196, 0.0894,
    0.0437, 0.0243 and the largest error anywhere, sup |f' − q|, is 0.409, 0.187, 0.0900, 0.102
    (reached in the tails, |x| ≳ 2.5, where f' → 0 or 1 but q keeps its outermost levels); SiLU's
    and Mish's are of the same size (``benchmarks/results/fewbit.md``).

    Users reach this through ``backward_bits``: ``relukit.torch.functional.silu(x,
    backward_bits=4)`` or ``relukit.torch.SiLU(backward_bits=4)`` (GELU and Mish alike).

    Saved for backward: ⌈numel·bits/8⌉ bytes (a bit-packed uint8 code tensor), plus a
    1-bit-per-element NaN mask only when the input holds a NaN. Without ``requires_grad`` (or under
    ``torch.no_grad``) nothing is encoded and this is just the value.

    Args:
        input: a floating tensor (float16, bfloat16, float32, float64), any shape and device.
        key: the target: ``"gelu"``, ``"gelu_tanh"``, ``"silu"`` or ``"mish"``. Default:
            ``"gelu"``.
        bits: 1, 2, 3 or 4. Default: 4.

    Returns:
        f(input), bit for bit relukit's value (f(−inf) = 0 and f(+inf) = +inf).

    Raises:
        TypeError: if ``input`` is not a floating tensor.
        ValueError: if ``key`` or ``bits`` is not one of the accepted values.

    Shape:
        Any; the result has the input's shape.

    Example:
        >>> import torch
        >>> from relukit.torch._fewbit import fewbit
        >>> x = torch.tensor([-3.0, -0.5, 0.5, 3.0], requires_grad=True)
        >>> y = fewbit(x, "gelu", bits=3)
        >>> y.sum().backward()
        >>> x.grad  # the levels of x's pieces; GELU'(x) = -0.012, 0.133, 0.867, 1.012
        tensor([-0.0900,  0.0668,  0.9332,  1.0900])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if not input.is_floating_point():
        raise TypeError(
            f"input must be a floating tensor (float16, bfloat16, float32, float64); got dtype "
            f"{input.dtype}"
        )
    _check(key, bits)
    if not (torch.is_grad_enabled() and input.requires_grad):
        return _traced_value(key, input) if _branch_free(input) else _value(key, input)
    return _FewBit.apply(input, key, bits)
