"""Double-double arithmetic against any array namespace (Dekker 1971, no FMA needed).

Used where a rounding in float64 would be amplified: GELU's tails multiply the relative error of
an argument like ``x/√2`` or ``x³`` by up to ``x²`` (≈1000 ulp near |x| = 30 in float64).
Carrying the argument as an unevaluated sum ``hi + lo`` keeps results within a few ulp.
All helpers are plain arithmetic, so they serve NumPy arrays, torch tensors and Python floats.
"""

from __future__ import annotations

from typing import Any

# Veltkamp's splitters: 2**27 + 1 splits a float64 into two 26-bit halves, 2**12 + 1 a float32
# into two 12-bit halves.
SPLITTER_FLOAT64 = 134217729.0
SPLITTER_FLOAT32 = 4097.0


def split(a: Any, splitter: float = SPLITTER_FLOAT64) -> tuple[Any, Any]:
    """``a = hi + lo`` with both halves exact in half the significand (float64: |a| < 2**996)."""
    c = splitter * a
    hi = c - (c - a)
    return hi, a - hi


def two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``a + b = s + e`` exactly, with ``s = fl(a + b)`` (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def two_prod(
    a: Any,
    b: Any,
    b_split: tuple[Any, Any] | None = None,
    splitter: float = SPLITTER_FLOAT64,
) -> tuple[Any, Any]:
    """``a·b = p + e`` exactly, with ``p = fl(a·b)`` (Dekker); pass ``b_split`` for a constant."""
    p = a * b
    ah, al = split(a, splitter)
    bh, bl = b_split if b_split is not None else split(b, splitter)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def const(hi: float, lo: float) -> tuple[float, float, tuple[float, float]]:
    """A double-double constant ``hi + lo`` with ``hi``'s split precomputed."""
    return hi, lo, split(hi)
