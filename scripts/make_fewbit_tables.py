"""Regenerate the few-bit backward tables: ``src/relukit/_data/fewbit.json``.

One table per target and width: the derivative of exact GELU (``gelu``), of tanh-GELU
(``gelu_tanh``), of SiLU (``silu``) and of Mish (``mish``), k = 1…4 bits. A k-bit table replaces
the derivative f' by a piecewise-constant q with 2^k pieces: interior
breakpoints b_1 < … < b_{m-1} (m = 2^k) and levels l_0 … l_{m-1}, with q(x) = l_i for
b_i < x ≤ b_{i+1} (b_0 = −∞, b_m = +∞; a point on a breakpoint belongs to the piece on its left,
which is what ``torch.bucketize(x, breakpoints)`` returns).

What is minimised, and what is reported
---------------------------------------
For a weight w ≥ 0 the squared weighted L2 error of a table is

    E_w²(q) = ∫ (f'(x) − q(x))² w(x) dx.

* **Our tables** minimise E_w² with the standard normal density, w = φ(x) = exp(−x²/2)/√(2π) over
  the whole real line: the distribution an activation's input roughly has after a normalisation
  layer.
* **The uniform-weighted baseline** (Few-Bit Backward's kind of table) minimises E_w² with w = 1 on
  the finite interval [−100, 100]. That is the domain Few-Bit's own table builder uses
  (``fewbit/cli.py`` in github.com/skolai/fewbit calls ``approximate(..., domain=(-100, 100))``;
  its dynamic-programming notebook used [−10, 10]: ``--uniform-domain 10`` gives that variant,
  which changes the baseline's Gaussian error by a few percent).
* Both are then **evaluated under the Gaussian weighting**. The JSON records, for each table,

      gaussian_mse = ∫_{−∞}^{∞} (f'(x) − q(x))² φ(x) dx            (the squared error; this is
                                                                    the quantity PRIOR_ART quotes)
      gaussian_l2  = sqrt(gaussian_mse)                             (the L2 norm, RMS error of
                                                                    the gradient factor for
                                                                    x ~ N(0, 1))
      max_abs_error = sup over all real x of |f'(x) − q(x)|

  and the levels are the weighted means of f' over their pieces (the L2-optimal levels for given
  breakpoints under the table's own weighting).

How
---
1. The three antiderivatives W(x) = ∫w, S1(x) = ∫f'w, S2(x) = ∫f'²w are computed by 16-point
   Gauss–Legendre quadrature on cells of width 1/64 over [−12, 12] (f' is analytic: the rule is
   exact to rounding), where f' is relukit's own float64 derivative (``relukit.gelu.derivative``
   and friends, within 4 ulp). Beyond |x| = 12 the Gaussian weight is below Φ(−12) ≈ 1.8e-33, and
   f' is within 7e-5 of its limit (0 or 1; GELU's within 1e-30), so the Gaussian tails are added
   in closed form with f' at its limit (an error below 1e-37); the uniform weight's outer cells
   [12, 100] get the same quadrature on cells of width 1. The cost of one piece [a, b] is then
   exact: E²[a, b] = S2 − S1²/W (differences of the antiderivatives), with level S1/W.
2. An exact dynamic program over a grid of candidate breakpoints (spacing 1/256 on [−8, 8]; the
   ends are −∞/+∞ or ±100) finds the optimal segmentation into m pieces — one pass of the DP gives
   every m = 2, 4, 8, 16. Under the Gaussian weight no breakpoint outside [−8, 8] can help: the
   Gaussian mass beyond ±8 is 6e-16 (and GELU' is constant to 1e-13); the uniform baseline is
   restricted to the same candidates.
3. Each breakpoint is then refined by the same DP restricted to a window of ±2 grid steps around
   the previous optimum on a 40× finer grid, four times (final resolution ≈ 1.5e-9). The result
   satisfies the optimality condition f'(b_i) = (l_{i−1} + l_i)/2 to about 1e-8 (the tests check
   it).

The output is deterministic (no randomness; floats written with Python's shortest round-trip
repr). Run from the repository root::

    python scripts/make_fewbit_tables.py            # rewrites src/relukit/_data/fewbit.json
    python scripts/make_fewbit_tables.py --check    # exit 1 if the file differs beyond 1e-9
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy.special import ndtr

import relukit
from relukit._catalog import few_bit_targets

BITS = (1, 2, 3, 4)
# key -> (catalog entry, its parameters): the derivatives the tables approximate.
TARGETS = few_bit_targets()
UNIFORM_DOMAIN = 100.0  # Few-Bit's domain=(-100, 100)
CORE = 12.0  # beyond |x| = 12 the Gaussian weight is below 1.8e-33
CELL = 1.0 / 64  # quadrature cell width inside the core
SEARCH = 8.0  # candidate breakpoints live in [-SEARCH, SEARCH]
GRID = 1.0 / 256  # candidate spacing of the global DP
REFINE_FACTOR = 40
REFINE_ROUNDS = 4
OUTPUT = Path(__file__).resolve().parents[1] / "src" / "relukit" / "_data" / "fewbit.json"

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def derivative(x: np.ndarray, target: str) -> np.ndarray:
    """The target's f'(x) in float64 (relukit's NumPy reference, within 4 ulp)."""
    entry, params = TARGETS[target]
    fn = getattr(relukit, entry.name)
    return np.asarray(fn.derivative(np.asarray(x, dtype=np.float64), **params))


class Antiderivatives:
    """W, S1, S2 = ∫_lo^x w, ∫_lo^x f'w, ∫_lo^x f'²w for the weight ``"gaussian"`` or ``"uniform"``.

    The Gaussian weight lives on (−∞, ∞), the uniform one on [−domain, domain]; evaluating at
    ``±inf`` (or the domain's ends) gives 0 and the totals.
    """

    def __init__(self, target: str, weight: str, domain: float = UNIFORM_DOMAIN):
        self.target = target
        self.weight = weight
        core = np.linspace(-CORE, CORE, round(2 * CORE / CELL) + 1)
        if weight == "gaussian":
            self.lo, self.hi = -math.inf, math.inf
            mesh = core
            # Left tail: W = Φ(−12) ≈ 1.8e-33; f' ≈ −12·φ(12) there, so S1 and S2 add nothing.
            tail = np.array([ndtr(-CORE), 0.0, 0.0])
            right = np.array([ndtr(-CORE)] * 3)  # f' = 1 beyond 12: all three gain Φ(−12)
        elif weight == "uniform":
            if domain <= CORE:
                raise ValueError(f"uniform domain must exceed {CORE}, got {domain}")
            self.lo, self.hi = -domain, domain
            outer = np.linspace(CORE, domain, math.ceil(domain - CORE) + 1)
            mesh = np.concatenate([-outer[::-1], core[1:-1], outer])
            tail = np.zeros(3)
            right = np.zeros(3)
        else:
            raise ValueError(f"weight must be 'gaussian' or 'uniform', got {weight!r}")
        cells = self._integrate(mesh[:-1], mesh[1:])
        self.mesh = mesh
        self.at_mesh = tail + np.concatenate([np.zeros((1, 3)), np.cumsum(cells, axis=0)])
        self.total = self.at_mesh[-1] + right

    def _w(self, x: np.ndarray) -> np.ndarray:
        if self.weight == "gaussian":
            return np.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return np.ones_like(x)

    def _integrate(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a), 3) integrals of w, f'w, f'²w over [a_i, b_i] (Gauss–Legendre, 16 nodes)."""
        half = 0.5 * (b - a)
        x = (0.5 * (a + b))[:, None] + half[:, None] * _GL_NODES[None, :]
        w = self._w(x) * _GL_WEIGHTS[None, :] * half[:, None]
        fp = derivative(x, self.target)
        return np.stack([w.sum(1), (w * fp).sum(1), (w * fp * fp).sum(1)], axis=1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(len(x), 3): the three antiderivatives at points x (sorted or not)."""
        x = np.asarray(x, dtype=np.float64)
        out = np.empty((x.size, 3))
        below = x <= self.lo
        above = x >= self.hi
        inside = ~(below | above)
        out[below] = 0.0
        out[above] = self.total
        xi = x[inside]
        if np.any((xi < self.mesh[0]) | (xi > self.mesh[-1])):
            raise ValueError("candidate breakpoints must lie within the quadrature mesh")
        j = np.clip(np.searchsorted(self.mesh, xi, side="right") - 1, 0, self.mesh.size - 2)
        out[inside] = self.at_mesh[j] + self._integrate(self.mesh[j], xi)
        return out


