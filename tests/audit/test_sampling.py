"""Rivest's consistent sampler, Arlo's ballot draw and Rivest's 2011 counter-mode sampler: every vector of
consistent_sampler.json, arlo_sampler.json and rivest_sampler_2011.json (read in place from ../shared), a
side-by-side comparison with the ``consistent_sampler`` package on random inputs, the sampler's properties, and bad
input. Veritally's own sampler, PPEB and multi-contest sampling: test_sampling_veritally.py."""

from __future__ import annotations

import hashlib
import json
import random
from decimal import Decimal

import consistent_sampler as reference
import pytest

from veritally.audit import sampling
from veritally.audit.sampling import (
    Draw,
    arlo_draw_sample,
    consistent_sample,
    counter_mode_sample,
    rivest_first_ticket,
    rivest_next_ticket,
    rivest_trim,
    rivest_uniform,
)
from veritally.errors import ConfigError, DuplicateCardError, InputError

from .._shared import SHARED, need

VECTORS = SHARED / "conformance" / "rla-vectors"


def load(name: str) -> dict:
    return json.loads(need(VECTORS / name).read_text(encoding="utf-8"))


def triples(draws: list[Draw]) -> list[tuple]:
    return [(d.ticket, d.id, d.generation) for d in draws]


def package(ids, seed, **kw) -> list[tuple]:
    return list(reference.sampler(ids, seed=seed, output="tuple", **kw))


# consistent_sampler.json ---------------------------------------------------------------------------------------
def _ids(spec):
    """The ids a vector describes: a list, or the text of a Python expression the vector spells out."""
    if isinstance(spec, list):
        return spec
    if spec.startswith("range(100)"):
        return range(100)
    if spec.startswith("[1, 'two'"):
        return [1, "two", ("III", 3.0), (1, 1, 1, 1)]
    prefix, _, last = spec.partition("..")  # "AB-0..AB-1999"
    stem = prefix.rsplit("-", 1)[0]
    return [f"{stem}-{i}" for i in range(int(last.rsplit("-", 1)[1]) + 1)]


def _rivest_cases():
    return [pytest.param(c, id=f"{i}-{c['fn']}") for i, c in enumerate(load("consistent_sampler.json")["cases"])]


@pytest.mark.parametrize("case", _rivest_cases())
def test_consistent_sampler_vector(case):
    fn = case["fn"]
    if fn == "sha256_hex":  # the seed hash every ticket starts from
        assert sampling.rivest_seed_hash(case["input"]) == case["expected"]
    elif fn == "sha256_uniform":
        assert rivest_uniform(case["input"]) == case["expected"]
    elif fn == "first_fraction":
        assert rivest_first_ticket(case["id"], case["seed"]) == case["expected"]
    elif fn == "first_fraction(all ids)":
        for x, expected in case["expected"].items():
            assert rivest_first_ticket(x, case["seed"]) == expected
    elif fn in ("next_fraction", "next_ticket"):
        assert rivest_next_ticket(case["x"]) == case["expected"]
    elif fn == "trim":
        assert rivest_trim(case["x"], case["digits"]) == case["expected"]
    elif fn.startswith("sampler stratified"):  # a full shuffle, keeping tickets below 0.01
        draws = consistent_sample(_ids(case["ids"]), case["seed"])
        assert [d.id for d in draws if Decimal(d.ticket) < Decimal("0.01")] == case["expected"]
    else:
        assert fn == "sampler"
        draws = consistent_sample(_ids(case["ids"]), case["seed"], take=case.get("take"),
                                  with_replacement=case.get("with_replacement", False),
                                  digits=case.get("digits", 9))
        expected = case["expected"]
        if case.get("output") == "id":
            got = [d.id for d in draws]
            if isinstance(case["ids"], str) and not case["ids"].startswith("range"):
                got = [repr(x) if isinstance(x, str) else str(x) for x in got]  # the vector prints Python reprs
            assert got == expected
        else:
            got = [[d.ticket, d.id, d.generation] for d in draws]
            if "last 6" in case.get("note", ""):
                got = got[-6:]
            assert got == expected


