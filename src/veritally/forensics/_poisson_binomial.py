"""The exact law of a count of independent, unequal Bernoulli events (the Poisson-binomial distribution).

Several forensic nulls end as "how many of these units show the pattern by chance", each unit with its own
probability P_i: integer-percent stations (Kobak et al.), units flagged by a per-unit test. The count
X = Σ_i B_i, B_i ~ Bernoulli(P_i) independent, has the probability generating function Π_i (1 − P_i + P_i z);
its coefficients are computed here by products of polynomials:

* blocks of up to 128 units by the recursion pmf_j(k) = pmf_{j−1}(k)(1 − P_j) + pmf_{j−1}(k−1) P_j, vectorised
  over blocks;
* then a balanced tree of direct convolutions (``np.convolve``: sums of non-negative terms, so every probability,
  however small, keeps its relative precision, unlike an FFT);
* after each product only the window mean ± (40 s.d. + 100) is kept. By Bernstein's inequality the mass dropped
  is below exp(−140), so tail probabilities are exact to far below :data:`P_FLOOR`, and the cost stays near
  O(n·s.d.) instead of O(n²).
"""

from __future__ import annotations

import numpy as np

__all__ = ["poisson_binomial", "poisson_binomial_sf", "P_FLOOR"]

#: The smallest tail probability reported; the truncated windows keep everything above it exact.
P_FLOOR = 1e-60

_BLOCK = 128


def _window(mean: float, var: float) -> float:
    return 40.0 * float(np.sqrt(var)) + 100.0


def _truncate(offset: int, pmf: np.ndarray, mean: float, var: float) -> tuple[int, np.ndarray]:
    half = _window(mean, var)
    lo = max(0, int(np.floor(mean - half)) - offset)
    hi = min(pmf.size, int(np.ceil(mean + half)) - offset + 1)
    return offset + lo, pmf[lo:hi]


def poisson_binomial(p: np.ndarray) -> tuple[int, np.ndarray]:
    """``(offset, pmf)``: P(X = offset + j) = pmf[j] for X = Σ Bernoulli(p_i) independent, on the window that
    holds all but a negligible mass (module docstring)."""
    p = np.clip(np.asarray(p, dtype=np.float64).ravel(), 0.0, 1.0)
    if p.size == 0:
        return 0, np.ones(1)
    # The recursion costs one vectorised step per unit of a block: short blocks for few units, 128 for many.
    width = int(min(_BLOCK, max(8, np.ceil(np.sqrt(p.size)))))
    blocks = -(-p.size // width)
    padded = np.zeros(blocks * width)
    padded[: p.size] = p
    probs = padded.reshape(blocks, width)
    dist = np.zeros((blocks, width + 1))
    dist[:, 0] = 1.0
    for j in range(width):
        pj = probs[:, j : j + 1]
        shifted = dist[:, : j + 1] * pj
        dist[:, : j + 2] *= 1.0 - pj
        dist[:, 1 : j + 2] += shifted
    means = probs.sum(axis=1)
    variances = (probs * (1.0 - probs)).sum(axis=1)
    parts = [_truncate(0, dist[b], means[b], variances[b]) + (means[b], variances[b]) for b in range(blocks)]
    while len(parts) > 1:
        merged = []
        for i in range(0, len(parts) - 1, 2):
            (o1, f1, m1, v1), (o2, f2, m2, v2) = parts[i], parts[i + 1]
            merged.append(_truncate(o1 + o2, np.convolve(f1, f2), m1 + m2, v1 + v2) + (m1 + m2, v1 + v2))
        if len(parts) % 2:
            merged.append(parts[-1])
        parts = merged
    offset, pmf = parts[0][0], parts[0][1]
    return offset, pmf


def poisson_binomial_sf(p: np.ndarray, k: int) -> float:
    """P(X ≥ k) for X = Σ Bernoulli(p_i), floored at :data:`P_FLOOR` (never reported as exactly 0)."""
    offset, pmf = poisson_binomial(p)
    start = int(k) - offset
    if start <= 0:
        return 1.0
    tail = float(pmf[start:].sum()) if start < pmf.size else 0.0
    return float(min(1.0, max(tail, P_FLOOR)))
