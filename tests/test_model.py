from __future__ import annotations

import numpy as np
import pytest

from veritally.builder import ElectionBuilder
from veritally.errors import DuplicateCardError, ModelError
from veritally.model import Choice, Contest, ContestKind, mask_dtype

from .elections import mayor, rcv, small_election


def test_mask_dtype_is_smallest_that_fits_choices_and_overvote_flag():
    assert mask_dtype(7) == np.uint8
    assert mask_dtype(8) == np.uint16
    assert mask_dtype(31) == np.uint32
    assert mask_dtype(63) == np.uint64
    with pytest.raises(ModelError):
        mask_dtype(64)


def test_contest_with_too_many_choices_is_rejected():
    choices = tuple(Choice(str(i), f"C{i}") for i in range(64))
    with pytest.raises(ModelError, match="at most 63"):
        Contest("x", "Big", ContestKind.PLURALITY, choices)


def test_ranked_contest_needs_ranks_and_others_must_not_have_them():
    with pytest.raises(ModelError):
        Contest("r", "R", ContestKind.RANKED, mayor().choices)
    with pytest.raises(ModelError):
        Contest("p", "P", ContestKind.PLURALITY, mayor().choices, ranks=3)


def test_choice_lookup_by_id_name_and_alias():
    c = Contest("c", "C", ContestKind.PLURALITY, (Choice("1", "Ann", aliases=("ANN X",)), Choice("2", "Ben")))
    assert c.choice_index("1") == 0 and c.choice_index("Ann") == 0 and c.choice_index("ANN X") == 0
    assert c.choice_index("Ben") == 1
    with pytest.raises(KeyError):
        c.choice_index("Zoe")


def test_builder_stores_marks_columnar_with_absent_contests():
    e = small_election()
    assert e.n_cards == 8
    council = e.marks("Council")
    assert council.present.tolist() == [True, True, True, True, False, False, True, True]
    assert council.masks.dtype == np.uint8
    ranked = e.marks("RCV Mayor")
    assert ranked.masks.shape == (8, 3)
    assert ranked.masks[1].tolist() == [0b0010, 0, 0b0100]


def test_labelled_overvote_becomes_the_contests_overvote_flag():
    e = small_election()
    m = e.contests[e.contest_index("Mayor")]
    assert e.marks("Mayor").masks[5] == m.overvote_flag == 0b1000
    r = e.contests[e.contest_index("RCV Mayor")]
    assert e.marks("RCV Mayor").masks[5, 0] == r.overvote_flag


def test_attributes_are_dictionary_encoded_with_missing_as_minus_one():
    e = small_election()
    batch = e.cards.attribute("batch")
    assert batch.values()[5] is None
    assert sorted(set(v for v in batch.values() if v)) == ["B1", "B2"]
    assert e.cards.attribute("tabulator").values() == [None] * 8


def test_duplicate_card_id_names_both_records():
    b = ElectionBuilder()
    i = b.add_contest(mayor())
    b.start_file("first.json")
    b.add_card("A-1", {i: 1}, record=10)
    b.start_file("second.json")
    b.add_card("B-1", {i: 1}, record=3)
    b.add_card("A-1", {i: 2}, record=4)
    with pytest.raises(DuplicateCardError) as err:
        b.build()
    text = str(err.value)
    assert "A-1" in text and "first.json" in text and "second.json" in text and "record 4" in text


def test_builder_rejects_bits_beyond_the_contests_choices():
    b = ElectionBuilder()
    i = b.add_contest(mayor())
    b.add_card("1", {i: 1 << 5})
    with pytest.raises(ModelError, match="beyond"):
        b.build()


def test_builder_rejects_more_ranks_than_the_contest_has():
    b = ElectionBuilder()
    i = b.add_contest(rcv())
    with pytest.raises(ModelError, match="ranks"):
        b.add_card("1", {i: [1, 2, 4, 8]})


def test_take_and_chunks_keep_contests_and_slice_cards():
    e = small_election()
    sub = e.take(np.array([0, 7]))
    assert sub.cards.card_id.tolist() == ["1", "8"]
    assert [len(c.cards) for c in e.chunks(3)] == [3, 3, 2]


def test_contest_index_by_id_name_and_case_folded_name():
    e = small_election()
    assert e.contest_index("council") == 1
    assert e.contest_index("Council") == 1
    assert e.contest_index("rcv mayor") == 3
    with pytest.raises(KeyError):
        e.contest_index("Sheriff")
