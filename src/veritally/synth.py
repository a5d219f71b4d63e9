"""Synthetic county elections: deterministic from a seed, generated in chunks, with an optional planted miscount.

A county is planned first (cheap, one row per precinct and per batch): precincts of varied size with a partisan
lean, a city covering about half of them, three school districts, ballot styles from the districts, polling places
with one in-precinct tabulator each, central-count tabulators for mail ballots, and batches (election-day batches
hold one precinct's cards; mail batches of 200 mix precincts, as in a real central count). The ballot cards are
then drawn chunk by chunk with NumPy, never one Python object per card, so 10^8 cards need memory for one chunk
when written as Parquet (other formats hold the whole election in memory; a 10^8-card vendor export would be
hundreds of gigabytes anyway).

Votes follow per-precinct preferences (softmax of a base logit, the precinct's lean times the candidate's slope,
and per-precinct noise) with realistic voter error: blank contests (more down-ballot), overvotes (rare on
election day, where the scanner returns them, more on mail ballots), write-ins, partial vote-for-N ballots, and in
the ranked contest short rankings, skipped ranks, duplicate rankings, overvoted ranks and undeclared write-ins.
The contests (:data:`CONTESTS`): plurality, vote-for-3, a close two-candidate race, a two-thirds measure, a
city-only ranked-choice mayor, and school-board contests per district.

Reproducibility: the seed (any text) is hashed with SHA-256 into a NumPy ``SeedSequence``; the county plan and
every chunk draw from their own child streams, so the same seed, card count and Veritally/NumPy versions give the
same files. The chunk size is fixed (:data:`CHUNK`), so the cards do not depend on memory settings.

:func:`write_synthetic` writes ``paper/`` (a CVR export of what is really on every paper card), ``cvrs/`` (the
CVRs in the same format, card ids and attributes: the paper, except where a tabulator misread cards), the ballot
manifest, ``reported.csv`` (the reported results per precinct: the CVRs' count, with the planted miscount if
asked) and ``truth.json`` (the true tallies, the winners, and what was planted). docs/synth.md describes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._io import atomic_dir
from .errors import ConfigError
from .model import STRING, UWI_NAME, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election

__all__ = ["CONTESTS", "CHUNK", "PLANTS", "County", "plan_county", "generate", "write_synthetic"]

GENERATOR_VERSION = 1
#: Cards per generated chunk (fixed: the cards drawn do not depend on it being changed at run time).
CHUNK = 1 << 20
#: Miscounts that can be planted: in the reported results (the first three), or in the CVRs (``misread``).
PLANTS = ("double-count", "drop-batch", "shift-votes", "misread")
CARDS_PER_PRECINCT = 1200  #: average; precinct sizes are log-normal around it
ED_BATCH = 400  #: most cards in one election-day batch
MAIL_BATCH = 200  #: cards in one central-count batch
MAIL_CARDS_PER_TABULATOR = 50_000

#: Output file under ``cvrs/`` per format (None: the format writes a folder, ``cvrs/`` itself).
CVR_FILE = {"parquet": "cvrs.parquet", "cdf": "cvrs.json", "ess": "cvrs.csv", "clearballot": "cvrs.csv",
            "csv": "cvrs.csv", "dominion": None, "hart": None}


@dataclass(frozen=True)
class ContestSpec:
    """How a synthetic contest is voted.

    ``base`` are the candidates' logits, ``slope`` how much each gains per unit of precinct lean (negative: the
    other side). ``blank`` is the share of cards leaving the contest empty; ``overvote`` the share overvoting on
    (election-day, mail) cards.
    """

    contest: Contest
    base: tuple[float, ...]
    slope: tuple[float, ...]
    where: str = "county"  #: "county", "city", or "school:<k>"
    blank: float = 0.02
    overvote: tuple[float, float] = (0.0005, 0.004)


def _choices(*names: tuple[str, str | None]) -> tuple[Choice, ...]:
    return tuple(Choice(str(i + 1), n, write_in=n == "Write-in", party=p) for i, (n, p) in enumerate(names))


def _contests() -> tuple[ContestSpec, ...]:
    wi = ("Write-in", None)
    mayor = (*_choices(("Alma Reyes", None), ("Ben Okafor", None), ("Carla Lindqvist", None), ("Dev Mehta", None),
                       ("Erin Walsh", None)), Choice("6", UWI_NAME, write_in=True, undeclared=True))
    specs = [
        ContestSpec(Contest("101", "President", ContestKind.PLURALITY,
                            _choices(("Harriet Stone", "Democratic"), ("Marcus Hale", "Republican"),
                                     ("Jo Park", "Libertarian"), ("Ruth Ames", "Green"), wi)),
                    (0.0, 0.0, -2.9, -3.4, -5.0), (-0.55, 0.55, 0.05, -0.1, 0.0), blank=0.012),
        ContestSpec(Contest("102", "County Executive", ContestKind.PLURALITY,
                            _choices(("Diane Porter", "Democratic"), ("Gus Whitaker", "Republican"),
                                     ("Lena Cho", "Independent"), wi)),
                    (0.05, 0.0, -1.6, -4.6), (-0.5, 0.5, 0.0, 0.0), blank=0.05),
        ContestSpec(Contest("103", "County Council At-Large", ContestKind.VOTE_FOR_N,
                            _choices(("Omar Haddad", "Democratic"), ("Priya Nair", "Democratic"),
                                     ("Sam Kowalski", "Democratic"), ("Tess Duran", "Republican"),
                                     ("Vic Moreau", "Republican"), ("Wade Lin", "Republican"), wi),
                            winners=3, votes_allowed=3),
                    (0.1, 0.0, -0.2, 0.05, 0.0, -0.15, -4.0), (-0.45, -0.45, -0.45, 0.45, 0.45, 0.45, 0.0),
                    blank=0.09),
        ContestSpec(Contest("104", "County Treasurer", ContestKind.PLURALITY,
                            _choices(("Nora Fitch", "Democratic"), ("Hal Brennan", "Republican"), wi)),
                    (0.0, 0.0, -5.0), (-0.4, 0.4, 0.0), blank=0.08),
        ContestSpec(Contest("105", "Measure A: Library Bond", ContestKind.THRESHOLD,
                            _choices(("Yes", None), ("No", None)), threshold=2 / 3),
                    (0.7, 0.0), (-0.3, 0.3), blank=0.11),
        ContestSpec(Contest("106", "Mayor of Riverton", ContestKind.RANKED, mayor, ranks=5, district="Riverton"),
                    (0.3, 0.25, 0.0, -0.4, -0.9, -4.0), (-0.3, 0.3, -0.1, 0.2, 0.0, 0.0), where="city", blank=0.03),
    ]
    board = [(("Ava Greene", None), ("Cal Ortiz", None)),
             (("Dana Wu", None), ("Eli Hart", None), ("Faye Moss", None)),
             (("Gil Rao", None), ("Iris Bell", None))]
    for k, names in enumerate(board, start=1):
        n = len(names)
        specs.append(ContestSpec(
            Contest(f"{106 + k}", f"School Board District {k}", ContestKind.PLURALITY, _choices(*names, wi),
                    district=f"School District {k}"),
            (*np.linspace(0.2, -0.2, n).round(2).tolist(), -4.5), (*np.linspace(-0.2, 0.2, n).round(2).tolist(), 0.0),
            where=f"school:{k}", blank=0.18))
    return tuple(specs)


CONTESTS: tuple[ContestSpec, ...] = _contests()


# the county plan -----------------------------------------------------------------------------------------------------
@dataclass
class County:
    """The plan every chunk is drawn from: precincts, tabulators and batches (one row each)."""

    precincts: np.ndarray  #: labels
    in_city: np.ndarray  #: bool per precinct
    school: np.ndarray  #: school district (1..3) per precinct
    style: np.ndarray  #: ballot style code per precinct
    probs: list[np.ndarray]  #: per contest, choice probabilities per precinct (P, k)
    mail_left: np.ndarray  #: mail cards per precinct (drawn down chunk by chunk)
    tabulators: np.ndarray  #: labels
    tabulator_ids: np.ndarray  #: Dominion-style numeric ids, per tabulator
    containers: np.ndarray  #: manifest container per tabulator
    batch_tabulator: np.ndarray  #: per batch: tabulator index
    batch_number: np.ndarray  #: per batch: number within its tabulator
    batch_size: np.ndarray
    batch_precinct: np.ndarray  #: per batch: precinct for election-day batches, -1 for mail
    n_ed: int  #: election-day cards (the first batches); mail cards follow

    @property
    def batch_labels(self) -> np.ndarray:
        ids = self.tabulator_ids[self.batch_tabulator].astype(STRING)
        return np.strings.add(np.strings.add(ids, "-"), self.batch_number.astype(STRING))


def _entropy(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(str(seed).encode()).digest(), "big")


def _rng(seed: str, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(_entropy(seed), spawn_key=key))


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def plan_county(seed: str, n_cards: int) -> County:
    """Precincts, tabulators and batches of a county of ``n_cards`` cards (deterministic from ``seed``)."""
    if n_cards < 1:
        raise ConfigError("a synthetic election needs at least 1 card")
    rng = _rng(seed, 0)
    p = max(4, round(n_cards / CARDS_PER_PRECINCT))
    names = [f"{i + 1:04d}" for i in range(p)]
    size = rng.lognormal(0.0, 0.45, p)
    cards = rng.multinomial(n_cards, size / size.sum())
    lean = rng.normal(0.0, 1.0, p)
    in_city = rng.random(p) < 0.55
    school = rng.integers(1, 4, p)
    style = (in_city.astype(np.int64) * 3 + school - 1).astype(np.int64)
    probs = []
    for spec in CONTESTS:
        logits = (np.asarray(spec.base)[None, :] + lean[:, None] * np.asarray(spec.slope)[None, :]
                  + rng.normal(0.0, 0.12, (p, len(spec.base))))
        probs.append(_softmax(logits))
    mail_share = rng.beta(9, 11, p)
    mail = rng.binomial(cards, mail_share)
    ed = cards - mail
    # one in-precinct tabulator per polling place of about three precincts; central tabulators for mail
    places = np.arange(p) // 3
    n_places = int(places.max()) + 1
    n_central = max(2, min(50, int(mail.sum()) // MAIL_CARDS_PER_TABULATOR + 1))
    tab_ids = np.concatenate([np.arange(1, n_central + 1), 100 + np.arange(1, n_places + 1)])
    tab_names = [f"Central {i}" for i in range(1, n_central + 1)] + [f"ICP {100 + i}" for i in range(1, n_places + 1)]
    containers = ["Central Count"] * n_central + [f"Polling Place {i}" for i in range(1, n_places + 1)]
    # election-day batches: each precinct's cards in batches of at most ED_BATCH on its polling place's tabulator
    per_precinct = np.where(ed > 0, -(-ed // ED_BATCH), 0)
    b_prec = np.repeat(np.arange(p), per_precinct)
    first = np.repeat(np.cumsum(per_precinct) - per_precinct, per_precinct)
    k = np.arange(len(b_prec)) - first  # batch index within its precinct
    n_b = per_precinct[b_prec]
    b_size = ed[b_prec] // n_b + (k < ed[b_prec] % n_b)
    b_tab = n_central + places[b_prec]
    # mail batches of MAIL_BATCH, dealt round-robin to the central tabulators
    m = int(mail.sum())
    n_mail_b = -(-m // MAIL_BATCH)
    m_size = np.full(n_mail_b, MAIL_BATCH)
    if n_mail_b:
        m_size[-1] = m - MAIL_BATCH * (n_mail_b - 1)
    m_tab = np.arange(n_mail_b) % n_central
    batch_tab = np.concatenate([b_tab, m_tab]).astype(np.int64)
    number = np.zeros(len(batch_tab), np.int64)
    order = np.argsort(batch_tab, kind="stable")
    t_sorted = batch_tab[order]
    starts = np.flatnonzero(np.r_[True, t_sorted[1:] != t_sorted[:-1]])
    number[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)])) + 1
    return County(np.array(names, dtype=STRING), in_city, school, style, probs, mail.astype(np.int64),
                  np.array(tab_names, dtype=STRING), tab_ids, np.array(containers, dtype=STRING), batch_tab, number,
                  np.concatenate([b_size, m_size]).astype(np.int64), np.concatenate([b_prec, np.full(n_mail_b, -1)]),
                  int(ed.sum()))


# drawing cards -------------------------------------------------------------------------------------------------------
def _pick(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One choice per row of ``probs`` (rows sum to 1)."""
    u = rng.random(len(probs))
    return (u[:, None] > np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)