# arlo_sampler.json ---------------------------------------------------------------------------------------------
def _arlo_manifest(case: dict) -> dict[str, list[int]]:
    (label, text), = case["manifest"].items()
    assert label == "pct 1..pct 4" and "1..25" in text and "insertion order pct 1, pct 2, pct 3, pct 4" in text
    return {f"pct {i}": list(range(1, 26)) for i in range(1, 5)}


def test_arlo_draw_sample_vectors():
    data = load("arlo_sampler.json")
    first, continuation = data["cases"][0], data["cases"][1]
    manifest = _arlo_manifest(first)
    draws = arlo_draw_sample(data["seed"], manifest, first["sample_size"], first["num_sampled"])
    assert [[d.ticket, list(d.id), d.generation] for d in draws] == first["expected"]
    round2 = arlo_draw_sample(data["seed"], manifest, continuation["sample_size"], continuation["num_sampled"])
    assert [[d.ticket, list(d.id), d.generation] for d in round2] == continuation["expected"]
    done = continuation["num_sampled"]  # round 2 continues round 1's stream
    assert round2 == draws[done:done + continuation["sample_size"]]


def test_arlo_draw_sample_is_the_package_on_arlos_ballot_list():
    rng = random.Random(7)
    manifest = {}
    for j in range(6):  # production keys: (jurisdiction, tabulator or None, batch), positions 1..k
        for b in range(rng.randint(1, 5)):
            key = (f"Jurisdiction {j} — ☃", rng.choice([None, f"T{b}", "O'Brien \"ICP\""]), f"Batch {b}")
            manifest[key] = list(range(1, rng.randint(1, 40)))
    ballots = [(k, p) for k, ps in manifest.items() for p in ps]
    for with_replacement, size, sampled in [(True, 60, 0), (True, 40, 25), (False, 30, 0), (False, 20, 15)]:
        seed = str(rng.getrandbits(64))
        expected = package(ballots, seed, take=size + sampled, with_replacement=with_replacement,
                           digits=18)[sampled:]
        assert triples(arlo_draw_sample(seed, manifest, size, sampled, with_replacement=with_replacement)) == expected


# rivest_sampler_2011.json --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", load("rivest_sampler_2011.json")["cases"] if (VECTORS / "rivest_sampler_2011.json")
                         .exists() else [], ids=lambda c: f"{c['seed'][:12]}-{c['n']}-{c['with_replacement']}")
def test_counter_mode_vector(case):
    got = counter_mode_sample(case["seed"], case["n"], case["a"], case["b"],
                              with_replacement=case["with_replacement"])
    assert got == case["expected"]


def test_counter_mode_without_replacement_skips_repeats_and_can_exhaust_the_range():
    got = counter_mode_sample("0", 2, 1, 2, with_replacement=False)
    assert sorted(got) == [1, 2]
    with_repeats = counter_mode_sample("0", 3, 1, 2)
    assert with_repeats[0] == got[0] and len(set(with_repeats)) < 3  # the vector's duplicate, skipped without
    assert sorted(counter_mode_sample("abc", 50, 10, 59, with_replacement=False)) == list(range(10, 60))


# side by side with the package ---------------------------------------------------------------------------------
def _random_ids(rng: random.Random, n: int) -> list:
    kind = rng.choice(["int", "str", "unicode", "tuple", "nested", "mixed"])
    if kind == "int":
        return rng.sample(range(-10**9, 10**9), n)
    if kind == "str":
        return [f"{rng.choice('ABCD')}-{i}-{rng.getrandbits(20):x}" for i in range(n)]
    if kind == "unicode":
        return [f"Bürgermeister ☃ {i} 😊 ñ" for i in range(n)]
    if kind == "tuple":
        return [(f"pct {i % 7}", i) for i in range(n)]
    if kind == "nested":
        return [((f"J{i % 3}", None if i % 2 else "T'1", f"B{i % 5}"), i) for i in range(n)]
    return [rng.choice([lambda i: i, lambda i: f"s{i}", lambda i: (i, "x"), lambda i: i + 0.5])(i) for i in range(n)]


