"""The de-identification evaluation harness: its corpus, its scoring, and a small fixed-seed run that must
meet the recall and precision floors (bench/deid_eval.py runs the same on more notes, beside Presidio and
Philter)."""

from __future__ import annotations

import pytest

from devtools.deid_corpus import CATEGORIES, generate
from devtools.deid_scoring import Scores, score_medbatch

NOTES = generate(80, seed=11)


def test_corpus_is_reproducible_and_its_offsets_exact() -> None:
    assert [n.text for n in generate(5, seed=11)] == [n.text for n in NOTES[:5]]
    assert generate(5, seed=12)[0].text != NOTES[0].text
    for note in NOTES:
        for span in (*note.phi, *note.lookalikes):
            assert note.text[span.start : span.end] == span.value
    planted = {p.category for n in NOTES for p in n.phi}
    assert planted == set(CATEGORIES), "every category is planted"


def test_scoring_can_fail_both_ways() -> None:
    nothing, everything = Scores(), Scores()
    for note in NOTES[:10]:
        nothing.add(note, [])
        everything.add(note, [(0, len(note.text))])
    assert nothing.group_recall("structured") == 0.0
    assert nothing.retention() == 1.0
    assert everything.group_recall("names_addresses") == 1.0
    assert everything.retention() == 0.0


def test_half_an_identifier_is_a_miss() -> None:
    note = NOTES[0]
    phone = next(p for p in note.phi if p.category == "PHONE")
    scores = Scores()
    scores.add(note, [(phone.start, phone.start + (phone.end - phone.start) // 2)])
    assert scores.caught["PHONE"] == 0


@pytest.mark.parametrize("strategy", ["mask", "redact"])
def test_medbatch_meets_the_floors_on_a_fixed_seed(strategy: str) -> None:
    scores = score_medbatch(NOTES, strategy)
    assert scores.group_recall("structured") >= 0.995, scores.missed_examples
    assert scores.group_recall("names_addresses") >= 0.97, scores.missed_examples
    assert scores.retention() >= 0.98
    assert scores.summary_leaks == 0
    assert scores.entity_leaks == 0


def test_surrogates_meet_the_recall_floors() -> None:
    scores = score_medbatch(NOTES, "surrogate")
    assert scores.group_recall("structured") >= 0.995
    assert scores.group_recall("names_addresses") >= 0.97
    assert scores.retention() >= 0.98
