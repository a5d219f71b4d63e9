"""The forensic battery: every test the data of one contest allows, with multiple-testing control across them.

What runs depends on what was published (docs/forensics.md has the table):

* always: second-digit Benford and the last-digit tests for each choice's counts, and the leader share's shape;
* with ``ballots`` (or ``issued``) and ``registered``: the same digit tests on the turnout counts, P05s of turnout,
  the integer-percent test (Kobak et al.; turnout = issued/registered when ``issued`` is given, else
  ballots/registered), the Klimek fingerprint and model, turnout's shape, the turnout–share correlation and the
  Sobyanin slope;
* with ``region``: the integer-percent test per region as well;
* with ``previous``: outliers against history, for the leader's share and (when both elections give turnout) for
  turnout.

A test that cannot run is logged (logger ``veritally.forensics``) and yields no Finding. Leader share is the
leader's votes over ballots (valid + invalid, Kobak's denominator) when ``ballots`` is given, else over the valid
votes (the sum of the choices). Units with fewer than ``min_registered`` registered voters, or whose turnout or share
is not a fraction in [0, 1], are left out of the share and turnout tests (Klimek and Kobak both drop units under 100
voters); the digit tests use every count (with their own minimum).

Multiple testing: besides each test's own control (BH over regions, over units), every Finding's ``details`` carry
``battery_q_value`` (Benjamini–Hochberg over all the battery's p-values), ``battery_q_value_by``
(Benjamini–Yekutieli, valid under any dependence between the tests, which share one data set) and
``battery_flagged`` (BH q ≤ ``fdr_q``).
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError
from . import digits, shape
from ._types import Finding, UnitResults
from .fdr import bh_adjust, by_adjust
from .fingerprint import fit_klimek, klimek_findings
from .integer_percent import integer_percent_findings
from .outliers import fit_history, history_finding

__all__ = ["run_battery"]

log = logging.getLogger("veritally.forensics")


def _counts(values: np.ndarray | None, field: str) -> np.ndarray | None:
    if values is None:
        return None
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        raise InputError(f"{field} must hold whole numbers, not values of type {array.dtype}", field=field,
                         expected="non-negative integer counts")
    array = array.astype(np.int64, copy=False)
    if array.size and array.min() < 0:
        where = np.unravel_index(int(np.argmin(array)), array.shape)[0]
        raise InputError(f"{field} holds a negative count ({int(array.min())})", record=int(where), field=field,
                         expected="non-negative integer counts")
    return array


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """The arrays the tests need, derived once from a UnitResults."""

    unit: np.ndarray
    votes: np.ndarray
    leader: str
    leader_votes: np.ndarray
    denominator: np.ndarray  # of the leader share
    denominator_is: str
    registered: np.ndarray | None
    turnout_count: np.ndarray | None  # numerator of turnout
    turnout_is: str | None
    ballots: np.ndarray | None
    region: np.ndarray | None


def _prepare(units: UnitResults) -> _Prepared:
    votes = _counts(units.votes, "votes")
    registered = _counts(units.registered, "registered")
    ballots = _counts(units.ballots, "ballots")
    issued = _counts(units.issued, "issued")
    if votes.shape[0] == 0:
        raise InputError("no units to test", field="unit", expected="at least one reporting unit")
    if len(np.unique(np.asarray(units.unit))) != votes.shape[0]:
        raise InputError("unit ids repeat", field="unit", expected="one row per unit")
    leader = units.leader_name
    if ballots is not None:
        denominator, denominator_is = ballots, "ballots (valid + invalid)"
    else:
        denominator, denominator_is = votes.sum(axis=1), "valid votes (sum of the choices)"
    turnout_count, turnout_is = None, None
    if registered is not None:
        if issued is not None:
            turnout_count, turnout_is = issued, "issued"
        elif ballots is not None:
            turnout_count, turnout_is = ballots, "ballots"
    return _Prepared(unit=np.asarray(units.unit).astype(str), votes=votes, leader=leader,
                     leader_votes=votes[:, units.leader_index], denominator=denominator,
                     denominator_is=denominator_is, registered=registered, turnout_count=turnout_count,
                     turnout_is=turnout_is, ballots=ballots,
                     region=None if units.region is None else np.asarray(units.region).astype(str))


def _fractions(data: _Prepared, min_registered: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(mask of units kept, turnout or None, leader share) over the kept units."""
    keep = data.denominator > 0
    keep &= data.leader_votes <= data.denominator
    if data.turnout_count is not None:
        keep &= (data.registered >= max(min_registered, 1)) & (data.turnout_count <= data.registered)
    share = data.leader_votes[keep] / data.denominator[keep]
    turnout = None if data.turnout_count is None else data.turnout_count[keep] / data.registered[keep]
    return keep, turnout, share


