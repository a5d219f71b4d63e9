"""Named ranked-choice rule presets for real jurisdictions, each tied to the statute, charter, ordinance or official
rule it follows (docs/rcv-presets.md).

``veritally tabulate CVRS --rcv-preset maine`` counts every ranked contest found in the CVRs with :func:`preset`'s
rules. Every value of a preset is traced, field by field, in :attr:`Preset.basis`; where the law is silent (or the
text could not be read) the value is RCTab's default and :attr:`Preset.notes` says so.

The presets encode the law **as researched on 2026-12-01** from the sources listed. Laws and official rules change:
election officials must check their own current rules before relying on a preset, and may always give an RCTab
``rules`` object instead (``--rcv-rules``; :meth:`Preset.rctab_rules` writes a preset as one to start from).

Tie-breaks: every jurisdiction here decides ties by lot (or leaves them to election law that does). A preset never
invents a random seed: it uses ``stopCountingAndAsk``, so a count that meets a tie stops and says that an operator
must break it (``veritally rcv`` asks on a terminal); officials who drew lots in advance can give the result as an
RCTab configuration with ``useCandidateOrder``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from ...errors import ConfigError
from ..ranked import OvervoteRule
from .rules import RcvRules, TiebreakMode, WinnerMode

__all__ = ["GOVERNED", "PRESETS", "RESEARCHED_ON", "STV_GOVERNED", "Preset", "preset", "rctab_rules"]

#: The date the sources below were read; the presets say what the law was then, as far as it could be read.
RESEARCHED_ON = "2026-12-01"

#: The rule fields every preset must trace to a source (or to an explicit "law is silent: RCTab default").
GOVERNED = ("winner_mode", "winners", "overvote_rule", "max_skipped", "max_rankings", "exhaust_on_duplicate",
            "tiebreak", "batch_elimination", "continue_until_two", "first_round_determines_threshold")
#: Further fields a multi-seat (STV) preset must trace: the threshold formula and the arithmetic of transfers.
STV_GOVERNED = ("decimals", "non_integer_threshold", "hare_quota")


@dataclass(frozen=True)
class Preset:
    """A jurisdiction's counting rules, with where each one comes from."""

    name: str  #: the ``--rcv-preset`` name, e.g. "maine"
    title: str  #: e.g. "Maine (21-A M.R.S. §723-A)"
    rules: RcvRules
    sources: tuple[str, ...]  #: citations: statute / charter / ordinance sections, official pages, with addresses
    notes: tuple[str, ...] = ()  #: where the law is silent, could not be read, or RCTab cannot say it exactly
    basis: tuple[tuple[str, str], ...] = ()  #: (rules field, why it has its value: the source, or "silent")

    def source_of(self, field: str) -> str:
        """Why ``field`` has its value (KeyError if the preset does not say)."""
        return dict(self.basis)[field]

    def with_winners(self, winners: int) -> RcvRules:
        """The rules for a contest with ``winners`` seats (multi-seat presets carry an example seat count)."""
        rules = replace(self.rules, winners=winners)
        rules.validate()
        return rules

    def rctab_rules(self, winners: int | None = None) -> dict[str, Any]:
        """The preset as an RCTab ``rules`` object (strings and booleans, as RCTab writes them), to edit and give to
        ``--rcv-rules`` or to put in an RCTab configuration."""
        rules = self.rules if winners is None else self.with_winners(winners)
        return rctab_rules(rules, f"{self.title}; Veritally preset '{self.name}' (law as researched on "
                                  f"{RESEARCHED_ON}; check your current rules)")


def rctab_rules(rules: RcvRules, description: str = "") -> dict[str, Any]:
    """``rules`` as an RCTab ``rules`` object; :meth:`RcvRules.from_rctab` reads it back to equal rules."""
    def number(value: int | None, none: str) -> str:
        return none if value is None else str(value)

    percentage = ""
    if rules.bottoms_up_percentage is not None:
        percentage = format((rules.bottoms_up_percentage * 100).normalize(), "f")
    return {
        "tiebreakMode": rules.tiebreak.value,
        "overvoteRule": rules.overvote_rule.value,
        "winnerElectionMode": rules.winner_mode.value,
        "randomSeed": number(rules.random_seed, ""),
        "numberOfWinners": str(rules.winners),
        "multiSeatBottomsUpPercentageThreshold": percentage,
        "decimalPlacesForVoteArithmetic": str(rules.decimals),
        "maxSkippedRanksAllowed": number(rules.max_skipped, "unlimited"),
        "maxRankingsAllowed": number(rules.max_rankings, "max"),
        "nonIntegerWinningThreshold": rules.non_integer_threshold,
        "doesFirstRoundDetermineThreshold": rules.first_round_determines_threshold,
        "hareQuota": rules.hare_quota,
        "batchElimination": rules.batch_elimination,
        "continueUntilTwoCandidatesRemain": rules.continue_until_two,
        "stopTabulationEarlyAfterRound": number(rules.stop_after_round, ""),
        "exhaustOnDuplicateCandidate": rules.exhaust_on_duplicate,
        "cutoffElimination": rules.cutoff_elimination,
        "rulesDescription": description,
    }


