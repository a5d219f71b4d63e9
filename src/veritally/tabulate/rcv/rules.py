"""The rules of a ranked-choice count, named as RCTab's contest configuration names them (notes/tabulation.md §1.1).

:class:`RcvRules` holds them as plain typed fields; :meth:`RcvRules.from_rctab` reads an RCTab ``rules`` object (all
values are strings or booleans there, and older configurations use older names) and rejects what RCTab's
``ContestConfig`` rejects, with the same reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from ...errors import ConfigError
from ..ranked import OvervoteRule

__all__ = ["WinnerMode", "TiebreakMode", "RcvRules", "MIN_RANDOM_SEED", "MAX_RANDOM_SEED"]

#: RCTab's bounds for ``randomSeed`` (ContestConfig.MIN/MAX_RANDOM_SEED).
MIN_RANDOM_SEED = -140737488355328
MAX_RANDOM_SEED = 140737488355327


class WinnerMode(StrEnum):
    """``winnerElectionMode``."""

    SINGLE = "singleWinnerMajority"
    ONE_PER_ROUND = "multiWinnerAllowOnlyOneWinnerPerRound"
    MULTIPLE_PER_ROUND = "multiWinnerAllowMultipleWinnersPerRound"
    BOTTOMS_UP = "bottomsUp"
    BOTTOMS_UP_PERCENTAGE = "bottomsUpUsingPercentageThreshold"
    MULTI_PASS = "multiPassIrv"


class TiebreakMode(StrEnum):
    """``tiebreakMode``."""

    RANDOM = "random"
    ASK = "stopCountingAndAsk"
    PREVIOUS_THEN_RANDOM = "previousRoundCountsThenRandom"
    PREVIOUS_THEN_ASK = "previousRoundCountsThenAsk"
    CANDIDATE_ORDER = "useCandidateOrder"
    PERMUTATION = "generatePermutation"

    @property
    def needs_seed(self) -> bool:
        return self in (TiebreakMode.RANDOM, TiebreakMode.PREVIOUS_THEN_RANDOM, TiebreakMode.PERMUTATION)

    @property
    def asks(self) -> bool:
        return self in (TiebreakMode.ASK, TiebreakMode.PREVIOUS_THEN_ASK)


@dataclass(frozen=True)
class RcvRules:
    """How a ranked contest is counted. Defaults are RCTab's suggested values."""

    winner_mode: WinnerMode = WinnerMode.SINGLE
    winners: int = 1
    overvote_rule: OvervoteRule = OvervoteRule.EXHAUST_IMMEDIATELY
    max_skipped: int | None = 1  #: consecutive skipped ranks allowed; None = unlimited
    max_rankings: int | None = None  #: None = "max" (as many as there are candidates)
    exhaust_on_duplicate: bool = False
    tiebreak: TiebreakMode = TiebreakMode.RANDOM
    random_seed: int | None = None
    decimals: int = 4  #: decimalPlacesForVoteArithmetic
    non_integer_threshold: bool = False
    hare_quota: bool = False
    batch_elimination: bool = False
    continue_until_two: bool = False
    first_round_determines_threshold: bool = False
    stop_after_round: int | None = None
    bottoms_up_percentage: Decimal | None = None  #: multiSeatBottomsUpPercentageThreshold, as a fraction (0.15)
    cutoff_elimination: bool = False

    @property
    def uses_surpluses(self) -> bool:
        """Surpluses are transferred: more than one seat, and not bottoms-up (RCTab's ``usesSurpluses``)."""
        return self.winners > 1 and self.winner_mode is not WinnerMode.BOTTOMS_UP

    @property
    def sequential(self) -> bool:
        return self.winner_mode is WinnerMode.MULTI_PASS

    @classmethod
    def from_rctab(cls, rules: Mapping[str, Any]) -> RcvRules:
        """Rules from an RCTab ``rules`` object; ConfigError naming the field for anything RCTab refuses."""
        def text(key: str, *old: str) -> str:
            for k in (key, *old):
                value = rules.get(k)
                if value is not None and str(value).strip() != "":
                    return str(value).strip()
            return ""

        def flag(key: str) -> bool:
            value = rules.get(key, False)
            if isinstance(value, str):
                return value.strip().lower() == "true"
            return bool(value)

        def integer(key: str, low: int, high: int | None = None, *, allow: tuple[str, ...] = (),
                    required: bool = True, old: tuple[str, ...] = ()) -> int | str | None:
            raw = text(key, *old)
            if raw in allow:
                return raw
            if not raw:
                if required:
                    raise ConfigError(f"RCTab rules: {key} is required")
                return None
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"RCTab rules: {key} must be a whole number"
                                  + (f" or {' / '.join(allow)}" if allow else "") + f", not {raw!r}") from None
            if value < low or (high is not None and value > high):
                raise ConfigError(f"RCTab rules: {key} must be between {low} and {high if high is not None else '∞'},"
                                  f" not {value}")
            return value

        problems: list[str] = []

        def attempt(parse, default=None):
            """One field's value, or its problem noted (every problem is reported at once, as RCTab does)."""
            try:
                return parse()
            except ConfigError as exc:
                problems.append(str(exc).removeprefix("RCTab rules: "))
                return default

        def member(enum, key: str):
            def parse():
                try:
                    return enum(text(key))
                except ValueError:
                    raise ConfigError(f"{key} {text(key)!r} is not one of "
                                      + ", ".join(m.value for m in enum)) from None
            return parse

        mode = attempt(member(WinnerMode, "winnerElectionMode"))
        overvote = attempt(member(OvervoteRule, "overvoteRule"))
        tiebreak = attempt(member(TiebreakMode, "tiebreakMode"))
        winners = attempt(lambda: integer("numberOfWinners", 0))
        skipped = attempt(lambda: integer("maxSkippedRanksAllowed", 0, allow=("unlimited",)))
        rankings = attempt(lambda: integer("maxRankingsAllowed", 1, allow=("max",)))
        decimals = attempt(lambda: integer("decimalPlacesForVoteArithmetic", 1, 20))
        stop = attempt(lambda: integer("stopTabulationEarlyAfterRound", 1, required=False))
        seed = attempt(lambda: integer("randomSeed", MIN_RANDOM_SEED, MAX_RANDOM_SEED,
                                       required=tiebreak is not None and tiebreak.needs_seed))
        percentage = None
        if mode is WinnerMode.BOTTOMS_UP_PERCENTAGE or winners == 0:
            percentage = attempt(lambda: _percentage(text("multiSeatBottomsUpPercentageThreshold")))
        if problems:
            raise ConfigError("RCTab rules: " + "; ".join(problems))
        built = cls(winner_mode=mode, winners=int(winners), overvote_rule=overvote,
                    max_skipped=None if skipped == "unlimited" else int(skipped),
                    max_rankings=None if rankings == "max" else int(rankings),
                    exhaust_on_duplicate=flag("exhaustOnDuplicateCandidate"), tiebreak=tiebreak,
                    random_seed=None if seed is None else int(seed), decimals=int(decimals),
                    non_integer_threshold=flag("nonIntegerWinningThreshold"), hare_quota=flag("hareQuota"),
                    batch_elimination=flag("batchElimination"),
                    continue_until_two=flag("continueUntilTwoCandidatesRemain"),
                    first_round_determines_threshold=flag("doesFirstRoundDetermineThreshold"),
                    stop_after_round=None if stop is None else int(stop), bottoms_up_percentage=percentage,
                    cutoff_elimination=flag("cutoffElimination"))
        built.validate()
        return built

    def validate(self) -> None:
        """The combinations RCTab's ``ContestConfig.validateRules`` refuses (v2.0.1), in its words."""
        mode, multi_stv = self.winner_mode, self.winner_mode in (WinnerMode.ONE_PER_ROUND,
                                                                 WinnerMode.MULTIPLE_PER_ROUND)
        if self.winners > 0 and mode is WinnerMode.BOTTOMS_UP_PERCENTAGE:
            raise ConfigError(f"RCTab rules: numberOfWinners must be zero if winnerElectionMode is {mode}")
        if self.winners > 1 and mode is not WinnerMode.MULTI_PASS:
            if self.continue_until_two:
                raise ConfigError("RCTab rules: continueUntilTwoCandidatesRemain can't be true in a multi-seat "
                                  "contest unless the winner election mode is multiPassIrv")
            if self.batch_elimination:
                raise ConfigError("RCTab rules: batchElimination can't be true in a multi-seat contest unless the "
                                  "winner election mode is multiPassIrv")
        if self.winners > 1 and self.first_round_determines_threshold:
            raise ConfigError("RCTab rules: doesFirstRoundDetermineThreshold can't be true in a multi-seat contest")
        if self.winners == 1 and mode is not WinnerMode.SINGLE:
            raise ConfigError(f"RCTab rules: winnerElectionMode can't be {mode} in a single-seat contest")
        if self.winners == 0 and mode is not WinnerMode.BOTTOMS_UP_PERCENTAGE:
            raise ConfigError("RCTab rules: if numberOfWinners is zero, winnerElectionMode must be "
                              f"{WinnerMode.BOTTOMS_UP_PERCENTAGE}")
        if mode is WinnerMode.BOTTOMS_UP_PERCENTAGE and self.batch_elimination:
            raise ConfigError(f"RCTab rules: batchElimination can't be true when winnerElectionMode is {mode}")
        if not multi_stv and self.non_integer_threshold:
            raise ConfigError(f"RCTab rules: nonIntegerWinningThreshold can't be true when winnerElectionMode is "
                              f"{mode}")
        if not multi_stv and self.hare_quota:
            raise ConfigError(f"RCTab rules: hareQuota can't be true when winnerElectionMode is {mode}")
        if self.non_integer_threshold and self.hare_quota:
            raise ConfigError("RCTab rules: nonIntegerWinningThreshold and hareQuota can't both be true")
        if self.tiebreak.needs_seed and self.random_seed is None:
            raise ConfigError(f"RCTab rules: when tiebreakMode is {self.tiebreak}, randomSeed must be supplied")


def _percentage(raw: str) -> Decimal:
    """``multiSeatBottomsUpPercentageThreshold`` (1 to 100) as a fraction, with RCTab's scale: the string's
    decimals plus two, rounded half up (ContestConfig.getPercentageFromStringWithAccurateSigFigs)."""
    parts = raw.split(".")
    if not raw or len(parts) > 2 or not all(p == "" or p.lstrip("+-").isdigit() for p in parts):
        raise ConfigError(f"RCTab rules: multiSeatBottomsUpPercentageThreshold must be a number, not {raw!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"RCTab rules: multiSeatBottomsUpPercentageThreshold must be a number, not {raw!r}") from None
    if not 1 <= value <= 100:
        raise ConfigError(f"RCTab rules: multiSeatBottomsUpPercentageThreshold must be from 1 to 100, not {raw}")
    decimals = len(parts[1]) if len(parts) == 2 else 0
    return (value / Decimal(100)).quantize(Decimal(1).scaleb(-(decimals + 2)), rounding=ROUND_HALF_UP)
