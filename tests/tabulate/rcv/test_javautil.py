"""Java behaviour RCTab's results depend on. Every expected value below was printed by OpenJDK 17.0.15
(``java.util.Random``, ``Collections.shuffle``/``sort``, ``String.hashCode``, ``HashSet``/``HashMap`` iteration)
from a ten-line Java program run on this machine; they are the reference, not this module's output."""

from __future__ import annotations

import pytest

from veritally.tabulate.rcv.javautil import JavaRandom, hash_order, hash_set_order, java_string_key, shuffle, string_hash


def test_random_doubles_and_bounded_ints_match_java():
    r = JavaRandom(0)
    assert [r.next_double() for _ in range(3)] == [0.730967787376657, 0.24053641567148587, 0.6374174253501083]
    r = JavaRandom(42)
    assert [r.next_int(10) for _ in range(8)] == [0, 3, 8, 4, 0, 5, 5, 8]
    r = JavaRandom(-140737488355327)  # RCTab's smallest allowed seed
    assert (r.next_double(), r.next_int(7), r.next_int(1 << 20), r.next_int(2147483647)) == (
        0.23087819815387145, 2, 951519, 1519806078)


def test_shuffle_of_sorted_names_matches_collections_shuffle():
    names = sorted(["George Gervin", "Mookie Blaylock", "Yinka Dare", "Sedale Threatt", "Duke Spencer", "Skip Wise",
                    "Jack Sikma", "Hakeem Olajuwon"], key=java_string_key)
    shuffle(names, JavaRandom(12345))
    assert names == ["Skip Wise", "Duke Spencer", "George Gervin", "Mookie Blaylock", "Sedale Threatt", "Jack Sikma",
                     "Yinka Dare", "Hakeem Olajuwon"]


def test_string_hash_and_sort_order_use_utf16_code_units():
    assert [string_hash(s) for s in ("hello", "Candidate A Name", "Zoë", "😀x")] == [99162322, 1732594823, 90166,
                                                                                   54959989]
    assert sorted(["b", "B", "é", "e", "Z", "😀", "ﬀ"], key=java_string_key) == ["B", "Z", "b", "e", "é", "😀", "ﬀ"]


def test_hash_set_and_hash_map_iteration_orders():
    names = ["Candidate A Name", "Candidate B Name", "Candidate C Name", "Candidate D Name", "Candidate E Name",
             "Candidate F Name", "Undeclared Write-ins"]
    assert hash_order(names) == ["Candidate A Name", "Undeclared Write-ins", "Candidate D Name", "Candidate C Name",
                                 "Candidate E Name", "Candidate B Name", "Candidate F Name"]
    many = [f"Cand {i}{'é' if i % 3 == 0 else ''}" for i in range(40)]  # two resizes: capacity 64
    order = hash_order(many)
    assert order[:12] == ["Cand 3é", "Cand 18é", "Cand 10", "Cand 32", "Cand 31", "Cand 36é", "Cand 24é", "Cand 12é",
                          "Cand 14", "Cand 13", "Cand 35", "Cand 34"]
    assert order[-5:] == ["Cand 29", "Cand 30é", "Cand 28", "Cand 26", "Cand 9é"]
    fewer = hash_order([n for n in order if not n.startswith("Cand 1")])  # a new map filled in that order
    assert fewer[:8] == ["Cand 3é", "Cand 32", "Cand 31", "Cand 36é", "Cand 24é", "Cand 35", "Cand 34", "Cand 38"]
    assert len(fewer) == 29
    assert hash_set_order(["Doc", "Dopey", "Sneezy"]) == ["Sneezy", "Doc", "Dopey"]


def test_next_int_needs_a_positive_bound():
    with pytest.raises(ValueError):
        JavaRandom(1).next_int(0)
