"""Sample sizes: closed forms where they exist, and simulation for any risk measure.

Closed forms (re-exported from their methods' modules, which cite the papers):

* BRAVO — :func:`bravo_asn`, :func:`bravo_quantile_sample_size` (70/80/90 % options),
  :func:`bravo_sample_size_options` (Arlo's whole option set);
* super-simple — :func:`supersimple_nmin`, :func:`supersimple_sample_size` (error-rate padding),
  :func:`km_expected_sample_size`, :func:`km_expected_sample_size_rounded`, :func:`rho`;
* MACRO — :func:`macro_sample_size` (with Arlo's one extra batch); SUITE — :func:`suite_sample_size`.

Simulation (:func:`simulated_sample_size`): the sample size at which a risk measure first reaches α, over
simulated audits whose draws come from an assumed population of assorter values (e.g. the CVRs with planted
error rates), reported at a quantile — SHANGRLA's ``NonnegMean.sample_size`` (pbstark/SHANGRLA @9d5db92),
vectorized across replicates: every replicate is a row of one 2-D array handed to the risk function at once,
and draws are generated only as far as the audits need them (doubling), not to N.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import numpy as np

from ..errors import ConfigError
from ._sequence import RiskResult
from .bravo import bravo_asn, bravo_expected_prob, bravo_quantile_sample_size, bravo_sample_size_options
from .macro import macro_sample_size
from .suite import suite_sample_size
from .supersimple import (km_expected_sample_size, km_expected_sample_size_rounded, rho, supersimple_nmin,
                          supersimple_sample_size)

__all__ = [
    "simulated_sample_size",
    "first_crossing",
    "comparison_values",
    "polling_values",
    "bravo_asn", "bravo_expected_prob", "bravo_quantile_sample_size", "bravo_sample_size_options",
    "supersimple_nmin", "supersimple_sample_size", "km_expected_sample_size", "km_expected_sample_size_rounded",
    "rho", "macro_sample_size", "suite_sample_size",
]

#: Rows of simulated audits evaluated at once (bounds memory at about rows × draws × 8 bytes per array).
_ROWS_PER_BLOCK = 2_000
#: SHANGRLA's default seed for sample-size simulations.
DEFAULT_SEED = 1234567890


def first_crossing(p_history: np.ndarray, alpha: float, *, limit: int | None = None) -> np.ndarray:
    """1-based index of the first p-value ≤ α along the last axis; 0 where none is (within ``limit`` draws)."""
    history = p_history if limit is None else p_history[..., :limit]
    crossed = history <= alpha
    return np.where(crossed.any(axis=-1), np.argmax(crossed, axis=-1) + 1, 0)


def _call(test: Callable[..., RiskResult], x: np.ndarray, N: float, params: dict) -> np.ndarray:
    accepts_n = "N" in inspect.signature(test).parameters
    return (test(x, N=N, **params) if accepts_n else test(x, **params)).p_history


def simulated_sample_size(test: Callable[..., RiskResult], x, alpha: float, *, N: int, reps: int | None = None,
                          prefix: bool = False, quantile: float = 0.5, seed: int = DEFAULT_SEED,
                          **test_params) -> int:
    """Sample size for ``test`` (e.g. :func:`~veritally.audit.risk.alpha_mart`) to reach ``alpha``.

    ``reps=None``: deterministic — the population is ``x`` with each value repeated ⌈N/len(x)⌉ times in order
    (SHANGRLA's tiling, ``np.repeat``), and the size is the first draw at which p ≤ α (N if never).
    ``reps`` given: each of ``reps`` simulated audits draws N values from ``x`` with replacement (after ``x``
    itself when ``prefix``), and the ``quantile`` of the sizes is returned (``np.quantile``, truncated to int,
    as SHANGRLA). The draws come from ``numpy.random.default_rng(seed)``; they are not bit-identical to
    SHANGRLA's ``RandomState`` draws, so results agree within simulation error, not exactly.
    ``test_params`` go to the test (t, u, estim, eta, g, lam, …).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) == 0:
        raise ConfigError("simulated_sample_size: x must be a non-empty 1-D array of assorter values")
    if not (isinstance(N, int | np.integer) and N > 0):
        raise ConfigError(f"simulated_sample_size needs a finite population size N, not {N!r}")
    if reps is None:
        population = np.repeat(x, math.ceil(N / len(x)))[:N]
        size = int(first_crossing(_call(test, population, N, test_params), alpha))
        return size if size else N
    if reps < 1 or not 0 < quantile < 1:
        raise ConfigError(f"simulated_sample_size needs reps >= 1 and 0 < quantile < 1, not {reps}, {quantile}")
    rng = np.random.default_rng(seed)
    fixed = x if prefix else np.empty(0)
    sizes = np.empty(reps)
    for start in range(0, reps, _ROWS_PER_BLOCK):
        rows = min(_ROWS_PER_BLOCK, reps - start)
        sizes[start:start + rows] = _block_sizes(test, x, fixed, rows, alpha, N, rng, test_params)
    return int(np.quantile(sizes, quantile))


