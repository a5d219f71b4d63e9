"""Risk measures of risk-limiting audits: one function per test, each citing its paper (the modules below).

Sequential tests of a nonnegative mean (SHANGRLA's family; each returns a :class:`RiskResult` =
``(p_value, p_history)``, on one sample or on one simulated audit per row):

* :func:`alpha_mart` — ALPHA (Stark 2023), estimators ``shrink_trunc``, ``fixed_alternative_mean``,
  ``optimal_comparison``;
* :func:`betting_mart` (bets ``fixed_bet``, ``agrapa``, ``kelly_optimal``) and :func:`mix_betting_mart`;
* :func:`kaplan_markov`, :func:`kaplan_wald`, :func:`kaplan_kolmogorov`;
* :func:`wald_sprt` (BRAVO when x ∈ {0, ½, 1}).

Contest-level risk with the semantics of Arlo (votingworks/arlo), the tool US states run:

* :func:`bravo_risk` — BRAVO per winner–loser pair, multi-winner;
* :func:`supersimple_p_value` / :func:`supersimple_risk` — ballot-level comparison, γ = 1.03905;
* :func:`macro_risk` — batch comparison (MACRO with PPEB sampling);
* :func:`suite_risk` / :func:`fisher_combined_p_value` — SUITE hybrid audits.
"""

from __future__ import annotations

from ._sequence import RiskResult
from .alpha import alpha_mart, fixed_alternative_mean, optimal_comparison, shrink_trunc
from .betting import agrapa, betting_mart, fixed_bet, kelly_optimal, mix_betting_mart
from .bravo import bravo_log_statistics, bravo_risk
from .kaplan import kaplan_kolmogorov, kaplan_markov, kaplan_wald
from .macro import macro_errors, macro_max_errors, macro_risk
from .sprt import wald_sprt
from .suite import (comparison_stratum_p_value, fisher_combined_p_value, polling_stratum_p_value,
                    suite_risk)
from .supersimple import comparison_discrepancies, km_p_value, supersimple_p_value, supersimple_risk

__all__ = [
    "RiskResult",
    "alpha_mart", "fixed_alternative_mean", "shrink_trunc", "optimal_comparison",
    "betting_mart", "mix_betting_mart", "fixed_bet", "agrapa", "kelly_optimal",
    "kaplan_markov", "kaplan_wald", "kaplan_kolmogorov", "wald_sprt",
    "bravo_log_statistics", "bravo_risk",
    "comparison_discrepancies", "supersimple_p_value", "supersimple_risk", "km_p_value",
    "macro_max_errors", "macro_errors", "macro_risk",
    "polling_stratum_p_value", "comparison_stratum_p_value", "fisher_combined_p_value", "suite_risk",
]
