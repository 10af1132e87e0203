"""The de-identification front door: one object, built from the spec, that every path goes through."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from medbatch.notes import Note, process_notes
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.spans import PhiSpan, SpanSource
from medbatch.notes.tasks.deid.deidentifier import Deidentifier
from medbatch.notes.tasks.deid.key import SurrogateKeyError
from medbatch.notes.tasks.deid.locales.en_us import EN_US
from medbatch.notes.tasks.deid.memory import MemoryKey, corpus_memory
from medbatch.notes.tasks.deid.recognizers import REGISTRY, find_phi
from medbatch.notes.tasks.deid.registry import NoteView, Recognizer, Registry, Stage
from medbatch.spec import DeidentifySpec, LimitsSpec, PhiType, TasksSpec

NOTE = "Seen 03/14/2024 by Dr. Ines Calloway; call (617) 555-0143. Plan: rest."
KEY = b"k" * 32


def spec(**options: object) -> DeidentifySpec:
    return DeidentifySpec.model_validate(options)


def test_the_processor_and_the_front_door_give_the_same_text() -> None:
    (output,) = process_notes(
        TasksSpec.model_validate({"deidentify": {}}), LimitsSpec(), BaselineEngine(), [Note("n1", NOTE, "p1")]
    )
    assert output.text_deid == Deidentifier(spec()).deidentify(NOTE, "p1").text
    assert "Calloway" not in (output.text_deid or "")


def test_recall_first_is_on_in_code_as_in_the_spec() -> None:
    assert spec().recall_first is True
    text = "Family meeting held with Oyelaranqa today."
    assert find_phi(text) == find_phi(text, recall_first=True) != find_phi(text, recall_first=False)
    assert "Oyelaranqa" not in Deidentifier(spec()).deidentify(text, "p").text
    assert "Oyelaranqa" in Deidentifier(spec(recallFirst=False)).deidentify(text, "p").text


def test_only_the_types_the_spec_names_are_replaced_model_spans_included() -> None:
    dates_only = Deidentifier(spec(types=["DATE"]))
    model_name = PhiSpan(NOTE.index("Plan"), NOTE.index("Plan") + 4, PhiType.NAME, SpanSource.LLM)
    done = dates_only.deidentify(NOTE, "p", [model_name])
    assert {s.type for s in done.phi} == {PhiType.DATE}
    assert "Calloway" in done.text
    assert "Plan" in done.text


def test_a_registry_is_what_runs() -> None:
    ward = re.compile(r"\bWard [A-Z]\b")

    def find(view: NoteView) -> Iterator[PhiSpan]:
        for match in ward.finditer(view.text):
            yield PhiSpan(match.start(), match.end(), PhiType.LOCATION)

    wards = Registry(EN_US, (Recognizer("wards", frozenset([PhiType.LOCATION]), Stage.PATTERNS, find),))
    text = "Moved to Ward K on 03/14/2024."
    done = Deidentifier(spec(), registry=wards).deidentify(text, "p")
    assert done.text == "Moved to [LOCATION] on 03/14/2024."  # only what the registry holds
    assert Deidentifier(spec()).registry is REGISTRY  # the default locale's, unless given


def test_the_memory_counts_only_when_the_spec_enables_it() -> None:
    cued = ["Dr. Quennell reviewed the film.", "Dr. Quennell called back."]
    learned = corpus_memory(cued, MemoryKey(KEY), 2)
    bare = "Quennell aware of labs."  # no cue: the rules alone (recall first off) keep it
    on = Deidentifier(spec(recallFirst=False), memory=learned).deidentify(bare, "p")
    off = Deidentifier(spec(recallFirst=False, memory={"enabled": False}), memory=learned).deidentify(
        bare, "p"
    )
    assert [bare[s.start : s.end] for s in on.from_memory] == ["Quennell"]
    assert "Quennell" not in on.text
    assert off.from_memory == []
    assert "Quennell" in off.text


def test_the_surrogate_strategy_needs_its_key() -> None:
    with pytest.raises(SurrogateKeyError):
        Deidentifier(spec(strategy="surrogate"))
    done = Deidentifier(spec(strategy="surrogate"), surrogate_key=KEY).deidentify(NOTE, "p1")
    assert "Calloway" not in done.text
    assert len(done.values) == len(done.phi)