# --- shared wording ------------------------------------------------------------------------------------------------

_RCTAB_TDP = ("RCTab Technical Data Package, 'Tabulation Options for RCV Tabulation' (Ranked Choice Voting Resource "
              "Center / Bright Spots), GitHub BrightSpots/rcv docs/tdp/Tabulation-Options-for-RCV-Tabulation.md - "
              "a survey of which jurisdictions use which option (secondary source)")
_ASK = ("so the count stops at a tie and asks the officials (stopCountingAndAsk); no random seed is invented")
_BALLOT_FORMAT = ("'max' (as many rankings as candidates): the number of ranking columns is a ballot-design fact "
                  "of each contest, read from the CVRs")
_NO_SEED = ("Ties: the law requires a drawing of lots by officials. The preset uses stopCountingAndAsk, so a count "
            "that reaches a tie stops (veritally rcv asks the operator on a terminal). To reproduce a count whose "
            "lots were drawn in advance, give the drawn order as an RCTab configuration with useCandidateOrder.")
_UWI = ("Undeclared write-ins are RCTab's 'Undeclared Write-ins' candidate, eliminated first whenever it has votes "
        "(RCTab's rule); the sources were not researched for write-in handling beyond what the notes say.")


def _maine() -> Preset:
    statute = ("21-A M.R.S. §723-A, Determination of winner in election for an office elected by ranked-choice voting "
               "(text effective 8/9/2024, as amended by PL 2023 c. 304) - "
               "https://legislature.maine.gov/statutes/21-a/title21-Asec723-A.html (read from the copy at "
               "https://casetext.com/statute/maine-statutes/title-21-a-elections/chapter-9-conduct-of-elections/"
               "subchapter-3-post-election-procedure/article-1-tabulation-and-results/section-723-a-effective-"
               "892024-determination-of-winner-in-election-for-an-office-elected-by-ranked-choice-voting)")
    rule = ("29-250 C.M.R. ch. 535 §4, Vote Counting Procedures (Maine Secretary of State, Rules Governing the "
            "Administration of Elections Determined by Ranked-choice Voting) - "
            "https://www.law.cornell.edu/regulations/maine/29-250-C-M-R-ch-535-SS-4")
    scope = ("21-A M.R.S. §1 sub-§27-C, elections determined by ranked-choice voting (2019 text in LD 1663, 129th "
             "Legislature, https://legislature.maine.gov/legis/bills/bills_129th/billtexts/SP054001.asp)")
    return Preset(
        name="maine",
        title="Maine (21-A M.R.S. §723-A)",
        rules=RcvRules(winner_mode=WinnerMode.SINGLE, winners=1, overvote_rule=OvervoteRule.EXHAUST_IMMEDIATELY,
                       max_skipped=1, max_rankings=None, exhaust_on_duplicate=False, tiebreak=TiebreakMode.ASK,
                       batch_elimination=True, continue_until_two=True),
        sources=(statute, rule, scope, _RCTAB_TDP),
        basis=(
            ("winner_mode", "single seat: §723-A determines 'the winner in election for an office elected by "
                            "ranked-choice voting'"),
            ("winners", "one winner per office (§723-A)"),
            ("overvote_rule", "§723-A(1)(D): an exhausted ballot 'contains an overvote at the highest continuing "
                              "ranking' - exhausted when the overvote is reached"),
            ("max_skipped", "§723-A(1)(D): exhausted if it 'contains 2 or more sequential skipped rankings before "
                            "its highest continuing ranking' - one skipped ranking is passed over"),
            ("max_rankings", _BALLOT_FORMAT),
            ("exhaust_on_duplicate", "the statute's exhausted-ballot definition does not include repeated rankings; "
                                     "RCTab TDP lists the State of Maine under 'Ignore repeat rankings' (RCTab "
                                     "default); ch. 535 §4(2)(B) on repeats was not read (see notes)"),
            ("tiebreak", f"by lot (RCTab TDP: 'Decide by lot (... State of Maine ...)') - {_ASK}"),
            ("batch_elimination", "ch. 535 §4(2)(A): 'More than one candidate may be defeated in a single round by "
                                  "batch elimination'"),
            ("continue_until_two", "ch. 535 §4(2)(A): 'if more than 2 candidates remain, the last-place candidate is "
                                   "defeated ... when only 2 continuing candidates remain, the candidate with the "
                                   "most votes in that round is the winning candidate'"),
            ("first_round_determines_threshold", "not set: each round counts continuing ballots ('Exhausted ballots "
                                                 "are not counted for any continuing candidate', ch. 535 §4(2)(A))"),
        ),
        notes=(
            "Batch elimination: PL 2023 c. 304 repealed the statute's definitions of 'batch elimination' and "
            "'mathematically impossible to be elected' (§723-A(1)(A), (G), effective 8/9/2024); the Secretary of "
            "State's rule ch. 535 §4 (text read: 'current through 2022-14') still provides for it. Whether the "
            "Secretary of State still batch-eliminates could not be confirmed. It never changes a single-seat "
            "winner, only how many rounds are reported.",
            "Round 1: rule ch. 535 §4(2)(A) conducts the round-by-round count only 'If no candidate receives more "
            "than 50% of the first choice votes' (the statute, as quoted by a third party: more than 50% 'of all "
            "ballots cast for the particular office'); RCTab's continueUntilTwoCandidatesRemain keeps counting to "
            "the last two even then. Same winner; the extra rounds are informational.",
            "Repeated rankings of one candidate and undeclared write-ins: ch. 535 §4(2)(B) lists how 'certain ballot "
            "rankings' are counted, but only its opening could be read; skipping a repeated candidate is RCTab's "
            "default and what the RCTab TDP reports for Maine.",
            "The tie sentence of §723-A ('must be decided by lot', ties for last place; the result recorded and "
            "reused on recount) was seen only as quoted by others (third-party notes; Portland Press Herald, "
            "2021-11-03: state law calls for ties between last-place candidates to be 'decided by lot'), not in "
            "the official text. "
            "The RCTab TDP also reports that a tie-breaking order determined in advance is 'Allowed in State of "
            "Maine' (RCTab's test configuration of the 2018 governor primary uses useCandidateOrder).",
            _NO_SEED,
            _UWI,
        ),
    )


