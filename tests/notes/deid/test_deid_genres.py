"""De-identification on the multi-genre notes of our own (devtools/data/genre_notes.md).

Written by the authors from public genre descriptions, so they bound nothing (held-back text decides); the
ceilings sit just over today's figures so that a change losing what these notes measure fails here.
"""

from __future__ import annotations

import pytest

from devtools import genre_notes
from medbatch.notes import Note, process_notes
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.spec import LimitsSpec, PhiType, TasksSpec


@pytest.fixture(scope="module")
def notes() -> list[genre_notes.GenreNote]:
    return genre_notes.load()


def test_the_markup_gives_exact_offsets_and_every_genre_once(notes: list[genre_notes.GenreNote]) -> None:
    assert len({n.genre for n in notes}) == len(notes) == 18
    for note in notes:
        assert all(note.gold.text[start:end] == value for start, end, _, value in note.gold.phi)
        assert all(PhiType(kind) for _, _, kind, _ in note.gold.phi)
        assert all(value in note.gold.text for value in note.keep)
        assert "[[" not in note.gold.text
        assert "<<" not in note.gold.text


def test_parse_reads_phi_and_clinical_marks() -> None:
    note = genre_notes.parse("Seen by [[NAME|Ola Brandvik]] for <<gout>> on [[DATE|5/2]].", "x", "test")
    assert note.gold.text == "Seen by Ola Brandvik for gout on 5/2."
    assert [(s, e, t) for s, e, t, _ in note.gold.phi] == [(8, 20, "NAME"), (33, 36, "DATE")]
    assert note.keep == ("gout",)


def test_left_whole_and_clinical_lost(notes: list[genre_notes.GenreNote]) -> None:
    outputs = process_notes(
        TasksSpec.model_validate({"deidentify": {}}),
        LimitsSpec(),
        BaselineEngine(),
        [Note(n.gold.id, n.gold.text, n.gold.patient) for n in notes],
    )
    scores = genre_notes.score(notes, [o.text_deid or "" for o in outputs])
    assert scores.phi == 152
    assert scores.left_whole_share <= 0.055
    assert scores.clinical_lost_share <= 0.01
