"""Card-style data (CSD) in ballot-comparison audits: each targeted contest sampled from its own pool of cards.

With ``--card-style`` (Arlo's CARD_STYLE_DATA; SHANGRLA's ``use_style``) the CVRs say which cards carry which
contest. Contest c's *pool* is the set of cards whose CVR lists c, plus every manifest card without a CVR (a
phantom may hold any contest: SHANGRLA puts its phantoms in every contest's population, the conservative choice).
The pool's size is the contest's ``ballots``, the denominator of its diluted margin and super-simple's N, so a
contest on a third of the cards needs about a third of the draws it needs when diluted by every card.

Sampling as Arlo does: each targeted contest is drawn separately, with replacement, by Veritally's card sampler on
its own pool's cards with the audit's seed. Tickets are a function of the card and the seed alone, so the samples
of two contests share the cards of the pools' overlap that have the smallest tickets: a card drawn for several
contests is retrieved once. A later round continues each contest's stream. Each draw records its contest (the
``draw`` table's ``contest`` column).

Risk: each targeted contest from its own draws only; a sampled card whose CVR lists the contest but whose paper
does not show it counts as the worst case (SHANGRLA's use_style: a vote for the loser; super-simple: a two-vote
overstatement). Opportunistic contests get no p-value in a CSD audit (state ``not_sampled``): no sample is drawn
for them, and the cards sampled for the targeted contests are not a random sample of their pools.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from .sampling import veritally_sample
from ._state import Cards, ContestSpec, contest_votes

__all__ = ["card_style_pools", "contest_view", "csd_draws", "csd_rounds", "round_counts", "NOT_SAMPLED"]

#: The state of an opportunistic contest in a card-style audit: no sample is drawn for it, so no p-value.
NOT_SAMPLED = "not_sampled"


def card_style_pools(cards: Cards, cvrs, contests: Sequence[ContestSpec] | Sequence[str]) -> dict[str, np.ndarray]:
    """Each contest's pool, as sorted card indices: the cards whose CVR lists the contest, and every card without
    a CVR (``cvrs`` is a :class:`._status.CvrLookup` or None: then every card is a phantom, in every pool)."""
    names = [c if isinstance(c, str) else c.name for c in contests]
    if cvrs is None:
        return {name: np.arange(cards.total, dtype=np.int64) for name in names}
    no_cvr = cvrs.jurisdiction_of < 0
    pools = {}
    for name in names:
        listed = no_cvr.copy()
        for j, election in enumerate(cvrs.elections):
            mine = np.flatnonzero(cvrs.jurisdiction_of == j)
            present = contest_votes(election, name, ())[1]
            listed[mine] = present[cvrs.row_of[mine]]
        pools[name] = np.flatnonzero(listed).astype(np.int64)
    return pools


def contest_view(state, name: str):
    """The audit state as one contest of a card-style audit sees it: only the draws made for that contest (the
    statistics of every other audit type then apply unchanged). Without card-style data, ``state`` itself."""
    if not state.settings.card_style or state.draw_contests is None:
        return state
    mine = state.draw_contests == name
    return dataclasses.replace(state, draw_cards=state.draw_cards[mine], draw_rounds=state.draw_rounds[mine],
                               draw_tickets=[t for t, m in zip(state.draw_tickets, mine.tolist()) if m],
                               draw_contests=state.draw_contests[mine])


def _stream(columns: Mapping[str, np.ndarray], pool: np.ndarray, seed: str, start: int, take: int) -> list:
    """Draws ``start+1 … start+take`` of a pool's stream (with replacement) as (card, ticket, generation, key);
    ``columns`` are every card's sampling columns (``Cards.columns``)."""
    if take <= 0:
        return []
    if not len(pool):
        raise ConfigError("a contest's card-style pool is empty: no CVR lists it and every card has a CVR")
    columns = {k: v[pool] for k, v in columns.items()}
    draws = veritally_sample(columns, seed, start + take, with_replacement=True)[start:]
    return [(int(pool[d.index]), d.ticket, d.generation, d.card) for d in draws]


def csd_draws(seed: str, cards: Cards, pools: Mapping[str, np.ndarray], start: Mapping[str, int],
              sizes: Mapping[str, int]) -> list[tuple]:
    """The next round's draws as (card index, ticket, generation, (jurisdiction, tabulator, batch, position),
    contest): for each contest of ``sizes`` in its order, ``sizes[c]`` more draws of its pool's stream after the
    ``start[c]`` it has had."""
    out = []
    columns = cards.columns() if any(take > 0 for take in sizes.values()) else {}  # built once for every contest
    for name, take in sizes.items():
        out += [(*d, name) for d in _stream(columns, pools[name], seed, start.get(name, 0), take)]
    return out


def round_counts(rows: Sequence[Mapping], rounds: Sequence[Mapping], order: Sequence[str]) -> list[dict[str, int]]:
    """Each round's draws per contest, read off the sample's rows (``round``, ``contest``), contests in ``order``."""
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        per = counts.setdefault(int(row["round"]), {})
        per[row["contest"]] = per.get(row["contest"], 0) + 1
    out = []
    for r in rounds:
        per = counts.get(int(r["number"]), {})
        out.append({name: per[name] for name in order if name in per}
                   | {name: n for name, n in per.items() if name not in order})
    return out


def csd_rounds(seed: str, cards: Cards, pools: Mapping[str, np.ndarray],
               per_round: Sequence[Mapping[str, int]]) -> list[tuple]:
    """Every round's draws from the seed as the rounds drew them (``per_round``: draws per contest, in drawing
    order): what ``verify`` compares a card-style bundle's sample with. A contest not in ``pools`` is a
    ConfigError (the bundle names a contest the audit does not have)."""
    out, start = [], {}
    for sizes in per_round:
        for name in sizes:
            if name not in pools:
                raise ConfigError(f"the sample names contest {name!r}, which is not in the audit")
        out += csd_draws(seed, cards, pools, start, sizes)
        for name, n in sizes.items():
            start[name] = start.get(name, 0) + n
    return out