def _digit_findings(counts: np.ndarray, scope: str, *, min_count: int, seed: int,
                    replicates: int) -> list[Finding]:
    options = {"scope": scope, "seed": seed, "replicates": replicates}
    return [digits.second_digit_benford(counts, **options),
            digits.last_digit_uniform(counts, scope=scope, min_count=min_count),
            digits.last_digit_mean(counts, min_count=min_count, **options),
            digits.last_digit_05(counts, min_count=min_count, **options),
            *digits.final_pairs(counts, min_count=min_count, **options)]


def _with_plots(finding: Finding, names: list[str]) -> Finding:
    return dataclasses.replace(finding, details={**finding.details, "plots": names})


def _history(data: _Prepared, previous: UnitResults, *, fdr_q: float, min_registered: int,
             plots_dir: Path | None) -> list[Finding]:
    before = _prepare(previous)
    common, now_index, before_index = np.intersect1d(data.unit, before.unit, return_indices=True)
    log.info("history: %d of %d units matched by id in the previous election", common.size, data.unit.size)
    if common.size < 10:
        log.info("history outliers skipped: fewer than 10 units match the previous election by id")
        return []
    previous_leader = data.leader if data.leader in previous.choice else before.leader
    previous_votes = before.votes[:, previous.choice.index(previous_leader)]
    findings = []
    what = (f"{data.leader}'s share of {data.denominator_is} on the unit's previous share for {previous_leader}")
    models = [(data.leader, what, "share", data.leader_votes, data.denominator, previous_votes, before.denominator, 20)]
    if data.turnout_count is not None and before.turnout_count is not None:
        models.append(("turnout", f"turnout ({data.turnout_is}/registered) on previous turnout", "turnout",
                       data.turnout_count, data.registered, before.turnout_count, before.registered, min_registered))
    for scope, modelled, stem, now_y, now_m, before_y, before_m, min_trials in models:
        try:
            fit = fit_history(now_y[now_index], now_m[now_index], before_y[before_index], before_m[before_index],
                              min_trials=min_trials)
        except ConfigError as why:  # too few matched units with enough votes: a skip, not an error of the input
            log.info("history outliers for %s skipped: %s", scope, why)
            continue
        prior = before_y[before_index] / np.maximum(before_m[before_index], 1)
        findings.append((history_finding(common, fit, scope=scope, fdr_q=fdr_q, what=modelled), fit, prior, stem))
    out = []
    for finding, fitted, prior, stem in findings:
        if plots_dir is not None:
            from .plots import plot_residuals

            names = plot_residuals(prior[fitted.used], fitted.z, fitted.q <= fdr_q, plots_dir,
                                   what=finding.details["modelled"], stem=f"residuals_{stem}")
            finding = _with_plots(finding, names)
        out.append(finding)
    return out


