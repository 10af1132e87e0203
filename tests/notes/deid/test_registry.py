"""The recognizer registry: names, types and stages, and adding a recognizer without touching find_phi."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from medbatch.notes.spans import PhiSpan
from medbatch.notes.tasks.deid.lexicons import lexicons
from medbatch.notes.tasks.deid.names import note_case
from medbatch.notes.tasks.deid.recognizers import PATTERN_RECOGNIZERS, RECOGNIZERS, REGISTRY, find_phi
from medbatch.notes.tasks.deid.registry import NoteView, Recognizer, Registry, Stage, run_stages
from medbatch.notes.tasks.deid.tokens import words
from medbatch.spec import PhiType


def view_of(text: str) -> NoteView:
    note_words = words(text, lexicons())
    return NoteView(text, note_words, {w.low for w in note_words}, note_case(text))


def test_every_recognizer_has_a_unique_name_its_types_and_a_stage() -> None:
    names = [r.name for r in RECOGNIZERS]
    assert len(names) == len(set(names))
    assert {t for r in RECOGNIZERS for t in r.types} <= set(PhiType)
    assert {r.stage for r in RECOGNIZERS} == set(Stage)
    # every Safe Harbor type the rules cover has a recognizer the docs can name
    assert {PhiType.NAME, PhiType.DATE, PhiType.PHONE, PhiType.LOCATION, PhiType.MRN} <= {
        t for r in RECOGNIZERS for t in r.types
    }


def test_a_new_recognizer_is_an_additive_change() -> None:
    text = "Kiosk word ZEBRA-NINE issued. Seen 03/14/2024 by Dr. Ines Calloway."
    kiosk = re.compile(r"\b[A-Z]+-NINE\b")

    def find(view: NoteView) -> Iterator[PhiSpan]:
        for match in kiosk.finditer(view.text):
            yield PhiSpan(match.start(), match.end(), PhiType.ID)

    extra = Recognizer("kiosk-words", frozenset([PhiType.ID]), Stage.PATTERNS, find)
    before = {(text[s.start : s.end], s.type) for s in find_phi(text)}
    widened = Registry(REGISTRY.locale, (*REGISTRY.recognizers, extra))
    after = {(text[s.start : s.end], s.type) for s in find_phi(text, registry=widened)}
    assert ("ZEBRA-NINE", "ID") in after
    assert ("ZEBRA-NINE", "ID") not in before
    assert before <= after


def test_a_recognizer_that_reports_a_type_not_its_own_is_a_bug_caught_at_once() -> None:
    rogue = Recognizer(
        "rogue", frozenset([PhiType.ID]), Stage.PATTERNS, lambda v: iter([PhiSpan(0, 2, PhiType.NAME)])
    )
    with pytest.raises(ValueError, match="rogue found NAME"):
        run_stages([rogue], view_of("Ab cd"))


def test_a_fallback_shape_never_overrides_a_specific_recognizer() -> None:
    text = "MRN: 12-345-678 on file."
    assert [(text[s.start : s.end], s.type) for s in find_phi(text)] == [("12-345-678", "MRN")]


def test_cue_words_come_from_the_cue_phrases() -> None:
    """A cued pattern lists its cue phrases once; the words a note must hold for it to run follow."""
    vehicle = [p for p in PATTERN_RECOGNIZERS if p.type == "VEHICLE"]
    assert [p.cues for p in vehicle] == [frozenset({"vin", "license", "plate"})]
    assert find_phi("License plate: 7KQX219 noted.", types=frozenset({PhiType.VEHICLE}))