def _nyc() -> Preset:
    charter = ("New York City Charter §1057-g, Ranked choice voting for certain primary elections and elections for "
               "which nominations were made by independent nominating petitions (L.L. 2019/215; am. L.L. 2023/003; "
               "2023 N.Y. Laws ch. 481) - American Legal Publishing, https://codelibrary.amlegal.com/codes/"
               "newyorkcity/latest/NYCcharter (text read from the copy refreshed from American Legal Publishing on "
               "2026-08-17 in GitHub joshgreenman1973/nyc-charter-explorer, NYC-Charter-for-GeminiNotebook.md)")
    cfb = ("NYC Campaign Finance Board (NYC Votes), 'How your ballot will be counted' - "
           "https://www.nycvotes.org/how-to-vote/ranked-choice-voting/how-votes-are-counted/")
    return Preset(
        name="nyc",
        title="New York City (NYC Charter §1057-g)",
        rules=RcvRules(winner_mode=WinnerMode.SINGLE, winners=1, overvote_rule=OvervoteRule.EXHAUST_IMMEDIATELY,
                       max_skipped=None, max_rankings=5, exhaust_on_duplicate=False, tiebreak=TiebreakMode.ASK,
                       batch_elimination=True, continue_until_two=True),
        sources=(charter, cfb, _RCTAB_TDP),
        basis=(
            ("winner_mode", "single seat: mayor, public advocate, comptroller, borough president, council member "
                            "(§1057-g(a) 'Ranked choice office')"),
            ("winners", "one nominee or winner per office (§1057-g(e))"),
            ("overvote_rule", "§1057-g(a) 'Exhausted ballot': 'a ballot that assigns equal rank to two or more "
                              "candidates and all candidates with higher ranks than the rank assigned to two or "
                              "more candidates are eliminated' - exhausted when the overvote is reached"),
            ("max_skipped", "unlimited: the charter's exhausted ballot is only one whose ranked candidates are all "
                            "eliminated or that reaches an overvote; skipped rankings do not exhaust (the charter "
                            "does not mention them; RCTab TDP lists New York City under 'Skip to next "
                            "highest-ranked candidate' / 'Unlimited')"),
            ("max_rankings", "§1057-g(d)(1): 'The ballot shall permit a voter to rank five candidates, inclusive of "
                             "any write-in candidate' (fewer when there are fewer candidates)"),
            ("exhaust_on_duplicate", "not exhausting: a repeated candidate is not among the charter's causes of an "
                                     "exhausted ballot (RCTab TDP: New York City ignores repeat rankings; RCTab "
                                     "default)"),
            ("tiebreak", "§1057-g(e)(3): 'A tie between two or more candidates shall be resolved in accordance with "
                         f"the election law' (RCTab TDP: the city decides these ties by lot) - {_ASK}"),
            ("batch_elimination", "§1057-g(e)(2)(b): 'batch elimination shall occur at the same time as such "
                                  "elimination of the last place candidate, unless such batch elimination would "
                                  "result in only one continuing candidate'"),
            ("continue_until_two", "§1057-g(e)(2)(a): 'If there are two continuing candidates, the candidate with "
                                   "the most votes shall be declared the nominee'; (b): with more than two, 'the "
                                   "last place candidate shall be eliminated and a new round shall begin'. NYC "
                                   "Votes: 'This process continues until there are only 2 candidates left.'"),
            ("first_round_determines_threshold", "not set: each round counts continuing ballots ('exhausted ballots "
                                                 "shall not be counted for any continuing candidate', "
                                                 "§1057-g(e)(2))"),
        ),
        notes=(
            "Batch elimination: the charter defeats a candidate whose total plus all votes of candidates with "
            "fewer or equal votes 'would not be enough to surpass' the next candidate - also when that sum equals "
            "the next tally; RCTab (and Veritally) batch-eliminate only when the sum is strictly less, keeping such a "
            "candidate one more round (rarely, a tie the charter avoids must then be broken by lot). When a batch "
            "would leave one candidate, the charter does no batch elimination that round; RCTab, continuing until "
            "two remain, eliminates the largest smaller batch instead. Usually only the rounds shown differ.",
            "Round 1: §1057-g(e)(1) elects a candidate with 'a majority of highest rank votes' without further "
            "rounds; RCTab's continueUntilTwoCandidatesRemain keeps counting to the last two even then. Same "
            "winner, extra rounds shown.",
            "Skipped rankings and repeated rankings are not addressed in words by the charter; the values follow "
            "from its definition of an exhausted ballot. The Board of Elections' own tabulation procedures were "
            "not found.",
            "Five rankings: a contest with fewer than five candidates has fewer columns; the CVR decides.",
            _NO_SEED,
            _UWI,
        ),
    )


