"""Veritally's own samplers: the card encoding (bytes checked by hand with hashlib), the reference implementation
printed in docs/sampling.md (executed from the file, so the docs cannot drift from the library), PPEB (frequencies by
a chi-square test that can fail, exactness, prefix stability) and card-style-aware sampling across contests
(against a card-by-card rendering of SHANGRLA's loop)."""

from __future__ import annotations

import hashlib
import random
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from veritally.audit import _sampling_engine as engine
from veritally.audit.sampling import (
    CardColumns,
    ballot_id_bytes,
    consistent_sample_contests,
    ppeb_sample,
    veritally_sample,
    veritally_ticket_order,
)
from veritally.errors import ConfigError, DuplicateCardError, InputError

DOC = Path(__file__).resolve().parents[2] / "docs" / "sampling.md"


def reference() -> dict:
    """The docs' reference implementation blocks, executed together."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- reference implementation: begin -->\n```python\n(.*?)```\n"
                        r"<!-- reference implementation: end -->", text, flags=re.S)
    assert len(blocks) == 2, "docs/sampling.md must hold the two reference blocks"
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


def random_cards(rng: random.Random, n: int) -> dict[str, list]:
    names = ["Adams County", "Boulder", "Doña Ana", "Saint-Étienne ☃", "東京都", "O'Brien \"North\"", "😊 Ward 3"]
    rows = set()
    while len(rows) < n:
        rows.add((rng.choice(names), rng.choice(["", "ICP-1", "Central 2", "Tab ñ"]), f"Batch {rng.randint(1, 9)}",
                  rng.randint(0, 400)))
    rows = sorted(rows)
    rng.shuffle(rows)
    return {f: [r[k] for r in rows] for k, f in enumerate(("jurisdiction", "tabulator", "batch", "position"))}


# the encoding --------------------------------------------------------------------------------------------------
def test_card_bytes_and_first_ticket_are_exactly_as_documented():
    assert ballot_id_bytes("Adams County", "ICP-3", "Batch 12", 7) == b"Adams County\x1fICP-3\x1fBatch 12\x1f7"
    assert ballot_id_bytes("Doña Ana", None, "7", np.int64(12)) == "Doña Ana\x1f\x1f7\x1f12".encode()
    cards = {"jurisdiction": ["Doña Ana", "Adams County"], "tabulator": ["", "ICP-3"],
             "batch": ["Mail 1", "Batch 12"], "position": [3, 7]}
    by_hand = {i: hashlib.sha256(b"20240611\x1f" + ballot_id_bytes(*[cards[f][i] for f in cards])).hexdigest()
               for i in range(2)}
    draws = veritally_sample(cards, "20240611", take=2)
    assert {d.index: d.ticket for d in draws} == by_hand
    assert [d.ticket for d in draws] == sorted(by_hand.values())
    documented = re.search(r"printf '20240611\\x1fAdams County\\x1fICP-3\\x1fBatch 12\\x1f7' \| sha256sum\n"
                           r"([0-9a-f]{64})", DOC.read_text(encoding="utf-8")).group(1)
    assert by_hand[1] == documented


def test_the_docs_reference_implementation_gives_the_library_sample():
    ref = reference()
    rng = random.Random(11)
    for trial in range(12):
        cards = random_cards(rng, rng.randint(1, 60))
        ids = [ref["card_id"](*(cards[f][i] for f in cards)) for i in range(len(cards["batch"]))]
        seed = rng.choice(["20240611", "dice 3 1 4 1 5 9 ☃", str(rng.getrandbits(64))])
        for with_replacement in (False, True):
            take = rng.randint(1, 4 * len(ids)) if with_replacement else rng.randint(1, len(ids))
            expected = [(ref["ticket_hex"](t, g), c, g) for t, c, g in ref["sample"](seed, ids, take,
                                                                                     with_replacement)]
            got = veritally_sample(cards, seed, take, with_replacement=with_replacement)
            assert [(d.ticket, ids[d.index], d.generation) for d in got] == expected, (trial, with_replacement)
            assert all(d.card == tuple(cards[f][d.index] for f in cards) for d in got)
    assert max(d.generation for d in got) >= 2


def test_cards_in_batch_order_hash_per_batch_and_agree_with_the_reference():
    """Manifest-ordered cards (long runs of one batch) take the per-batch path; it must hash the same bytes."""
    ref = reference()
    batches = [("Doña Ana", "", "Mail 1"), ("Doña Ana", "ICP ☃", "Mail 1"), ("東京都", "T", "B 7"), ("A", "", "B")]
    rows = [(*b, p) for b in batches for p in range(1, 80)]
    cards = {f: [r[k] for r in rows] for k, f in enumerate(("jurisdiction", "tabulator", "batch", "position"))}
    as_arrays = CardColumns(*(np.array(cards[f], dtype="T") for f in ("jurisdiction", "tabulator", "batch")),
                            np.array(cards["position"]))
    ids = [ref["card_id"](*r) for r in rows]
    for with_replacement in (False, True):
        expected = [(ref["ticket_hex"](t, g), c, g) for t, c, g in ref["sample"]("run", ids, 200, with_replacement)]
        for given in (cards, as_arrays):
            got = veritally_sample(given, "run", 200, with_replacement=with_replacement)
            assert [(d.ticket, ids[d.index], d.generation) for d in got] == expected


def test_bad_values_inside_long_batch_runs_are_found():
    n = 200
    good = {"jurisdiction": ["A"] * n, "tabulator": [""] * n, "batch": ["1"] * n, "position": list(range(n))}
    with pytest.raises(InputError, match="record 100.*tabulator must be text"):
        veritally_sample({**good, "tabulator": [""] * 100 + [None] * 100}, "s", 1)
    with pytest.raises(InputError, match="record 0.*control character U\\+0009"):
        veritally_sample({**good, "jurisdiction": ["A\tB"] * n}, "s", 1)
    with pytest.raises(InputError, match="record 150.*batch name must not be empty"):
        veritally_sample({**good, "batch": ["1"] * 150 + [""] * 50}, "s", 1)
    with pytest.raises(DuplicateCardError):
        veritally_sample({**good, "position": [7] * n}, "s", 1)


def test_later_generations_climb_towards_one():
    cards = (["J"] * 2, ["T"] * 2, ["B"] * 2, [1, 2])
    draws = veritally_sample(cards, "s", take=40, with_replacement=True)
    assert max(d.generation for d in draws) > 10
    values = [Fraction(int(d.ticket, 16), 16 ** len(d.ticket)) for d in draws]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(len(d.ticket) == 64 * d.generation for d in draws)


def test_short_order_keys_and_processes_do_not_change_the_sample():
    rng = random.Random(3)
    cards = random_cards(rng, 2500)
    expected = veritally_sample(cards, "k", 300, with_replacement=True)
    for bits in (1, 3, 8):
        assert veritally_sample(cards, "k", 300, with_replacement=True, _key_bits=bits) == expected
    big = CardColumns(np.array(["Jur"] * 70_000), None, np.array([f"B{i // 500}" for i in range(70_000)]),
                      np.arange(70_000) % 500 + 1)
    assert veritally_sample(big, "p", 500, workers=2) == veritally_sample(big, "p", 500, workers=1)


def test_prefix_stable_consistent_and_independent_of_row_order():
    rng = random.Random(5)
    cards = random_cards(rng, 400)
    long = veritally_sample(cards, "x", 1000, with_replacement=True)
    assert veritally_sample(cards, "x", 300, with_replacement=True) == long[:300]
    keep = [i for i in range(400) if i % 3 == 0]
    sub = {f: [v[i] for i in keep] for f, v in cards.items()}
    filtered = [(d.ticket, d.card, d.generation) for d in long if d.index % 3 == 0]
    sub_draws = veritally_sample(sub, "x", 150, with_replacement=True)
    assert [(d.ticket, d.card, d.generation) for d in sub_draws] == filtered[:150]
    flipped = {f: v[::-1] for f, v in cards.items()}
    assert ([(d.ticket, d.card) for d in veritally_sample(flipped, "x", 400)]
            == [(d.ticket, d.card) for d in veritally_sample(cards, "x", 400)])


def test_ticket_order_is_the_sample_order(monkeypatch):
    rng = random.Random(8)
    cards = random_cards(rng, 900)
    full = [d.index for d in veritally_sample(cards, "o", 900)]
    assert veritally_ticket_order(cards, "o").tolist() == full
    # with a 2-bit key every card ties with hundreds of others; the exact digests must still give the same order
    two_bits = engine.prefix_keys
    monkeypatch.setattr(engine, "prefix_keys", lambda buf: two_bits(buf, bits=2))
    assert veritally_ticket_order(cards, "o").tolist() == full


def test_card_columns_accept_lists_arrays_and_mappings():
    rows = (["A", "B"], ["t", ""], ["1", "2"], [5, 6])
    as_list = veritally_sample(rows, "s", 2)
    assert veritally_sample(CardColumns(np.array(rows[0]), np.array(rows[1]), np.array(rows[2], dtype="T"),
                                        np.array(rows[3], dtype=np.uint16)), "s", 2) == as_list
    assert veritally_sample(dict(zip(("jurisdiction", "tabulator", "batch", "position"), rows)), "s", 2) == as_list


def test_bad_cards_are_refused_naming_the_row():
    good = {"jurisdiction": ["A", "A"], "tabulator": ["", ""], "batch": ["1", "1"], "position": [1, 2]}
    with pytest.raises(InputError, match="record 1.*control character U\\+001F"):
        veritally_sample({**good, "batch": ["1", "1\x1f2"]}, "s", 1)
    with pytest.raises(InputError, match="record 0.*batch name must not be empty"):
        veritally_sample({**good, "batch": ["", "1"]}, "s", 1)
    with pytest.raises(InputError, match="record 1.*tabulator must be text"):
        veritally_sample({**good, "tabulator": ["", None]}, "s", 1)
    with pytest.raises(InputError, match="record 1.*position -2 is negative"):
        veritally_sample({**good, "position": [1, -2]}, "s", 1)
    with pytest.raises(InputError, match="integers"):
        veritally_sample({**good, "position": [1.0, 2.5]}, "s", 1)
    with pytest.raises(InputError, match="different lengths"):
        veritally_sample({**good, "position": [1]}, "s", 1)
    with pytest.raises(InputError, match="lack the column"):
        veritally_sample({"jurisdiction": ["A"], "position": [1]}, "s", 1)
    with pytest.raises(DuplicateCardError, match=r"card 0 .* and card 1 "):
        veritally_sample({**good, "position": [4, 4]}, "s", 1)
    with pytest.raises(InputError, match="seed.*control character"):
        veritally_sample(good, "s\n", 1)
    with pytest.raises(ConfigError, match="seed must not be empty"):
        veritally_sample(good, "", 1)
    with pytest.raises(ConfigError, match="cannot draw 3"):
        veritally_sample(good, "s", 3)
    with pytest.raises(InputError, match="empty"):
        veritally_sample({f: [] for f in good}, "s", 1)
    with pytest.raises(InputError, match="control character"):
        ballot_id_bytes("A\tB", "", "1", 1)


# PPEB ----------------------------------------------------------------------------------------------------------
def random_batches(rng: random.Random, n: int) -> tuple[list[tuple[str, str, str]], list]:
    batches = [(f"County {i % 4} ☃", rng.choice(["", f"T{i % 3}"]), f"Batch {i}") for i in range(n)]
    kinds = [lambda: rng.random(), lambda: rng.randint(0, 9), lambda: Fraction(rng.randint(0, 50), 7),
             lambda: f"{rng.randint(0, 999)}.{rng.randint(0, 99):02d}", lambda: np.float64(rng.random() / 3)]
    weights = [rng.choice(kinds)() for _ in batches]
    weights[0] = 0.0
    weights[1] = 0.07  # a float whose binary value is not 7/100
    return batches, weights


def test_ppeb_is_the_docs_rule():
    ref = reference()
    rng = random.Random(2)
    for _ in range(15):
        batches, weights = random_batches(rng, rng.randint(2, 25))
        seed = str(rng.getrandbits(48))
        assert [d.batch for d in ppeb_sample(batches, weights, seed, 60)] == ref["ppeb"](seed, batches, weights, 60)


def test_ppeb_frequencies_follow_the_weights():
    rng = random.Random(9)
    batches = [("Denver", "", f"Batch {i}") for i in range(12)]
    weights = [rng.uniform(0.01, 0.2) for _ in batches]
    weights[5] = 0.0
    n = 30_000
    draws = ppeb_sample(batches, weights, "314159265358979323846", n)
    observed = np.bincount([d.index for d in draws], minlength=len(batches))
    assert observed[5] == 0  # zero error bound: never drawn
    live = np.array(weights) > 0
    expected = n * np.array(weights)[live] / sum(weights)
    assert stats.chisquare(observed[live], expected).pvalue > 1e-4
    flat = np.full(live.sum(), n / live.sum())  # the same test rejects wrong weights: it can fail
    assert stats.chisquare(observed[live], flat).pvalue < 1e-9


def test_ppeb_is_prefix_stable_reproducible_and_order_free():
    rng = random.Random(4)
    batches, weights = random_batches(rng, 30)
    long = ppeb_sample(batches, weights, "s", 80)
    assert ppeb_sample(batches, weights, "s", 50) == long[:50]
    assert ppeb_sample(batches, weights, "s", 30, start=50) == long[50:]
    assert [d.draw for d in long] == list(range(1, 81))
    seen: dict[int, int] = {}
    for d in long:
        seen[d.index] = seen.get(d.index, 0) + 1
        assert d.generation == seen[d.index] and d.batch == batches[d.index]
        assert int(d.ticket, 16) == int(hashlib.sha256(f"s\x1fppeb\x1f{d.draw}".encode()).hexdigest(), 16)
    order = list(range(30))
    rng.shuffle(order)
    shuffled = ppeb_sample([batches[i] for i in order], [weights[i] for i in order], "s", 80)
    assert [d.batch for d in shuffled] == [d.batch for d in long]
    assert [d.batch for d in ppeb_sample(batches, weights, "t", 80)] != [d.batch for d in long]


def test_ppeb_weights_are_exact():
    # weight 2^-200 next to 1: a float sum would lose it; the exact rule still gives it its sliver of [0, 1)
    batches = [("J", "", "big"), ("J", "", "tiny")]
    draws = ppeb_sample(batches, [1.0, 2.0**-200], "s", 200)
    assert all(d.batch[2] == "big" for d in draws)
    u = [Fraction(int(d.ticket, 16), 2**256) for d in draws]
    assert all(x < Fraction(1) / (1 + Fraction(2) ** -200) for x in u)


def test_ppeb_takes_numpy_arrays_of_weights():
    batches = [("J", "", f"B{i}") for i in range(5)]
    as_ints = [d.index for d in ppeb_sample(batches, [1, 2, 3, 0, 40], "s", 50)]
    assert [d.index for d in ppeb_sample(batches, np.array([1, 2, 3, 0, 40]), "s", 50)] == as_ints
    assert [d.index for d in ppeb_sample(batches, np.array([1, 2, 3, 0, 40], dtype=np.uint8), "s", 50)] == as_ints
    assert [d.index for d in ppeb_sample(batches, np.array([1.0, 2.0, 3.0, 0.0, 40.0]), "s", 50)] == as_ints


def test_ppeb_bad_input():
    b = [("J", "", "1"), ("J", "", "2")]
    with pytest.raises(InputError, match="negative"):
        ppeb_sample(b, [1, -1], "s", 1)
    with pytest.raises(InputError, match="not a finite number"):
        ppeb_sample(b, [1, float("nan")], "s", 1)
    with pytest.raises(InputError, match="every weight is zero"):
        ppeb_sample(b, [0, 0.0], "s", 1)
    with pytest.raises(InputError, match="appears twice"):
        ppeb_sample(b + [("J", None, "1")], [1, 1, 1], "s", 1)
    with pytest.raises(InputError, match="2 batches but 3 weights"):
        ppeb_sample(b, [1, 1, 1], "s", 1)
    with pytest.raises(InputError, match="no batches"):
        ppeb_sample([], [], "s", 1)
    with pytest.raises(ConfigError, match="n must"):
        ppeb_sample(b, [1, 1], "s", -1)


# several contests ----------------------------------------------------------------------------------------------
def shangrla_loop(order, contains, sizes):
    """SHANGRLA's CVR.consistent_sampling, card by card, as its docstring and loop describe."""
    current = {c: 0 for c in sizes}
    taken = []
    position = 0
    while any(current[c] < sizes[c] for c in sizes):
        card = order[position]
        if any(current[c] < sizes[c] and contains[c][card] for c in sizes):
            taken.append(card)
            for c in sizes:
                if contains[c][card] and current[c] < sizes[c]:
                    current[c] += 1
        position += 1
    return taken