def test_matches_the_package_on_random_inputs():
    rng = random.Random(20240611)
    for case in range(1000):
        n = rng.randint(1, 80)
        ids = _random_ids(rng, n)
        with_replacement = rng.random() < 0.5
        drop = rng.randint(0, 6)
        take = rng.randint(0, 3 * n) if with_replacement else rng.randint(0, max(0, n - drop))
        if with_replacement is False and drop > n:
            drop = n
        digits = rng.randint(0, 24)
        seed = rng.choice([rng.getrandbits(64), f"seed ☃ {case}", str(rng.random()), ""])
        key_digits = rng.choice([1, 2, 9])
        expected = package(ids, seed, take=take, with_replacement=with_replacement, drop=drop, digits=digits)
        got = consistent_sample(ids, seed, take=take, with_replacement=with_replacement, drop=drop, digits=digits,
                                _key_digits=key_digits)
        assert triples(got) == expected, (case, ids[:5], seed, with_replacement, drop, take, digits, key_digits)


def test_arlo_style_tuple_lists_match_the_package():
    """Lists of (key, position) sharing key objects take a faster path than str(); it must hash the same text."""
    rng = random.Random(99)
    keys = [("Adams", None, "B 1"), ("O'Brien", 'say "hi"', "☃ 2"), 1, 1.0, True, "pct 1", ("tab\t", b"raw"),
            frozenset({3}), ("J", ("nested", 2.5), -0.0)]
    for case in range(40):
        ids = []
        for k in rng.sample(range(len(keys)), rng.randint(1, len(keys))):
            count = rng.randint(1, 60)
            kind = rng.choice(["ordinary", "negative", "huge"])
            # disjoint positions per key: the package calls (1, p), (1.0, p) and (True, p) duplicates
            start = {"ordinary": 1, "negative": -5000, "huge": 2**70}[kind] + 100 * k
            ids.extend((keys[k], p) for p in range(start, start + count))
        if case % 3 == 0:  # the same key object again later, in runs of its own
            ids.extend((keys[0], p) for p in range(10_000, 10_010))
        with_replacement = case % 2 == 0
        take = rng.randint(1, 2 * len(ids)) if with_replacement else rng.randint(1, len(ids))
        expected = package(ids, case, take=take, with_replacement=with_replacement, digits=18)
        assert triples(consistent_sample(ids, case, take=take, with_replacement=with_replacement, digits=18)) \
            == expected, case


def test_matches_the_package_with_many_key_ties_across_chunks_and_processes():
    ids = [f"ballot-{i}" for i in range(70_000)]  # more than two 32,768-id chunks
    expected = package(ids, "314159", take=400, with_replacement=True, digits=18)
    for workers in (1, 2):
        for key_digits in (3, 9):
            got = consistent_sample(ids, "314159", take=400, with_replacement=True, digits=18, workers=workers,
                                    _key_digits=key_digits)
            assert triples(got) == expected, (workers, key_digits)


def _planted_near_tie() -> tuple[str, str]:
    """Two ids whose tickets share their first 9 digits (the engine's full key), found by a birthday search."""
    seed_hash = sampling.rivest_seed_hash("near-tie")
    seen: dict[str, str] = {}
    i = 0
    while True:
        x = f"id-{i}"
        head = rivest_uniform(seed_hash + x)[2:11]
        if head in seen:
            return seen[head], x
        seen[head] = x
        i += 1


def test_ids_tied_on_the_full_order_key_are_ordered_by_their_exact_tickets():
    a, b = _planted_near_tie()
    ta, tb = rivest_first_ticket(a, "near-tie"), rivest_first_ticket(b, "near-tie")
    assert ta[:11] == tb[:11] and ta != tb
    others = [f"other-{i}" for i in range(300)]
    ids = others[:150] + [b] + others[150:] + [a]
    for take in (1, 2, 50, 151, 302):
        for with_replacement in (False, True):
            expected = package(ids, "near-tie", take=take, with_replacement=with_replacement, digits=30)
            assert triples(consistent_sample(ids, "near-tie", take=take, with_replacement=with_replacement,
                                             digits=30)) == expected
    full = [d.id for d in consistent_sample(ids, "near-tie")]
    assert full.index(a) < full.index(b) if ta < tb else full.index(b) < full.index(a)