def _alaska() -> Preset:
    statute = ("Alaska Stat. §15.15.350(c)-(e), General procedure for ballot count (ranked-choice general "
               "elections, Ballot Measure 2, 2020) - https://law.justia.com/codes/alaska/2022/title-15/chapter-15/"
               "section-15-15-350/ ; (d) as currently in force, reproduced in HB 225 (33rd Legislature), "
               "https://www.akleg.gov/basis/Bill/Text/33?Hsid=HB0225A")
    division = ("Alaska Division of Elections, election results 'Terms and Definitions' (page updated "
                "September 8, 2022) - https://www.elections.alaska.gov/election-results/e/ (read from the stored "
                "copy at https://www.joyk.com/dig/detail/1663257017401079); RCV FAQ, "
                "https://www.elections.alaska.gov/RCV.php")
    summary = ("Secondary summary of the voter-error rules: LegalClarity, 'How Alaska's Ranked Choice Voting Results "
               "Work' - https://legalclarity.org/how-alaskas-ranked-choice-voting-results-work ('Assigning the same "
               "ranking to multiple candidates creates an \"overvote\" that invalidates subsequent rankings. The "
               "ballot becomes \"exhausted\" if a voter skips two or more sequential rankings')")
    return Preset(
        name="alaska",
        title="Alaska (AS 15.15.350)",
        rules=RcvRules(winner_mode=WinnerMode.SINGLE, winners=1, overvote_rule=OvervoteRule.EXHAUST_IMMEDIATELY,
                       max_skipped=1, max_rankings=None, exhaust_on_duplicate=False, tiebreak=TiebreakMode.ASK,
                       batch_elimination=False, continue_until_two=True),
        sources=(statute, division, summary, _RCTAB_TDP),
        basis=(
            ("winner_mode", "single seat: AS 15.15.350(d) elects 'that candidate' / 'the candidate with the greatest "
                            "number of votes'"),
            ("winners", "one winner per office (AS 15.15.350(d))"),
            ("overvote_rule", "law text not read (see notes): RCTab default exhaustImmediately, matching RCTab's test "
                              "configuration 2024_alaska_dominion (built on the Division's 2024 CVR) and third-party "
                              "summaries (an overvote 'invalidates subsequent rankings')"),
            ("max_skipped", "law text not read (see notes): 1, RCTab default, matching 2024_alaska_dominion and "
                            "third-party summaries (exhausted after 'two or more sequential' skipped rankings)"),
            ("max_rankings", _BALLOT_FORMAT),
            ("exhaust_on_duplicate", "law text not read (see notes): not exhausting, RCTab default, matching "
                                     "2024_alaska_dominion"),
            ("tiebreak", f"AS 15.15.350(e) (as quoted in third-party notes, not an official copy): 'the tie shall "
                         f"be resolved by lot to determine which candidate is defeated' - {_ASK}"),
            ("batch_elimination", "AS 15.15.350(d)(2) defeats 'the candidate with the fewest votes' - one a round; "
                                  "no batch elimination"),
            ("continue_until_two", "AS 15.15.350(d)(1): 'if two or fewer continuing candidates remain, the candidate "
                                   "with the greatest number of votes is elected'; Division: 'Alaska law requires "
                                   "tabulation to continue until two candidates remain, unless a candidate achieves "
                                   "a majority in the first round'"),
            ("first_round_determines_threshold", "not set: round 1 elects a candidate 'highest-ranked on more than "
                                                 "one-half of the active ballots' (AS 15.15.350(d))"),
        ),
        notes=(
            "Overvotes, skipped rankings and repeated rankings: AS 15.15.350(d)(2) refers to ballots 'considered an "
            "inactive ballot under (g)(2) of this section', but the text of subsection (g) (and of the ranked-choice "
            "counting rules of AS 15.15.360) could not be read here. The values are RCTab's defaults; they agree "
            "with the RCTab test configuration built on the Division's 2024 CVR (2024_alaska_dominion) and with "
            "secondary summaries, but are NOT verified against the statute. Check them before relying on them.",
            "The tie rule (AS 15.15.350(e)) was read only as quoted by a third party.",
            "Write-ins: the Division excludes unresolved write-ins ('rankings for them will be excluded ... a "
            "ranking for a write-in will not be considered a blank or skipped ranking') unless all write-ins "
            "together come first or a close second in round 1. RCTab instead counts 'Undeclared Write-ins' in "
            "round 1 and eliminates them first: the same winner, but round-1 figures differ from the Division's.",
            "Round 1: the law ends the count when a candidate has a majority of active ballots in round 1, and "
            "otherwise counts until two candidates remain; RCTab cannot say both, so with this preset a round-1 "
            "majority winner is still counted down to two candidates (same winner, extra rounds shown).",
            _NO_SEED,
        ),
    )