def _piece_cost(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Minimal weighted squared error of one piece, from antiderivatives at its two ends."""
    w = right[..., 0] - left[..., 0]
    s1 = right[..., 1] - left[..., 1]
    s2 = right[..., 2] - left[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = s2 - s1 * s1 / w
    return np.where(w > 0, np.maximum(cost, 0.0), np.inf)


def _global_dp(anti: Antiderivatives, max_pieces: int) -> dict[int, np.ndarray]:
    """Exact optimal breakpoints from the candidate grid, for every m = 2^k ≤ max_pieces."""
    candidates = np.linspace(-SEARCH, SEARCH, round(2 * SEARCH / GRID) + 1)
    points = np.concatenate([[anti.lo], candidates, [anti.hi]])
    prim = anti(points)
    n = points.size
    dp = np.full((max_pieces + 1, n), np.inf)
    dp[0, 0] = 0.0
    arg = np.zeros((max_pieces + 1, n), dtype=np.int64)
    for j in range(1, n):
        cost = _piece_cost(prim[:j], prim[j][None, :])  # pieces (i, j], i < j
        total = dp[:-1, :j] + cost[None, :]
        arg[1:, j] = np.argmin(total, axis=1)
        dp[1:, j] = total[np.arange(max_pieces), arg[1:, j]]
    out = {}
    for k in BITS:
        m = 1 << k
        if m > max_pieces:
            break
        idx, j = [], n - 1
        for s in range(m, 0, -1):
            j = arg[s, j]
            idx.append(j)
        idx = idx[::-1][1:]  # drop the left end
        out[k] = points[idx]
    return out


def _refine(anti: Antiderivatives, breakpoints: np.ndarray, step: float) -> np.ndarray:
    """Exact DP with breakpoint i restricted to b_i ± 2·step on a grid of step/REFINE_FACTOR."""
    offsets = step * np.linspace(-2.0, 2.0, 4 * REFINE_FACTOR + 1)
    layers = [np.array([anti.lo])]
    layers += [b + offsets for b in breakpoints]
    layers.append(np.array([anti.hi]))
    prims = [anti(layer) for layer in layers]
    best = np.zeros(1)
    back = []
    for t in range(1, len(layers)):
        cost = _piece_cost(prims[t - 1][:, None, :], prims[t][None, :, :])
        cost = np.where(layers[t - 1][:, None] < layers[t][None, :], cost, np.inf)
        total = best[:, None] + cost
        back.append(np.argmin(total, axis=0))
        best = total[back[-1], np.arange(layers[t].size)]
    choice, out = 0, []
    for t in range(len(layers) - 1, 0, -1):
        choice = back[t - 1][choice]
        out.append(layers[t - 1][choice])
    return np.array(out[::-1][1:])


def levels_for(anti: Antiderivatives, breakpoints: np.ndarray) -> np.ndarray:
    """The weighted means of f' over the pieces (the optimal levels for these breakpoints)."""
    prim = anti(np.concatenate([[anti.lo], breakpoints, [anti.hi]]))
    d = np.diff(prim, axis=0)
    return d[:, 1] / d[:, 0]


def weighted_mse(anti: Antiderivatives, breakpoints: np.ndarray, levels: np.ndarray) -> float:
    """∫ (f' − q)² w over the weight's support, for any levels (not only the optimal ones)."""
    prim = anti(np.concatenate([[anti.lo], breakpoints, [anti.hi]]))
    d = np.diff(prim, axis=0)
    # Σ over pieces of ∫(f' − l)²w = S2 − 2l·S1 + l²W, written around the piece's own mean so
    # that nothing cancels: (S2 − S1²/W) + W·(l − S1/W)².
    mean = d[:, 1] / d[:, 0]
    return float(np.sum(np.maximum(d[:, 2] - d[:, 1] * mean, 0.0) + d[:, 0] * (levels - mean) ** 2))


def max_abs_error(target: str, breakpoints: np.ndarray, levels: np.ndarray) -> float:
    """sup over all real x of |f'(x) − q(x)|: both one-sided limits at each breakpoint, a 1e-4
    grid inside [−12, 12] (|f''| ≤ 1.2, so interior extrema are found to ~1e-8) and ±inf."""
    x = np.concatenate([np.linspace(-CORE, CORE, 240_001), breakpoints, [-np.inf, np.inf]])
    q = levels[np.searchsorted(breakpoints, x, side="left")]
    err = np.abs(derivative(x, target) - q)
    # The right-hand limit at each breakpoint (x = b belongs to the left piece).
    right = np.abs(derivative(breakpoints, target) - levels[1:])
    return float(max(err.max(), right.max(initial=0.0)))


def optimal_tables(
    target: str, weight: str, domain: float = UNIFORM_DOMAIN, grid_rounds: int | None = None
) -> dict[int, dict]:
    """Optimal k-bit tables for k in BITS under ``weight``, evaluated under the Gaussian weight."""
    anti = Antiderivatives(target, weight, domain)
    gauss = anti if weight == "gaussian" else Antiderivatives(target, "gaussian")
    rounds = REFINE_ROUNDS if grid_rounds is None else grid_rounds
    out = {}
    for k, bps in _global_dp(anti, 1 << max(BITS)).items():
        step = GRID
        for _ in range(rounds):
            bps = _refine(anti, bps, step)
            step /= REFINE_FACTOR
        lv = levels_for(anti, bps)
        mse = weighted_mse(gauss, bps, lv)
        out[k] = {
            "breakpoints": [float(b) for b in bps],
            "levels": [float(v) for v in lv],
            "gaussian_mse": mse,
            "gaussian_l2": math.sqrt(mse),
            "max_abs_error": max_abs_error(target, bps, lv),
        }
        if weight == "uniform":
            out[k]["uniform_mse"] = weighted_mse(anti, bps, lv)
    return out


def build(domain: float = UNIFORM_DOMAIN) -> dict:
    """The whole JSON document (deterministic)."""
    tables = {}
    for target in TARGETS:
        ours = optimal_tables(target, "gaussian")
        base = optimal_tables(target, "uniform", domain)
        tables[target] = {}
        for k in BITS:
            entry = dict(ours[k])
            entry["uniform_baseline"] = base[k]
            entry["ratio_mse"] = ours[k]["gaussian_mse"] / base[k]["gaussian_mse"]
            entry["ratio_l2"] = ours[k]["gaussian_l2"] / base[k]["gaussian_l2"]
            tables[target][str(k)] = entry
    return {
        "format": 1,
        "generator": "scripts/make_fewbit_tables.py",
        "description": (
            "Few-bit backward tables, per target (gelu, gelu_tanh, silu, mish) and width k: "
            "q(x) = levels[i] for breakpoints[i-1] < x <= "
            "breakpoints[i] (i = 0..2^k-1, breakpoints[-1] = -inf, breakpoints[2^k-1] = +inf). "
            "Ours minimise the Gaussian-weighted squared error of f'; uniform_baseline "
            "minimises it with weight 1 on [-uniform_domain, uniform_domain]."
        ),
        "metric": {
            "gaussian_mse": "integral over the real line of (f'(x) - q(x))^2 phi(x) dx",
            "gaussian_l2": "sqrt(gaussian_mse)",
            "max_abs_error": "sup over the real line of |f'(x) - q(x)|",
            "uniform_mse": "integral over [-d, d] of (f'(x) - q(x))^2 dx (baseline only)",
        },
        "uniform_domain": [-domain, domain],
        "grid": {
            "quadrature": f"16-point Gauss-Legendre on cells of {CELL} in [-{CORE}, {CORE}]",
            "dp_candidates": f"spacing {GRID} on [-{SEARCH}, {SEARCH}]",
            "refinement": f"{REFINE_ROUNDS} rounds, each {REFINE_FACTOR}x finer",
        },
        "tables": tables,
    }


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=1) + "\n"


