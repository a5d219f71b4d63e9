"""Small elections for tests, built with the public builder (shared by test modules)."""

from __future__ import annotations

import numpy as np

from veritally.builder import OVERVOTE, ElectionBuilder
from veritally.model import Choice, Contest, ContestKind, Election


def mayor() -> Contest:
    return Contest("mayor", "Mayor", ContestKind.PLURALITY,
                   (Choice("a", "Alice"), Choice("b", "Bob"), Choice("w", "Write-in", write_in=True)))


def council() -> Contest:
    return Contest("council", "Council", ContestKind.VOTE_FOR_N,
                   (Choice("x", "Xavier"), Choice("y", "Yolanda"), Choice("z", "Zed")), winners=2, votes_allowed=2)


def measure() -> Contest:
    return Contest("m1", "Measure 1", ContestKind.THRESHOLD, (Choice("yes", "Yes"), Choice("no", "No")),
                   threshold=2 / 3)


def rcv() -> Contest:
    return Contest("rcv", "RCV Mayor", ContestKind.RANKED,
                   (Choice("p", "Pat"), Choice("q", "Quinn"), Choice("r", "Riley"),
                    Choice("uwi", "Undeclared Write-ins", write_in=True, undeclared=True)), ranks=3)


def small_election() -> Election:
    """Eight cards, four contests, two precincts, every kind of mark (see the comments)."""
    b = ElectionBuilder("Small County 2026")
    m, c, q, r = (b.add_contest(x) for x in (mayor(), council(), measure(), rcv()))
    b.start_file("small.json")
    b.add_card("1", {m: 0b001, c: 0b011, q: 0b01, r: [0b0001, 0b0010, 0]}, {"precinct": "P1", "batch": "B1"})
    b.add_card("2", {m: 0b010, c: 0b110, q: 0b01, r: [0b0010, 0, 0b0100]}, {"precinct": "P1", "batch": "B1"})
    b.add_card("3", {m: 0b011, c: 0b111, q: 0b10, r: [0b0011, 0b0100, 0]}, {"precinct": "P2", "batch": "B2"})  # overvotes
    b.add_card("4", {m: 0, c: 0b001, q: 0, r: [0, 0, 0]}, {"precinct": "P2", "batch": "B2"})  # blanks, undervote
    b.add_card("5", {m: 0b100, r: [0b1000, 0, 0]}, {"precinct": "P2", "batch": "B2"})  # write-in; council absent
    b.add_card("6", {m: OVERVOTE, q: 0b01, r: [OVERVOTE, 0b0001, 0]}, {"precinct": "P1"})  # labelled overvotes
    b.add_card("7", {m: 0b001, c: 0b101, q: 0b01}, {"precinct": "P1", "batch": "B1"})  # rcv absent
    b.add_card("8", {m: 0b001, c: 0b010}, {"precinct": "P2", "batch": "B2"})
    return b.build()


def random_election(rng: np.random.Generator, n: int) -> Election:
    """Random cards over the four contests (used by property tests and round trips)."""
    b = ElectionBuilder("Random")
    contests = [mayor(), council(), measure(), rcv()]
    idx = [b.add_contest(x) for x in contests]
    b.start_file("random")
    for i in range(n):
        marks: dict = {}
        for j, contest in zip(idx, contests):
            if rng.random() < 0.15:
                continue
            k = len(contest.choices)
            if contest.ranks:
                ranks = []
                for _ in range(contest.ranks):
                    u = rng.random()
                    ranks.append(0 if u < 0.25 else OVERVOTE if u < 0.28 else int(rng.integers(1, 1 << k)))
                marks[j] = ranks
            else:
                u = rng.random()
                marks[j] = OVERVOTE if u < 0.02 else int(rng.integers(0, 1 << k))
        attrs = {"precinct": f"P{rng.integers(1, 4)}", "batch": f"B{rng.integers(1, 6)}"}
        if rng.random() < 0.1:
            attrs["counting_group"] = "Mail"
        b.add_card(f"card-{i}", marks, attrs)
    return b.build()