def _san_francisco() -> Preset:
    charter = ("San Francisco Charter art. XIII §13.102, Instant Runoff Elections - American Legal Publishing, "
               "https://codelibrary.amlegal.com/codes/san_francisco/latest/sf_charter/ (text read from the copy "
               "obtained from amlegal.com on 2015-06-13, GitHub FreeAndFair/Tabulator statutes/san_francisco.txt)")
    return Preset(
        name="san-francisco",
        title="San Francisco (SF Charter §13.102)",
        rules=RcvRules(winner_mode=WinnerMode.SINGLE, winners=1, overvote_rule=OvervoteRule.EXHAUST_IMMEDIATELY,
                       max_skipped=None, max_rankings=None, exhaust_on_duplicate=False, tiebreak=TiebreakMode.ASK,
                       batch_elimination=True, continue_until_two=False),
        sources=(charter, _RCTAB_TDP),
        basis=(
            ("winner_mode", "single seat: Mayor, Sheriff, District Attorney, City Attorney, Treasurer, "
                            "Assessor-Recorder, Public Defender, Supervisors (§13.102(b))"),
            ("winners", "one winner per office (§13.102(c))"),
            ("overvote_rule", "§13.102(a): 'If a ranked-choice ballot gives equal rank to two or more candidates, "
                              "the ballot shall be declared exhausted when such multiple rankings are reached.'"),
            ("max_skipped", "§13.102(a): 'If a voter casts a ranked-choice ballot but skips a rank, the voter's "
                            "vote shall be transferred to that voter's next ranked choice.' - any number of skips"),
            ("max_rankings", "§13.102(b): as many rankings as candidates, but the Director of Elections 'may limit "
                             f"the number of choices a voter may rank to no fewer than three'; {_BALLOT_FORMAT}"),
            ("exhaust_on_duplicate", "the charter is silent on repeated rankings: RCTab default (not exhausting)"),
            ("tiebreak", "§13.102(f): 'A tie between two or more candidates shall be resolved in accordance with "
                         f"State law' (RCTab TDP: California law requires lots) - {_ASK}"),
            ("batch_elimination", "§13.102(e): 'If the total number of votes of the two or more candidates credited "
                                  "with the lowest number of votes is less than the number of votes credited to the "
                                  "candidate with the next highest number of votes, those candidates ... shall be "
                                  "eliminated simultaneously'"),
            ("continue_until_two", "§13.102(c)-(d): elimination is 'repeated until a candidate receives a majority "
                                   "of the votes from the continuing ballots'"),
            ("first_round_determines_threshold", "not set: the majority is 'of the votes from the continuing "
                                                 "ballots' each round (§13.102(c)-(d))"),
        ),
        notes=(
            "Practice: the RCTab TDP reports that 'San Francisco law requires' stopping at a majority 'but the city "
            "opts to continue tabulation' until two candidates remain. The preset follows the charter; for the "
            "city's published round-by-round reports, use --rcv-rules with continueUntilTwoCandidatesRemain true "
            "(same winner either way).",
            "The charter text read is the 2015-06-13 copy; later amendments to §13.102, if any, were not checked.",
            "Repeated rankings: the charter is silent; the preset takes RCTab's default (a repeated candidate is "
            "passed over, the ballot is not exhausted).",
            "California's tie statute itself was not read; the RCTab TDP reports that in every jurisdiction it lists "
            "that defers to state law, except New York City, state law requires lots.",
            _NO_SEED,
            _UWI,
        ),
    )


_MPLS_CODE = ("Minneapolis Code of Ordinances, Title 8.5, Chapter 167 (Municipal Elections: Rules of Conduct), "
              "§§167.20, 167.30, 167.60, 167.70, as amended by 2013-Or-055 (5-24-13) - https://library.municode.com/"
              "mn/minneapolis/codes/code_of_ordinances (text read from GitHub FreeAndFair/Tabulator "
              "statutes/Minneapolis.md)")
