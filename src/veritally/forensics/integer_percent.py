"""Integer-percent excess: Kobak, Shpilkin & Pshenichnikov (2016), "Integer percentages as electoral falsification
fingerprints", Ann. Appl. Stat. 10(1):54–73; Significance 15(3) 2018, "Putin's peaks" (notes §1.4).

A protocol written to order tends to carry round figures: turnout or the leader's share lands exactly on an integer
percentage more often than chance allows. Per station i, with the AOAS/Significance definitions
(dkobak/elections: significance2018/elections2018.ipynb, ``anomaly()``):

* turnout p2_i = 100 · issued_i / registered_i, leader share p1_i = 100 · leader_i / received_i, where received is
  valid + invalid ballots;
* stations kept: received > 0, registered ≥ 100, turnout ≤ 99 % and leader share ≤ 99 %;
* "integer": |p − round(p)| ≤ 0.05 points. Decided here in exact integer arithmetic (m = 100·a mod b, integer iff
  20·m ≤ b or 20·(b − m) ≤ b), which gives the same 19,271 integer stations as Kobak's floating point on Russia 2018;
* I = the number of stations with p1 or p2 integer (also p2 only, p1 only).

Null: each station's numerators redrawn as issued ~ Bin(registered, issued/registered) and leader ~
Bin(received, leader/received), keeping the real denominators, so the coarse fractions of small stations (1/2, 2/3…)
are part of the null. Kobak draws 1000 such replicates. Here each station's chance of landing on an integer,
P_i = Σ_{k integer} Bin(k; n_i, p_i), is computed exactly (the binomial pmf summed over the integer-percent k's), and
the ``replicates`` Monte-Carlo draws are Bernoulli(P_i) indicators: the same law as the indicators of Kobak's binomial
draws (each depends on its own station's draw only, and the two draws of a station are independent), at a tenth of
the cost. ``null="binomial"`` draws the binomials themselves (``rng.binomial`` over all stations per batch), as in
the paper; a test checks the two agree. The expected count Σ P_i is exact, the p-value P(I ≥ observed) comes from
the exact Poisson-binomial law of I, and the MC gives the s.d., the 99.9th percentile and the per-region spread.

Excess = observed − expected. Published for Russia 2018 (significance2018/montecarlo.pickle): 1,709 stations,
turnout or leader (MC s.d. ≈ 116); 1,296 turnout only; 859 leader only.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.special import gammaln, xlog1py, xlogy

from ..errors import ConfigError, InputError
from ._poisson_binomial import poisson_binomial_sf
from ._types import Finding
from .fdr import bh_adjust

__all__ = ["integer_mask", "integer_probability", "kobak_filter", "IntegerPercent", "integer_percent",
           "integer_percent_findings", "KINDS"]

#: The three counts of the test, in the order of Kobak's ``integer[0..2]`` (turnout or leader, leader, turnout).
KINDS = ("turnout_or_leader", "turnout_only", "leader_only")

CAVEAT = (
    "An excess of stations whose turnout or leader share is an exact integer percentage is what protocols written "
    "to a target look like, but it is a question for auditors, never a verdict of fraud: it says nothing about which "
    "station is wrong, it misses stuffing that yields non-round numbers, and it assumes binomial variation around "
    "each station's own figures (stations under 100 voters and above 99 % are left out so small-number fractions "
    "cannot mimic it)."
)

# How far (in s.d. of the percentage, plus a margin in points) the exact probability looks for integer percentages.
# Beyond 14 s.d. a binomial holds less than 1e-12 of its mass for every (n ≥ 100, p ≤ 0.99) the filter keeps.
_SD_REACH = 14.0
_MARGIN_POINTS = 2


def _tolerance(tolerance: float) -> Fraction:
    tol = Fraction(str(tolerance)).limit_denominator(10**6)
    if not 0 < tol < Fraction(1, 2):
        raise ConfigError(f"the integer-percent tolerance must lie in (0, 0.5) points, not {tolerance}")
    return tol


def integer_mask(numerator: np.ndarray, denominator: np.ndarray, tolerance: float = 0.05) -> np.ndarray:
    """True where 100·numerator/denominator lies within ``tolerance`` points of an integer, decided exactly:
    with m = (100·a) mod b the distance is min(m, b − m)/b, so the test is tol_den·min(m, b − m) ≤ tol_num·b."""
    tol = _tolerance(tolerance)
    a = np.asarray(numerator, dtype=np.int64)
    b = np.asarray(denominator, dtype=np.int64)
    if np.any(b <= 0):
        raise InputError("integer percentages need positive denominators", field="denominator",
                         expected="every denominator > 0")
    m = (100 * a) % b
    near = np.minimum(m, b - m)
    return tol.denominator * near <= tol.numerator * b


def integer_probability(trials: np.ndarray, p: np.ndarray, tolerance: float = 0.05, *,
                        chunk: int = 16384) -> np.ndarray:
    """P_i = P(100·K/n_i is within ``tolerance`` points of an integer) for K ~ Bin(n_i, p_i), exactly: the binomial
    pmf (log-factorials from one table) summed over the k whose percentage is integer, for the percentages within
    14 s.d. + 2 points of 100·p_i. Vectorised over stations in chunks (no Python loop per station)."""
    tol = _tolerance(tolerance)
    n_all = np.asarray(trials, dtype=np.int64)
    p_all = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    if n_all.shape != p_all.shape:
        raise ConfigError("trials and p must have the same shape")
    if n_all.size and n_all.min() <= 0:
        raise InputError("integer-percent probabilities need positive trial counts", field="trials",
                         expected="every count > 0")
    out = np.zeros(n_all.shape, dtype=np.float64)
    if n_all.size == 0:
        return out
    log_factorial = gammaln(np.arange(int(n_all.max()) + 1, dtype=np.float64) + 1.0)
    t_num, t_den = tol.numerator, tol.denominator
    for start in range(0, n_all.size, chunk):
        n = n_all[start : start + chunk]
        q = p_all[start : start + chunk]
        sd_points = 100.0 * np.sqrt(q * (1.0 - q) / n)
        r_lo = np.clip(np.floor(100.0 * q - _SD_REACH * sd_points).astype(np.int64) - _MARGIN_POINTS, 0, 100)
        r_hi = np.clip(np.ceil(100.0 * q + _SD_REACH * sd_points).astype(np.int64) + _MARGIN_POINTS, 0, 100)
        # One row per (station, integer percentage r) in the window …
        widths = r_hi - r_lo + 1
        station = np.repeat(np.arange(n.size), widths)
        r = np.arange(station.size) - np.repeat(np.cumsum(widths) - widths, widths) + r_lo[station]
        nn = n[station]
        # … and the k in [n(r − tol)/100, n(r + tol)/100]: ceil and floor in integers.
        k_lo = np.maximum(-((-nn * (r * t_den - t_num)) // (100 * t_den)), 0)
        k_hi = np.minimum((nn * (r * t_den + t_num)) // (100 * t_den), nn)
        count = np.maximum(k_hi - k_lo + 1, 0)
        row = np.repeat(np.arange(station.size), count)
        k = np.arange(row.size) - np.repeat(np.cumsum(count) - count, count) + k_lo[row]
        s = station[row]
        kn, kq = n[s], q[s]
        log_pmf = (log_factorial[kn] - log_factorial[k] - log_factorial[kn - k]
                   + xlogy(k, kq) + xlog1py(kn - k, -kq))
        out[start : start + n.size] = np.bincount(s, weights=np.exp(log_pmf), minlength=n.size)
    return np.minimum(out, 1.0)


def kobak_filter(registered: np.ndarray, issued: np.ndarray, received: np.ndarray, leader: np.ndarray, *,
                 min_registered: int = 100, max_percent: int = 99) -> np.ndarray:
    """Kobak's inclusion rule: received > 0, registered ≥ ``min_registered``, turnout and leader share ≤
    ``max_percent`` % (compared in integers: 100·issued ≤ 99·registered)."""
    registered = np.asarray(registered, dtype=np.int64)
    issued = np.asarray(issued, dtype=np.int64)
    received = np.asarray(received, dtype=np.int64)
    leader = np.asarray(leader, dtype=np.int64)
    return ((received > 0) & (registered >= min_registered) & (registered > 0)
            & (100 * issued <= max_percent * registered) & (100 * leader <= max_percent * received))


@dataclass(frozen=True)
class IntegerPercent:
    """Everything the integer-percent test computes for one set of stations (arrays are per KINDS)."""

    stations: int  # stations kept by the filter
    observed: np.ndarray  # (3,) integer-percent stations
    expected: np.ndarray  # (3,) exact expectation under the binomial null
    mc_mean: np.ndarray  # (3,)
    mc_sd: np.ndarray  # (3,)
    mc_q025: np.ndarray  # (3,) 2.5th percentile of the null count
    mc_q975: np.ndarray  # (3,)
    mc_q999: np.ndarray  # (3,) 99.9th percentile of the null count (Kobak's significance line)
    p_value: np.ndarray  # (3,) exact P(I ≥ observed)
    p_value_mc: np.ndarray  # (3,) (1 + #{I_mc ≥ observed}) / (1 + replicates)
    replicates: int
    null: str

    @property
    def excess(self) -> np.ndarray:
        return self.observed - self.expected


def _summary(observed, probabilities, mc_counts, replicates: int, null: str, exact_kinds: int = 3) -> IntegerPercent:
    """Exact expectation and p-values from the per-station probabilities (the first ``exact_kinds`` of KINDS;
    NaN for the rest, whose MC p-value stands); spread from the MC counts (B, 3)."""
    expected = np.array([p.sum() for p in probabilities])
    p_exact = np.array([poisson_binomial_sf(p, int(o)) if j < exact_kinds else np.nan
                        for j, (p, o) in enumerate(zip(probabilities, observed))])
    p_mc = (1.0 + (mc_counts >= observed[None, :]).sum(axis=0)) / (1.0 + replicates)
    q025, q975, q999 = np.percentile(mc_counts, [2.5, 97.5, 99.9], axis=0)
    return IntegerPercent(stations=int(probabilities[0].size), observed=observed.astype(np.float64),
                          expected=expected, mc_mean=mc_counts.mean(axis=0), mc_sd=mc_counts.std(axis=0),
                          mc_q025=q025, mc_q975=q975, mc_q999=q999, p_value=p_exact, p_value_mc=p_mc,
                          replicates=replicates, null=null)


def integer_percent(registered: np.ndarray, issued: np.ndarray, received: np.ndarray, leader: np.ndarray, *,
                    group: np.ndarray | None = None, replicates: int = 1000, seed: int = 20180318,
                    tolerance: float = 0.05, min_registered: int = 100, max_percent: int = 99,
                    null: str = "exact", batch: int = 50) -> tuple[IntegerPercent, dict[str, IntegerPercent],
                                                                   np.ndarray, np.ndarray]:
    """Kobak's integer-percent test on all stations and, when ``group`` (e.g. region) is given, on each group.

    Returns ``(overall, by_group, kept, integer)``: ``kept`` the filter mask over the input stations, ``integer``
    the (3, kept) observed indicators per KINDS. ``null`` is ``"exact"`` (exact P_i, Bernoulli MC) or
    ``"binomial"`` (Kobak's binomial redraws); both use ``replicates`` seeded draws.
    """
    if replicates < 1:
        raise ConfigError(f"replicates must be at least 1, not {replicates}")
    if null not in ("exact", "binomial"):
        raise ConfigError(f"unknown integer-percent null {null!r} (expected 'exact' or 'binomial')")
    kept = kobak_filter(registered, issued, received, leader, min_registered=min_registered,
                        max_percent=max_percent)
    voters = np.asarray(registered, dtype=np.int64)[kept]
    given = np.asarray(issued, dtype=np.int64)[kept]
    boxes = np.asarray(received, dtype=np.int64)[kept]
    top = np.asarray(leader, dtype=np.int64)[kept]
    turnout_int = integer_mask(given, voters, tolerance)
    leader_int = integer_mask(top, boxes, tolerance)
    integer = np.stack([turnout_int | leader_int, turnout_int, leader_int])
    p_turnout = integer_probability(voters, given / voters, tolerance)
    p_leader = integer_probability(boxes, top / boxes, tolerance)
    p_or = p_turnout + p_leader - p_turnout * p_leader

    if group is not None:
        labels, codes = np.unique(np.asarray(group)[kept], return_inverse=True)
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(labels.size))
    else:
        labels, codes, order, starts = np.array([]), None, np.arange(voters.size), np.array([0])
    rng = np.random.default_rng(seed)
    overall_mc = np.empty((replicates, 3))
    group_mc = np.empty((replicates, 3, labels.size)) if codes is not None else None
    # Single-precision uniforms halve the cost; rounding P_i to float32 moves it by < 1e-7, far below MC noise.
    pt, pl = p_turnout[order].astype(np.float32), p_leader[order].astype(np.float32)
    for first in range(0, replicates, batch):
        size = min(batch, replicates - first)
        if null == "exact":
            sim_t = rng.random((size, pt.size), dtype=np.float32) < pt
            sim_l = rng.random((size, pl.size), dtype=np.float32) < pl
        else:
            sim_t = integer_mask(rng.binomial(voters[order], given[order] / voters[order], (size, pt.size)),
                                 voters[order], tolerance)
            sim_l = integer_mask(rng.binomial(boxes[order], top[order] / boxes[order], (size, pl.size)),
                                 boxes[order], tolerance)
        sims = (sim_t | sim_l, sim_t, sim_l)
        for j, sim in enumerate(sims):
            overall_mc[first : first + size, j] = sim.sum(axis=1)
            if group_mc is not None and labels.size:
                group_mc[first : first + size, j, :] = np.add.reduceat(sim.view(np.uint8), starts, axis=1,
                                                                       dtype=np.int32)

    probabilities = (p_or, p_turnout, p_leader)
    overall = _summary(integer.sum(axis=1), probabilities, overall_mc, replicates, null)
    by_group: dict[str, IntegerPercent] = {}
    if codes is not None:
        for g, label in enumerate(labels.tolist()):
            members = codes == g
            # Regions are compared (BH) on the turnout-or-leader count; the other two keep their MC p-values.
            by_group[str(label)] = _summary(integer[:, members].sum(axis=1), tuple(p[members] for p in probabilities),
                                            group_mc[:, :, g], replicates, null, exact_kinds=1)
    return overall, by_group, kept, integer


def _finding(result: IntegerPercent, scope: str, flagged: tuple[str, ...], extra: dict) -> Finding:
    observed, expected = result.observed, result.expected
    details = {
        "stations": result.stations,
        "observed": dict(zip(KINDS, observed.tolist())),
        "expected": dict(zip(KINDS, expected.tolist())),
        "excess": dict(zip(KINDS, result.excess.tolist())),
        "mc_sd": dict(zip(KINDS, result.mc_sd.tolist())),
        "mc_mean": dict(zip(KINDS, result.mc_mean.tolist())),
        "mc_excess_99_9": dict(zip(KINDS, (result.mc_q999 - result.mc_mean).tolist())),
        "p_values": dict(zip(KINDS, result.p_value.tolist())),
        "p_value_mc": dict(zip(KINDS, result.p_value_mc.tolist())),
        "replicates": result.replicates,
        "null": result.null,
        "interval_of": "excess (turnout or leader): observed minus the 97.5th and 2.5th percentiles of the null count",
        **extra,
    }
    ratio = observed[0] / expected[0] - 1.0 if expected[0] > 0 else None
    return Finding(name="integer_percent", scope=scope, statistic=float(result.excess[0]), effect=ratio,
                   p_value=float(result.p_value[0]),
                   interval=(float(observed[0] - result.mc_q975[0]), float(observed[0] - result.mc_q025[0])),
                   flagged_units=flagged, caveat=CAVEAT, details=details)


def integer_percent_findings(unit: np.ndarray, registered: np.ndarray, issued: np.ndarray, received: np.ndarray,
                             leader: np.ndarray, *, region: np.ndarray | None = None, turnout_numerator: str,
                             leader_name: str, replicates: int = 1000, seed: int = 20180318, fdr_q: float = 0.05,
                             min_region_stations: int = 30, **options) -> list[Finding]:
    """The test as Findings: one for all stations, then one per region with at least ``min_region_stations`` kept
    stations. Regions are flagged by Benjamini–Hochberg over their exact p-values at ``fdr_q``; a flagged region's
    finding lists its integer-percent stations (the protocols to look at, most of them integer by chance)."""
    overall, by_region, kept, integer = integer_percent(registered, issued, received, leader, group=region,
                                                        replicates=replicates, seed=seed, **options)
    extra = {"leader": leader_name, "turnout_numerator": turnout_numerator,
             "statistic_is": "excess of integer-percent stations, turnout or leader",
             "effect_is": "observed / expected − 1"}
    findings = [_finding(overall, "all units", (), extra)]
    names = [name for name, res in by_region.items() if res.stations >= min_region_stations]
    if not names:
        return findings
    q_values = bh_adjust(np.array([by_region[name].p_value[0] for name in names]))
    kept_units = np.asarray(unit)[kept]
    kept_region = np.asarray(region)[kept].astype(str)
    for name, q in zip(names, q_values):
        flagged = ()
        if q <= fdr_q:
            flagged = tuple(kept_units[(kept_region == name) & integer[0]].tolist())
        findings.append(_finding(by_region[name], f"region={name}", flagged,
                                 {**extra, "q_value_across_regions": float(q), "regions_tested": len(names),
                                  "multiple_testing": f"Benjamini–Hochberg over {len(names)} regions at q={fdr_q}"}))
    return findings