def _block_sizes(test, x, fixed, rows, alpha, N, rng, params) -> np.ndarray:
    """Sizes for one block of simulated audits, drawing more values (doubling) only for the audits still running.

    The risk function sees draws 1…L+1 but only crossings before draw L+1 are kept: SHANGRLA's rule that the
    *last* draw may push the sample total past N·t applies at the true end of the population, not at L+1.
    Audits are independent rows, so one that has crossed is final and is not recomputed.
    """
    draws = np.tile(fixed, (rows, 1))  # the draws of the audits still running, one row each
    sizes = np.zeros(rows)
    active = np.arange(rows)
    length = max(64, 2 * len(fixed))
    while True:
        want = min(length, N)
        span = want + (want < N)
        if draws.shape[1] < span:
            more = x[rng.integers(0, len(x), size=(len(active), span - draws.shape[1]))]
            draws = np.concatenate([draws, more], axis=1)
        history = _call(test, draws[:, :span], N, params)
        crossed = first_crossing(history, alpha, limit=want if want < N else None)
        sizes[active] = crossed
        running = crossed == 0
        active, draws = active[running], draws[running]
        if want >= N or len(active) == 0:
            return np.where(sizes > 0, sizes, N)
        length *= 2


def comparison_values(margin: float, N: int, *, rate_1: float = 0.0, rate_2: float = 0.0,
                      upper_bound: float = 1.0) -> np.ndarray:
    """N overstatement-assorter values with 1- and 2-vote overstatements spread evenly, as SHANGRLA's
    ``Assertion.find_sample_size`` builds them: every ⌊1/rate_1⌋-th card (from the first) a 1-vote
    overstatement (1 − ½/u)/(2 − v/u), every ⌊1/rate_2⌋-th a 2-vote one (value 0), the rest clean, 1/(2 − v/u)
    (v the assorter margin, u its upper bound)."""
    if not 0 < margin:
        raise ConfigError(f"comparison_values: the assorter margin must be positive, not {margin}")
    denominator = 2 - margin / upper_bound
    x = np.full(N, 1 / denominator)
    if rate_1:
        x[np.arange(0, N, int(1 / rate_1))] = (1 - 0.5 / upper_bound) / denominator
    if rate_2:
        x[np.arange(0, N, int(1 / rate_2))] = 0.0
    return x


def polling_values(n_loser: int, n_other: int, n_winner: int, *, big: float = 1.0) -> np.ndarray:
    """A polling population of assorter values — ``n_loser`` zeros, ``n_other`` halves, ``n_winner`` values
    ``big`` — interleaved evenly, starting with a zero, exactly as SHANGRLA's ``interleave_values``.

    SHANGRLA picks, card by card, the kind with the largest share still to place, (n − placed)/n, ties going to
    ``big``, then 0, then ½. That is a merge of the three kinds by that share, done here with one sort.
    """
    counts = (n_loser, n_other, n_winner)
    values = (0.0, 0.5, big)
    tie_rank = (1, 2, 0)  # big first, then small, then medium
    first = next(kind for kind in range(3) if counts[kind] or kind == 2)
    keys, ranks, kinds = [], [], []
    for kind, n in enumerate(counts):
        if n == 0:
            continue
        placed = np.arange(1 if kind == first else 0, n)
        keys.append(-((n - placed) / n))
        ranks.append(np.full(len(placed), tie_rank[kind]))
        kinds.append(np.full(len(placed), kind))
    order = np.lexsort((np.concatenate(ranks), np.concatenate(keys)))
    merged = np.concatenate(kinds)[order]
    return np.asarray(values)[np.r_[first, merged]]