_MPLS_CHARTER = ("Minneapolis City Charter, tie vote by lot (cited by §§167.60 and 167.70 as 'Minneapolis Charter "
                 "Chapter 2, Section 12'; that section as quoted in a version of the Minneapolis rule of the Droop STV "
                 "package, GitHub jklundell/droop droop/rules/mpls.py: 'the election shall be determined as between "
                 "those candidates by the casting of lots in the presence of the City Council')")


def _minneapolis() -> Preset:
    results = ("Reported results used to check the preset: 2017 mayor - 'Jacob Frey was declared the winner with "
               "46,716 votes' (MinnPost, 'A deeper look at the ranked choices for mayor of Minneapolis', Nov. 2017) "
               "and 'The winner needed 52,262 of the 104,522 votes cast' (journalmpls.com, 'Frey elected mayor', "
               "2017-11-14); 2013 mayor - 'Hodges emerged as the winner with 38,870 votes ... Mark Andrew finished "
               "with 24,972 votes' (KSTP, 2013-11-08), 'the winner must secure 39,708 votes' (AP, 2013-11-06), "
               "'after 33 rounds of counting' (AP via WCCO, 2013-11-07)")
    return Preset(
        name="minneapolis",
        title="Minneapolis (Code of Ordinances §§167.20, 167.60)",
        rules=RcvRules(winner_mode=WinnerMode.SINGLE, winners=1, overvote_rule=OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK,
                       max_skipped=None, max_rankings=None, exhaust_on_duplicate=False, tiebreak=TiebreakMode.ASK,
                       batch_elimination=True, continue_until_two=False, first_round_determines_threshold=True),
        sources=(_MPLS_CODE, _MPLS_CHARTER, results, _RCTAB_TDP),
        basis=(
            ("winner_mode", "§167.60(a): 'one (1) seat in an office is to be filled' - single-seat single "
                            "transferable vote"),
            ("winners", "one seat (§167.60(a))"),
            ("overvote_rule", "§167.60(c)(2): 'When a skipped ranking, overvote or repeat candidate ranking is "
                              "encountered on a ballot, that ballot shall count towards the highest continuing "
                              "ranking that is not a skipped ranking, an overvote or repeat candidate ranking.'"),
            ("max_skipped", "§167.60(c)(2) (above): every skipped ranking is passed over"),
            ("max_rankings", "§167.30(a)(1): the ballot 'must allow a voter to rank at least three (3) candidates' "
                             f"(three columns in 2009-2021); {_BALLOT_FORMAT}"),
            ("exhaust_on_duplicate", "§167.60(c)(2) (above): a repeat candidate ranking is passed over"),
            ("tiebreak", "§167.60(c)(1)(c): 'Ties between candidates with the fewest votes must immediately and "
                         f"publicly be decided by lot by the chief election official' - {_ASK}"),
            ("batch_elimination", "§167.60(c)(1)(b): 'all candidates for whom it is mathematically impossible to be "
                                  "elected must be defeated simultaneously'"),
            ("continue_until_two", "§167.60(c)(1)(a): a candidate at the threshold 'is declared elected and the "
                                   "tabulation is complete'"),
            ("first_round_determines_threshold", "§167.20 'Threshold': 'the total votes counted in the first round "
                                                 "after removing partially defective ballots, divided by the sum of "
                                                 "one (1) plus the number of offices to be filled, then adding one "
                                                 "(1), disregarding any fractions' - fixed from round 1"),
        ),
        notes=(
            "Mathematically impossible (§167.20) includes votes 'from undeclared write-in candidates' and means "
            "unable 'to equal or surpass' the next candidate - the same set RCTab batch-eliminates (combined votes "
            "strictly below the next tally). §167.60(c)(1)(b) defeats all undeclared write-ins together with that "
            "batch at the start of round 2; RCTab eliminates 'Undeclared Write-ins' alone first. Same winner and "
            "final round, but one more round can be shown (2017 mayor: the city's unofficial results reported 5 "
            "rounds, this preset shows 6).",
            "The ordinance's election-night 'first ranked choice tabulation' against the 'maximum possible "
            "threshold' (all ballots for the office, including undervotes and overvotes) only decides whether a "
            "round-by-round tabulation is needed; it is not modelled.",
            "Text read is the 2013-Or-055 version (effective for the 2013 election). Later amendments to "
            "chapter 167 and the current numbering of the charter's tie section were not checked.",
            "Checked against reported results: on the 2013 and 2017 mayoral CVRs in RCTab's test data this preset "
            "gives the city's reported final rounds exactly - 2013: Hodges 38,870, Andrew 24,972, threshold 39,708, "
            "33 rounds; 2017: Frey 46,716, threshold 52,262 (tests/tabulate/rcv/test_presets.py). RCTab's own test "
            "configurations of those races (overvotes exhausting in 2013, skipped rankings limited to one, threshold "
            "recomputed each round) give Hodges 38,852 / Andrew 24,942 and Frey 46,704.",
            _NO_SEED,
        ),
    )