def _battery_fdr(findings: list[Finding], fdr_q: float) -> list[Finding]:
    p = np.array([np.nan if f.p_value is None else f.p_value for f in findings], dtype=np.float64)
    bh, by = bh_adjust(p), by_adjust(p)
    m = int(np.isfinite(p).sum())
    note = (f"Benjamini–Hochberg over the {m} p-values of this battery at q={fdr_q} (battery_flagged); "
            "Benjamini–Yekutieli q-values, valid under any dependence, alongside")
    out = []
    for finding, q_bh, q_by in zip(findings, bh, by):
        extra = {"battery_q_value": None if not np.isfinite(q_bh) else float(q_bh),
                 "battery_q_value_by": None if not np.isfinite(q_by) else float(q_by),
                 "battery_flagged": bool(np.isfinite(q_bh) and q_bh <= fdr_q), "battery_multiple_testing": note}
        out.append(dataclasses.replace(finding, details={**finding.details, **extra}))
    return out


def run_battery(units: UnitResults, *, previous: UnitResults | None = None, mc_replicates: int = 1000,
                seed: int = 20180318, fdr_q: float = 0.05, min_count: int = 100,
                plots_dir: Path | None = None, min_registered: int = 100,
                klimek_bootstrap: int = 100) -> list[Finding]:
    """Every forensic test that the data allows (tests needing ``registered``/``ballots``/``previous``/``region``
    are skipped when those are None, with a Finding-free note in the log); writes PNG and SVG plots to
    ``plots_dir``. ``min_count`` is the smallest count the last-digit tests use; ``mc_replicates`` the Monte-Carlo
    replicates of the integer-percent null and of every bootstrap; ``klimek_bootstrap`` the clean data sets behind
    the Klimek p-values (their resolution is 1/(1 + klimek_bootstrap)). Module docstring for the rest."""
    data = _prepare(units)
    plots_dir = None if plots_dir is None else Path(plots_dir)
    keep, turnout, share = _fractions(data, min_registered)
    # The two heavy tests (integer percent, Klimek) run in worker threads while this one does the rest: NumPy
    # releases the GIL in their array work, so a second core shortens the battery by about a third. Each test has
    # its own seeded generator, so the results do not depend on the threads' timing.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="forensics") as pool:
        integer_job = klimek_job = None
        if data.turnout_count is not None:
            integer_job = pool.submit(
                integer_percent_findings, data.unit, data.registered, data.turnout_count, data.denominator,
                data.leader_votes, region=data.region, turnout_numerator=data.turnout_is, leader_name=data.leader,
                replicates=mc_replicates, seed=seed, fdr_q=fdr_q, min_registered=min_registered)
        if turnout is not None and turnout.size >= 100:
            klimek_job = pool.submit(fit_klimek, turnout, share, seed=seed, bootstrap=mc_replicates // 5 or 1,
                                     null_bootstrap=klimek_bootstrap)
        findings, second_series, last_series = _digit_battery(units, data, min_count=min_count, seed=seed,
                                                              replicates=mc_replicates)
        findings.append(digits.percent_last_digit_05(data.leader_votes, data.denominator,
                                                     scope=f"{data.leader} share", seed=seed,
                                                     replicates=mc_replicates))
        if data.turnout_count is not None:
            findings.append(digits.percent_last_digit_05(data.turnout_count, data.registered, scope="turnout",
                                                         seed=seed, replicates=mc_replicates))
            if data.region is None:
                log.info("integer-percent test per region skipped: no regions given")
        else:
            log.info("integer-percent, Klimek, turnout shape and Sobyanin tests skipped: they need registered "
                     "voters and ballots cast (or issued)")
        findings.extend(_shape_battery(data, turnout, share))
        if previous is not None:
            findings.extend(_history(data, previous, fdr_q=fdr_q, min_registered=min_registered,
                                     plots_dir=plots_dir))
        else:
            log.info("outliers against history skipped: no previous election given")
        # Drawing while the Klimek fit still runs in its thread.
        made = {} if plots_dir is None else _data_plots(data, keep, turnout, second_series, last_series, plots_dir,
                                                         seed)
        if integer_job is not None:
            findings.extend(integer_job.result())
        if klimek_job is not None:
            fit = klimek_job.result()
            findings.extend(klimek_findings(data.unit[keep], turnout, share, scope=data.leader, fit=fit))
            if plots_dir is not None:
                from .plots import plot_fingerprint

                made["klimek_incremental_fraud"] = made["klimek_extreme_fraud"] = plot_fingerprint(
                    fit.observed, fit.fitted, plots_dir, leader=data.leader)
        elif turnout is not None:
            log.info("Klimek model skipped: %d units (at least 100 needed)", turnout.size)
    return _battery_fdr(_name_plots(findings, made), fdr_q)