def test_parallel_scan_gives_the_serial_sample():
    names = [f"pct {b}" for b in range(120)]
    ids = [(names[i // 1000], i % 1000 + 1) for i in range(120_000)]
    serial = consistent_sample(ids, "seed", take=500, with_replacement=True, digits=18, workers=1)
    assert consistent_sample(ids, "seed", take=500, with_replacement=True, digits=18, workers=2) == serial
    manifest = {f"pct {b}": list(range(1, 1001)) for b in range(120)}
    assert arlo_draw_sample("seed", manifest, 500, workers=2) == serial
    assert arlo_draw_sample("seed", manifest, 500, workers=1) == serial


def _sample_in_a_pool_worker(_):
    manifest = {f"pct {b}": list(range(1, 1001)) for b in range(30)}
    return arlo_draw_sample("seed", manifest, 50, workers=2)


def test_a_daemonic_process_samples_without_children():
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(1) as pool:  # Pool workers are daemonic
        inside = pool.map(_sample_in_a_pool_worker, [0])[0]
    assert inside == _sample_in_a_pool_worker(0)


# properties ----------------------------------------------------------------------------------------------------
IDS = [f"card-{i}" for i in range(500)]


def test_prefix_stable_and_drop_is_slicing():
    for with_replacement in (False, True):
        long = consistent_sample(IDS, 42, take=300, with_replacement=with_replacement)
        assert consistent_sample(IDS, 42, take=120, with_replacement=with_replacement) == long[:120]
        assert consistent_sample(IDS, 42, take=100, drop=120, with_replacement=with_replacement) == long[120:220]


def test_subset_sample_is_the_filtered_superset_stream():
    subset = set(IDS[::3])
    full = consistent_sample(IDS, "7")
    assert [d for d in full if d.id in subset] == consistent_sample(IDS[::3], "7")
    stream = consistent_sample(IDS, "7", take=2000, with_replacement=True, digits=30)
    sub_stream = consistent_sample(IDS[::3], "7", take=200, with_replacement=True, digits=30)
    assert [d for d in stream if d.id in subset][:200] == sub_stream


def test_reproducible_order_independent_and_in_ticket_order():
    first = consistent_sample(IDS, "s", take=200, with_replacement=True, digits=40)
    assert consistent_sample(list(reversed(IDS)), "s", take=200, with_replacement=True, digits=40) == first
    assert consistent_sample(IDS, "t", take=200, with_replacement=True, digits=40) != first
    values = [Decimal(d.ticket) for d in first]
    assert values == sorted(values)
    generations: dict[str, int] = {}
    for d in first:  # each id's generations count up from 1 as it is drawn again
        generations[d.id] = generations.get(d.id, 0) + 1
        assert d.generation == generations[d.id]


def test_full_shuffle_without_replacement_is_a_permutation():
    draws = consistent_sample(IDS, 5)
    assert sorted(d.id for d in draws) == sorted(IDS) and {d.generation for d in draws} == {1}


def test_digest_key_is_the_tickets_first_digits():
    from veritally.audit._sampling_engine import rivest_keys
    digests = [hashlib.sha256(b"%d" % i).digest() for i in range(2000)] + [bytes(32), b"\xff" * 32,
                                                                            (10**9).to_bytes(32, "big")]
    keys = rivest_keys(b"".join(digests))
    for d, k in zip(digests, keys):
        assert f"{int(k):09d}" == sampling.rivest_uniform_of_digest(d)[2:11]


# bad input -----------------------------------------------------------------------------------------------------
def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(InputError, match="empty"):
        consistent_sample([], 1, take=1)
    with pytest.raises(InputError, match="empty|no ballots|nothing"):
        arlo_draw_sample("1", {}, 5)
    with pytest.raises(ConfigError, match="cannot draw 6"):
        consistent_sample(["a", "b", "c", "d", "e"], 1, take=6)
    with pytest.raises(ConfigError, match="cannot draw"):
        consistent_sample(["a", "b", "c"], 1, take=2, drop=2)
    with pytest.raises(ConfigError, match="take must be a non-negative integer"):
        consistent_sample(["a"], 1, take=-1)
    with pytest.raises(ConfigError, match="drop"):
        consistent_sample(["a"], 1, take=1, drop=-2)
    with pytest.raises(ConfigError, match="with replacement never runs out"):
        consistent_sample(["a"], 1, with_replacement=True)
    with pytest.raises(ConfigError, match="digits"):
        consistent_sample(["a"], 1, take=1, digits=-1)
    with pytest.raises(ConfigError, match="True or False"):
        consistent_sample(["a"], 1, take=1, with_replacement="yes")
    with pytest.raises(ConfigError, match="seed is required"):
        consistent_sample(["a"], None, take=1)
    with pytest.raises(ConfigError, match="workers"):
        consistent_sample(["a"], 1, take=1, workers=0)
    with pytest.raises(ConfigError, match="ticket"):
        rivest_next_ticket("1.5")


def test_duplicate_ids_are_named():
    with pytest.raises(DuplicateCardError, match=r"ids\[1\] \('b'\) and ids\[3\] \('b'\)"):
        consistent_sample(["a", "b", "c", "b"], 1, take=1)
    with pytest.raises(DuplicateCardError, match="ids"):  # same text, so the same ticket
        consistent_sample([1, "1"], 1, take=1)
    ids = [f"x{i}" for i in range(60_000)] + ["x59999"]
    with pytest.raises(DuplicateCardError, match=r"ids\[59999\].*ids\[60000\]"):  # across chunks and processes
        consistent_sample(ids, 1, take=3, workers=2)
    with pytest.raises(DuplicateCardError, match=r"\('pct 1', 3\)"):
        arlo_draw_sample("1", {"pct 1": [1, 2, 3, 3]}, 2)


def test_arlo_positions_must_be_whole_numbers():
    with pytest.raises(InputError, match="position 2.5"):
        arlo_draw_sample("1", {"pct 1": [1, 2.5]}, 1)
    with pytest.raises(InputError, match="position True"):
        arlo_draw_sample("1", {"pct 1": [1, True]}, 1)
    with pytest.raises(InputError, match="position -1"):
        arlo_draw_sample("1", {"pct 1": [1, -1]}, 1)
    import numpy as np
    as_array = arlo_draw_sample("1", {"pct 1": np.arange(1, 9)}, 4)
    assert as_array == arlo_draw_sample("1", {"pct 1": list(range(1, 9))}, 4)


def test_an_error_found_in_a_worker_process_reaches_the_caller_whole():
    manifest = {f"pct {b}": list(range(1, 1001)) for b in range(100)}
    manifest["pct 97"][500] = 12.5
    with pytest.raises(InputError, match=r"batch 'pct 97', entry 500.*position 12.5") as caught:
        arlo_draw_sample("1", manifest, 10, workers=2)
    assert caught.value.field == "position"


def test_unencodable_id_is_an_input_error():
    with pytest.raises(InputError, match="UTF-8"):
        consistent_sample(["ok", "bad \ud800"], 1, take=1)
    key = ("lone \ud800", 1)  # inside a tuple the text is repr(), which escapes the surrogate: a valid id
    ids = [(key, p) for p in range(1, 40)]
    assert triples(consistent_sample(ids, 1, take=5)) == package(ids, 1, take=5)
    assert triples(arlo_draw_sample("1", {key: list(range(1, 40))}, 5)) == package(ids, "1", take=5,
                                                                                  with_replacement=True, digits=18)
    with pytest.raises(ConfigError, match="seed .* UTF-8"):
        consistent_sample(["a"], "\udc00", take=1)


def test_counter_mode_bad_input():
    with pytest.raises(ConfigError, match="distinct"):
        counter_mode_sample("1", 3, 1, 2, with_replacement=False)
    with pytest.raises(ConfigError, match="empty"):
        counter_mode_sample("1", 1, 5, 4)
    with pytest.raises(ConfigError, match="text"):
        counter_mode_sample(1, 1, 1, 4)
    with pytest.raises(ConfigError, match="n must"):
        counter_mode_sample("1", -1, 1, 4)