def _minneapolis_stv() -> Preset:
    park = ("RCTab test configuration 2013_minneapolis_park (2013 Minneapolis Park and Recreation Commissioner at "
            "large, 3 seats), GitHub BrightSpots/rcv src/test/resources/network/brightspots/rcv/test_data/ - for "
            "the example seat count only")
    return Preset(
        name="minneapolis-stv",
        title="Minneapolis multi-seat STV (Code of Ordinances §§167.20, 167.70)",
        rules=RcvRules(winner_mode=WinnerMode.ONE_PER_ROUND, winners=3,
                       overvote_rule=OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK, max_skipped=None, max_rankings=None,
                       exhaust_on_duplicate=False, tiebreak=TiebreakMode.ASK, decimals=4, non_integer_threshold=False,
                       hare_quota=False, batch_elimination=False, continue_until_two=False),
        sources=(_MPLS_CODE, _MPLS_CHARTER, park, _RCTAB_TDP),
        basis=(
            ("winner_mode", "§167.70(c)(1)(d): 'The candidate with the largest surplus is declared elected and that "
                            "candidate's surplus is transferred' - one surplus at a time (RCTab TDP: Minneapolis "
                            "transfers one surplus at a time, 'Multi-winner allow only one winner per round')"),
            ("winners", "example only: 3, the at-large Park Board seats of 2013 (RCTab's 2013_minneapolis_park); "
                        "the seat count is the contest's - use Preset.with_winners(n) / rctab_rules(n)"),
            ("overvote_rule", "§167.70(c)(2): a skipped ranking, overvote or repeat candidate ranking is passed over "
                              "('shall count towards the highest continuing ranking that is not a skipped ranking, "
                              "an overvote or repeat candidate ranking')"),
            ("max_skipped", "§167.70(c)(2) (above): every skipped ranking is passed over"),
            ("max_rankings", f"§167.30(a)(1): 'at least three (3)'; {_BALLOT_FORMAT}"),
            ("exhaust_on_duplicate", "§167.70(c)(2) (above): a repeat candidate ranking is passed over"),
            ("tiebreak", "§167.70(c)(1)(d)-(e): ties 'must be decided by lot' / 'resolved by lot by the chief "
                         f"election official' - {_ASK}"),
            ("batch_elimination", "§167.70(c)(1)(c) requires defeating all mathematically impossible candidates "
                                  "simultaneously, but RCTab does not allow batch elimination in multi-seat STV "
                                  "(see notes): false"),
            ("continue_until_two", "not applicable to multi-seat STV (RCTab forbids it): false"),
            ("first_round_determines_threshold", "not applicable to multi-seat STV (RCTab forbids it); the STV "
                                                 "threshold is computed once from round 1 anyway"),
            ("decimals", "§167.20 'Surplus fraction of a vote' and 'Transfer value': 'calculated to four (4) "
                         "decimal places, ignoring any remainder' (RCTab truncates at decimalPlacesForVoteArithmetic)"),
            ("non_integer_threshold", "§167.20 'Threshold': '((Total votes cast)/(Seats to be elected + 1)) +1, "
                                      "with any fractions disregarded' - a whole-number Droop quota"),
            ("hare_quota", "§167.20 'Threshold' (above): Droop, not Hare"),
        ),
        notes=(
            "Batch elimination: §167.70(c)(1)(c) defeats every mathematically impossible candidate at once (taking "
            "uncalculated surpluses into account); RCTab's rules cannot say this for STV, so candidates are defeated "
            "one a round. The elected set can differ only in rare cases where the order of defeats changes which "
            "surplus is transferred first; the rounds reported differ more often.",
            "RCTab's multiWinnerAllowOnlyOneWinnerPerRound elects the top candidate over the threshold each round "
            "and transfers its surplus; the ordinance elects 'the candidate with the largest surplus' - the same "
            "candidate, since every surplus is measured against the same threshold.",
            "The seat count is not a rule of the ordinance but of each office (the at-large Park Board seats "
            "counted in RCTab's 2013 test data: 3); `--rcv-preset minneapolis-stv` counts with 3 seats. Multi-seat "
            "offices named by the ordinance: park board and board of estimate and taxation (§167.130(b)).",
            "Undeclared write-ins are defeated with the first batch (§167.70(c)(1)(c)); RCTab eliminates them first, "
            "alone.",
            _NO_SEED,
        ),
    )