def _order(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A preference order per row (Plackett–Luce, by the Gumbel-max trick): column j = the j-th favourite."""
    keys = np.log(probs) + rng.gumbel(size=probs.shape)
    return np.argsort(-keys, axis=1)


def _bits(choice: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return (np.ones(len(choice), dtype) << choice.astype(dtype))


def _other(choice: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A choice different from ``choice``, uniformly."""
    return (choice + rng.integers(1, k, len(choice))) % k


def _draw_plurality(spec: ContestSpec, probs: np.ndarray, mail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    c = spec.contest
    dt, k, n = c.mask_dtype, len(c.choices), len(probs)
    if c.votes_allowed == 1:
        choice = _pick(probs, rng)
        masks = _bits(choice, dt)
        over = rng.random(n) < np.where(mail, spec.overvote[1], spec.overvote[0])
        masks[over] |= _bits(_other(choice[over], k, rng), dt)
    else:
        order = _order(probs, rng)
        n_allowed = c.votes_allowed
        # how many the voter marks: most use every vote; some stop short; a few overvote
        shares = np.r_[np.full(n_allowed - 1, 0.25 / (n_allowed - 1)), 0.75]
        marks = 1 + rng.choice(n_allowed, n, p=shares)
        over = rng.random(n) < np.where(mail, spec.overvote[1], spec.overvote[0])
        marks[over] = n_allowed + 1
        masks = np.zeros(n, dt)
        for j in range(min(k, n_allowed + 1)):
            masks |= np.where(marks > j, _bits(order[:, j], dt), dt.type(0))
    masks[rng.random(n) < spec.blank] = 0
    return masks


def _draw_ranked(spec: ContestSpec, probs: np.ndarray, mail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    c = spec.contest
    dt, k, n, ranks = c.mask_dtype, len(c.choices), len(probs), c.ranks
    order = _order(probs, rng)
    length = 1 + rng.choice(ranks, n, p=[0.3, 0.2, 0.2, 0.1, 0.2] if ranks == 5 else None)
    masks = np.zeros((n, ranks), dt)
    for r in range(ranks):
        masks[:, r] = np.where(length > r, _bits(order[:, r], dt), dt.type(0))
    u = rng.random(n)
    dup = (u < 0.01) & (length >= 2)  # the first choice ranked again second
    masks[dup, 1] = masks[dup, 0]
    over = (u >= 0.01) & (u < 0.01 + np.where(mail, 0.004, 0.001))  # two candidates at one ranked position
    rows = np.flatnonzero(over)
    r_over = (rng.random(len(rows)) * length[rows]).astype(np.int64)
    masks[rows, r_over] |= _bits(_other(order[rows, r_over], k, rng), dt)
    skip = rng.random(n) < 0.012  # a rank left empty, later rankings shifted right
    s = rng.integers(0, ranks - 1, n)
    col = np.arange(ranks)[None, :]
    src = np.where(col > s[:, None], col - 1, col)
    shifted = np.take_along_axis(masks, src, axis=1)
    shifted[col == s[:, None]] = 0
    masks[skip] = shifted[skip]
    masks[rng.random(n) < spec.blank] = 0
    return masks


def _present(spec: ContestSpec, county: County, prec: np.ndarray) -> np.ndarray:
    if spec.where == "county":
        return np.ones(len(prec), bool)
    if spec.where == "city":
        return county.in_city[prec]
    return county.school[prec] == int(spec.where.split(":")[1])


def _chunk(county: County, seed: str, stream: int, number: int, start: int, stop: int) -> Election:
    """Cards ``start..stop`` of the election-day (stream 1) or mail (stream 2) card sequence."""
    rng = _rng(seed, stream, number)
    offset = 0 if stream == 1 else county.n_ed
    b_start = np.r_[0, np.cumsum(county.batch_size)[:-1]]
    pos = np.arange(start, stop) + offset
    batch = np.searchsorted(b_start, pos, side="right") - 1
    record = pos - b_start[batch] + 1
    if stream == 1:
        prec = county.batch_precinct[batch]
    else:  # mail cards of mixed precincts, drawn without replacement from what is left of each precinct's mail
        drawn = rng.multivariate_hypergeometric(county.mail_left, stop - start, method="marginals")
        county.mail_left -= drawn
        prec = rng.permutation(np.repeat(np.arange(len(drawn)), drawn))
    mail = np.full(len(pos), stream == 2)
    tab = county.batch_tabulator[batch]
    ids = np.strings.add(np.strings.add(county.batch_labels[batch], "-"), record.astype(STRING))
    marks = []
    for spec, probs in zip(CONTESTS, county.probs):
        present = _present(spec, county, prec)
        draw = _draw_ranked if spec.contest.is_ranked else _draw_plurality
        masks = draw(spec, probs[prec], mail, rng)
        masks[~present] = 0
        marks.append(ContestMarks(present, masks))
    styles = np.array([f"Style {i + 1}" for i in range(6)], dtype=STRING)
    attributes = {
        "tabulator": Categorical(tab.astype(np.int32), county.tabulators),
        "batch": Categorical(batch.astype(np.int32), county.batch_labels),
        "precinct": Categorical(prec.astype(np.int32), county.precincts),
        "style": Categorical(county.style[prec].astype(np.int32), styles),
        "counting_group": Categorical(mail.astype(np.int32), np.array(["Election Day", "Mail"], dtype=STRING)),
    }
    return Election(ELECTION_NAME, tuple(s.contest for s in CONTESTS), Cards(ids, attributes, marks),
                    {"format": "synthetic", "generator": f"veritally.synth {GENERATOR_VERSION}"})


ELECTION_NAME = "Riverton County General Election (synthetic)"


def generate(seed: str, n_cards: int, county: County | None = None) -> Iterator[Election]:
    """The cards of the county, as consecutive elections of at most :data:`CHUNK` cards (election day, then mail).

    Pass the ``county`` from :func:`plan_county` to see its plan; it is consumed (mail draws), so plan again to
    generate twice.
    """
    county = county or plan_county(seed, n_cards)
    n_mail = int(county.mail_left.sum())
    for stream, total in ((1, county.n_ed), (2, n_mail)):
        for number, start in enumerate(range(0, total, CHUNK)):
            yield _chunk(county, seed, stream, number, start, min(total, start + CHUNK))


# writing -------------------------------------------------------------------------------------------------------------
def write_synthetic(out_dir: str | Path, *, seed: str = "1", n_cards: int = 10_000, fmt: str = "dominion",
                    plant: str | None = None, outcome_changing: bool = False) -> dict:
    """Write a synthetic election to ``out_dir`` and return its truth (also written to ``truth.json``).

    ``out_dir`` must not exist or be empty; the files are written to a temporary folder beside it, which takes its
    place only when everything is written. ``paper/`` holds the paper truth of every card, ``cvrs/`` the CVRs
    (equal to the paper unless a tabulator misread cards). ``plant`` (one of :data:`PLANTS`) plants a miscount:
    ``double-count``, ``drop-batch`` and ``shift-votes`` in the reported results only; ``misread`` in the CVRs
    (some of a contest's winner's votes recorded for the runner-up; the reported results are the CVRs' count).
    With ``outcome_changing`` a shift or misread is made large enough to change a contest's reported winner: a
    shift when one precinct holds enough votes for that, a misread always (``truth["planted"]["changes_outcome"]``
    says whether it does); the other plants ignore it.
    """
    from ._synth_write import write_files

    out = Path(out_dir)
    if plant is not None and plant not in PLANTS:
        raise ConfigError(f"unknown plant {plant!r}; choose one of {', '.join(PLANTS)}")
    if fmt not in CVR_FILE:
        raise ConfigError(f"cannot write synthetic CVRs as {fmt!r}; choose one of {', '.join(CVR_FILE)}")
    with atomic_dir(out) as tmp:
        truth = write_files(tmp, seed=seed, n_cards=n_cards, fmt=fmt, plant=plant, outcome_changing=outcome_changing)
    return truth