def test_contest_sample_is_shangrlas_loop():
    rng = np.random.default_rng(12)
    for trial in range(20):
        n = int(rng.integers(200, 3000))
        prevalence = rng.uniform(0.005, 1, size=5)
        contains = {f"contest {k}": rng.random(n) < p for k, p in enumerate(prevalence)}
        sizes = {c: int(rng.integers(0, m.sum() + 1)) for c, m in contains.items()}
        order = rng.permutation(n)
        got = consistent_sample_contests(order, contains, sizes)
        assert got.cards.tolist() == shangrla_loop(order.tolist(), contains, sizes), trial
        for c, size in sizes.items():
            assert np.count_nonzero(contains[c][order[:got.cutoff[c]]]) == size
            assert got.counts[c] == np.count_nonzero(contains[c][got.cards]) >= size


def test_contest_sample_grows_with_sizes_and_uses_veritally_order():
    rng = random.Random(1)
    cards = random_cards(rng, 1500)
    order = veritally_ticket_order(cards, "multi")
    county = np.array([j == "Adams County" for j in cards["jurisdiction"]])
    contains = {"Governor": np.ones(1500, bool), "Adams measure": county}
    small = consistent_sample_contests(order, contains, {"Governor": 20, "Adams measure": 10})
    large = consistent_sample_contests(order, contains, {"Governor": 40, "Adams measure": 30})
    assert set(small.cards) <= set(large.cards)
    assert small.cards.tolist() == [i for i in order.tolist() if i in set(small.cards.tolist())]
    assert small.cards[:20].tolist() == order[:20].tolist()  # the county-wide contest takes the first cards


def test_contest_sample_bad_input():
    contains = {"A": np.array([True, False, True]), "B": np.array([False, True, False])}
    with pytest.raises(ConfigError, match="'B' needs 2 but only 1"):
        consistent_sample_contests([0, 1, 2], contains, {"A": 1, "B": 2})
    with pytest.raises(ConfigError, match="no card style data"):
        consistent_sample_contests([0, 1, 2], contains, {"C": 1})
    with pytest.raises(InputError, match="boolean"):
        consistent_sample_contests([0, 1, 2], {"A": [1, 0, 1]}, {"A": 1})
    with pytest.raises(InputError, match="covers 2 cards"):
        consistent_sample_contests([0, 1], {"A": np.ones(3, bool), "B": np.ones(2, bool)}, {"A": 1})
    with pytest.raises(InputError, match="twice"):
        consistent_sample_contests([0, 0, 2], contains, {"A": 1})
    with pytest.raises(InputError, match="outside"):
        consistent_sample_contests([0, 5], contains, {"A": 1})
    with pytest.raises(ConfigError, match="non-negative"):
        consistent_sample_contests([0, 1, 2], contains, {"A": -1})