def _digit_battery(units: UnitResults, data: _Prepared, *, min_count: int, seed: int, replicates: int):
    """The digit tests on every choice's counts and on the turnout counts; also the digit counts to plot."""
    findings, second_series, last_series = [], [], []
    columns = [(name, data.votes[:, j]) for j, name in enumerate(units.choice)]
    if data.turnout_count is not None:
        columns.append((f"turnout ({data.turnout_is})", data.turnout_count))
    elif data.ballots is not None:
        columns.append(("turnout (ballots)", data.ballots))
    for scope, counts in columns:
        batch = _digit_findings(counts, scope, min_count=min_count, seed=seed, replicates=replicates)
        findings.extend(batch)
        if batch[0].statistic is not None:
            second_series.append((scope, np.asarray(batch[0].details["digit_counts"])))
        if batch[1].statistic is not None:
            last_series.append((scope, np.asarray(batch[1].details["digit_counts"])))
    return findings, second_series, last_series


def _shape_battery(data: _Prepared, turnout: np.ndarray | None, share: np.ndarray) -> list[Finding]:
    findings = []
    distributions = [(f"{data.leader} share", share)] + ([("turnout", turnout)] if turnout is not None else [])
    for scope, values in distributions:
        if values.size < 20:
            log.info("shape tests on %s skipped: %d units", scope, values.size)
            continue
        findings.extend([shape.skewness(values, scope=scope), shape.kurtosis(values, scope=scope),
                         shape.dip_test(values, scope=scope)])
    if turnout is not None and turnout.size >= 100:
        findings.append(shape.turnout_share_correlation(turnout, share, scope=data.leader))
        findings.append(shape.sobyanin_slope(turnout, share, scope=data.leader))
    elif turnout is not None:
        log.info("turnout–share correlation and Sobyanin slope skipped: %d units (at least 100 needed)",
                 turnout.size)
    return findings


def _data_plots(data: _Prepared, keep: np.ndarray, turnout, second_series, last_series, folder: Path,
                seed: int) -> dict[str, list[str]]:
    """The plots that need no fitted model (digits, integer-percent histograms): test name → files."""
    from . import plots

    made: dict[str, list[str]] = {}
    if second_series:
        made["second_digit_benford"] = plots.plot_digits(second_series, folder, kind="second", stem="second_digits")
    if last_series:
        made["last_digit_uniform"] = plots.plot_digits(last_series, folder, kind="last", stem="last_digits")
    # U(−½, ½) noise on the numerators (Kobak et al., Significance 2018) smears fractions of small denominators.
    rng = np.random.default_rng(seed)
    noisy_share = 100 * (data.leader_votes[keep] + rng.random(int(keep.sum())) - 0.5) / data.denominator[keep]
    noisy_turnout = None
    if turnout is not None:
        noisy_turnout = 100 * (data.turnout_count[keep] + rng.random(int(keep.sum())) - 0.5) / data.registered[keep]
    made["integer_percent"] = plots.plot_integer_percent(noisy_turnout, noisy_share, folder, leader=data.leader)
    return made


def _name_plots(findings: list[Finding], made: dict[str, list[str]]) -> list[Finding]:
    # The integer-percent histograms are of all units, so only that finding names them, not each region's.
    return [_with_plots(f, made[f.name]) if f.name in made and (f.name != "integer_percent" or f.scope == "all units")
            else f for f in findings]
