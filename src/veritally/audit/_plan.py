"""Sample-size options for the next round of one contest, from what has been observed so far.

Every option is the number of *additional* draws for the next round. ``all-ballots`` means a full hand count.
"""

from __future__ import annotations

from .alpha import alpha_mart
from .bravo import FULL_COUNT_SHARE, bravo_sample_size_options
from .sizes import comparison_values, polling_values, simulated_sample_size
from .supersimple import supersimple_sample_size
from ._state import AuditSettings, ContestSpec

__all__ = ["size_options", "QUANTILES"]

QUANTILES = (0.7, 0.8, 0.9)
#: Replicates for simulated sizes (ALPHA): enough for a stable quantile, fast enough for a command.
REPS = 400


def size_options(settings: AuditSettings, spec: ContestSpec, *, draws: int, sample_tally: dict[str, int],
                 discrepancies: dict[str, int]) -> dict[str, dict]:
    """``{option: {"size": additional draws, "prob": chance to finish in one round or None}}``.

    An option that would draw at least as many cards as the contest has ballots is dropped: counting every
    ballot by hand is less work, and certain; with none left the only option is ``all-ballots``."""
    options = _options(settings, spec, draws=draws, sample_tally=sample_tally, discrepancies=discrepancies)
    ballots = spec.reported.ballots
    kept = {k: v for k, v in options.items() if k == "all-ballots" or v["size"] + draws < ballots}
    if not kept or "all-ballots" in kept:
        return {"all-ballots": {"size": ballots, "prob": None}}
    return kept


def _options(settings: AuditSettings, spec: ContestSpec, *, draws: int, sample_tally: dict[str, int],
             discrepancies: dict[str, int]) -> dict[str, dict]:
    reported = spec.reported
    alpha = settings.risk_limit
    ballots = reported.ballots
    if alpha == 0 or not reported.losers:
        return {"all-ballots": {"size": ballots, "prob": None}}
    if settings.audit_type == "polling" and settings.method == "bravo":
        options = bravo_sample_size_options(reported, sample_tally if draws else None, alpha, already_sampled=draws)
        return {k: {"size": v.size, "prob": v.prob} for k, v in options.items()}
    if settings.audit_type == "comparison" and settings.method == "supersimple":
        size = supersimple_sample_size(reported, alpha, sample_size=draws, o1=discrepancies.get("o1", 0),
                                       o2=discrepancies.get("o2", 0))
        return {"default": {"size": size, "prob": None}} if size + draws < ballots else {
            "all-ballots": {"size": ballots, "prob": None}}
    return _simulated(settings, spec, draws, discrepancies)


def _simulated(settings: AuditSettings, spec: ContestSpec, draws: int, discrepancies: dict[str, int]) -> dict:
    """ALPHA sizes by simulation (SHANGRLA's approach) for the closest pair: polling from the reported votes,
    comparison from the overstatement rates seen so far (at least 1 in 1,000 one-vote overstatements)."""
    reported = spec.reported
    w, l = min(reported.pairs, key=lambda p: reported.tally[p[0]] - reported.tally[p[1]])
    n = reported.ballots
    margin = (reported.tally[w] - reported.tally[l]) / n
    if margin <= 0:
        return {"all-ballots": {"size": n, "prob": None}}
    if settings.audit_type == "polling":
        x = polling_values(reported.tally[l], n - reported.tally[w] - reported.tally[l], reported.tally[w])
        params = {"estim": "shrink_trunc", "eta": min(1 - 1e-9, (1 + margin) / 2)}
    else:
        rate_1 = max(0.001, discrepancies.get("o1", 0) / draws if draws else 0.001)
        rate_2 = discrepancies.get("o2", 0) / draws if draws else 0.0
        x = comparison_values(margin, n, rate_1=rate_1, rate_2=rate_2)
        params = {"estim": "optimal_comparison", "u": 2 / (2 - margin)}
    options = {}
    for q in QUANTILES:
        total = simulated_sample_size(alpha_mart, x, settings.risk_limit, N=n, reps=REPS, quantile=q, **params)
        options[str(q)] = {"size": max(total - draws, 0), "prob": q}
    if options["0.9"]["size"] + draws >= n or (n > 100_000 and options["0.9"]["size"] >= FULL_COUNT_SHARE * n):
        return {"all-ballots": {"size": n, "prob": None}}
    return options


def choose(options: dict[str, dict], option: str | None) -> tuple[str, int]:
    """The option asked for (default: 0.9 where offered, else the only one), as (name, size)."""
    if "all-ballots" in options:
        return "all-ballots", options["all-ballots"]["size"]
    if option is None:
        option = "0.9" if "0.9" in options else next(iter(options))
    if option not in options:
        raise KeyError(option)
    return option, int(options[option]["size"])


def full_count_is_less_work(size: int, ballots: int) -> bool:
    """Arlo's rule of thumb: retrieving a quarter of the ballots one by one is more work than counting them all."""
    return size >= ballots or (ballots > 1000 and size >= FULL_COUNT_SHARE * ballots)