def _portland_me() -> Preset:
    charter = ("City of Portland (Maine) Charter art. II, 'Ranked choice voting; instant runoff tabulation' - "
               "https://ecode360.com/33911608")
    city_rules = ("City of Portland, ranked-choice voting and tabulation rules accepted by the City Council on "
                  "2011-09-19 (adopted by the City Clerk under the charter), as described in the city's announcement "
                  "'City Council approves rules for voting and tabulation', 2011-09-20 - "
                  "https://maineinsights.com/portland-maine-adopts-ranked-choice-voting-rules/")
    tie = ("Portland tie rule, as read out by City Clerk Katherine Jones on 2021-11-04 (NEWS CENTER Maine, 'Name "
           "drawing decides tie in Portland City Council race', https://newscentermaine.com/article/news/politics/"
           "elections/name-drawing-decides-tie-in-portland-city-council-race/97-2c8355ba-b426-48a0-a5b1-"
           "a5f3453c2f47); Portland Press Herald, 2021-11-03, https://www.pressherald.com/2021/11/03/tied-instant-"
           "runoff-for-portland-council-seat-will-be-decided-by-drawing-lots/")
    return Preset(
        name="portland-me",
        title="Portland, Maine (City Charter art. II; City RCV rules, 2011)",
        rules=RcvRules(winner_mode=WinnerMode.SINGLE, winners=1, overvote_rule=OvervoteRule.EXHAUST_IMMEDIATELY,
                       max_skipped=None, max_rankings=None, exhaust_on_duplicate=False, tiebreak=TiebreakMode.ASK,
                       batch_elimination=False, continue_until_two=False),
        sources=(charter, city_rules, tie, _RCTAB_TDP),
        basis=(
            ("winner_mode", "single seat: instant runoff for Mayor, City Councilor and School Committee Member "
                            "(charter art. II); multi-seat contests: see notes"),
            ("winners", "one winner per seat (charter art. II: 'that candidate is elected')"),
            ("overvote_rule", "city rules (2011): 'If a ballot contains an over-vote, the ballot becomes invalid "
                              "when that ranking is reached.'"),
            ("max_skipped", "city rules (2011): 'If a ballot contains a skipped ranking, the ranking that follows the "
                            "skip will be considered the next valid choice.' - no limit stated (see notes)"),
            ("max_rankings", "voters may rank 'as many of the Mayoral candidates as they would like' (city "
                             f"announcement, 2011); {_BALLOT_FORMAT}"),
            ("exhaust_on_duplicate", "city rules (2011): 'If a ballot contains a multiple ranking, the ballot shall "
                                     "only count for the highest ranked choice for the candidate.'"),
            ("tiebreak", "city rules, as read by the City Clerk (2021): 'If a tie occurs between two candidates with "
                         "the highest number of votes at the end of tabulation, the city clerk shall determine the "
                         f"winner by public lot' - {_ASK}"),
            ("batch_elimination", "the city's description of its rules eliminates 'the candidate with the fewest "
                                  "first choice votes' each round; batch elimination is not mentioned: RCTab "
                                  "default (false)"),
            ("continue_until_two", "city rules (2011): rounds 'continue until one candidate receives a majority'"),
            ("first_round_determines_threshold", "not set: the charter's majority is 'at least one more than fifty "
                                                 "percent (50%) of the first choice votes cast' in round 1; later "
                                                 "rounds' majority is not defined further in the text read: RCTab "
                                                 "default (continuing ballots each round)"),
        ),
        notes=(
            "The rules themselves (adopted 2011) were read only as the city's announcement summarises them; the full "
            "charter subsection was read only up to its first guidelines.",
            "Skipped rankings: the rules as summarised pass over 'a skipped ranking' and say nothing about two or "
            "more in a row; the preset passes over any number. RCTab's test configuration of the 2015 mayor race "
            "(rulesDescription 'Maine Rules') exhausts after two - check the city's current rules.",
            "Batch elimination is not mentioned in the sources read (RCTab's 2015 test configuration uses it). It "
            "never changes a single-seat winner.",
            "Ties: press reports differ on where the rule is - in the city's 2011 rules (Portland Press Herald: "
            "the charter 'does not directly address ties in a ranked-choice election') or in the charter (Bangor "
            "Daily News, 2021-11-03). Only the rule for a tie between the last two was found, none for ties for "
            "last place; the preset stops and asks at any tie.",
            "Multi-seat contests: Question 4 (November 2022) authorised proportional ranked-choice voting for "
            "multi-seat elections by ordinance; that ordinance was not researched and no preset covers it.",
            _NO_SEED,
            _UWI,
        ),
    )


def _build() -> dict[str, Preset]:
    presets = [_maine(), _nyc(), _alaska(), _san_francisco(), _minneapolis(), _minneapolis_stv(), _portland_me()]
    return {p.name: p for p in presets}


#: Every preset by name.
PRESETS: Mapping[str, Preset] = _build()


def preset(name: str) -> Preset:
    """The preset called ``name``; ConfigError listing the known names when there is none."""
    try:
        return PRESETS[name.strip().lower()]
    except KeyError:
        raise ConfigError(f"unknown RCV preset {name!r}; known presets: {', '.join(PRESETS)} "
                          "(docs/rcv-presets.md)") from None


def _check() -> None:
    """Every preset is valid RCTab, traces its governed fields, and never invents a random seed."""
    names = {f.name for f in fields(RcvRules)}
    for p in PRESETS.values():
        p.rules.validate()
        assert {f for f, _ in p.basis} <= names, p.name
        assert not p.rules.tiebreak.needs_seed and p.rules.random_seed is None, p.name
        assert p.rules.bottoms_up_percentage is None or isinstance(p.rules.bottoms_up_percentage, Decimal)


_check()