def _max_difference(a, b) -> float:
    if isinstance(a, dict):
        if set(a) != set(b):
            return math.inf
        return max((_max_difference(a[key], b[key]) for key in a), default=0.0)
    if isinstance(a, list):
        if len(a) != len(b):
            return math.inf
        return max((_max_difference(u, v) for u, v in zip(a, b, strict=True)), default=0.0)
    if isinstance(a, float) and isinstance(b, (int, float)):
        return abs(a - b)
    return 0.0 if a == b else math.inf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    parser.add_argument("--uniform-domain", type=float, default=UNIFORM_DOMAIN)
    parser.add_argument("--check", action="store_true", help="compare with the file, write nothing")
    args = parser.parse_args(argv)
    doc = build(args.uniform_domain)
    for target in TARGETS:
        print(f"target={target!r}")
        print("  k  gaussian_l2(ours)  gaussian_l2(uniform)  ratio_l2  ratio_mse  max_abs(ours)")
        for k in BITS:
            e = doc["tables"][target][str(k)]
            print(
                f"  {k}  {e['gaussian_l2']:.6e}       {e['uniform_baseline']['gaussian_l2']:.6e}"
                f"          {e['ratio_l2']:.4f}    {e['ratio_mse']:.4f}     "
                f"{e['max_abs_error']:.4e}"
            )
    if args.check:
        old = json.loads(args.output.read_text())
        diff = _max_difference(json.loads(dumps(doc)), old)
        print(f"max difference to {args.output}: {diff:.3g}")
        return 0 if diff <= 1e-9 else 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(dumps(doc))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
