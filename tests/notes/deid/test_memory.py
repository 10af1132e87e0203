"""Corpus memory on made-up corpora: a name or place with a cue in some notes is removed in every note;
nothing clinical or everyday enters; what is kept holds no clear text."""

from __future__ import annotations

import asyncio
import json

import pytest

from medbatch.notes import Note, NoteProcessor
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.spans import PhiSpan, SpanSource
from medbatch.notes.tasks.deid.memory import CorpusMemory, MemoryCounts, MemoryKey, learn
from medbatch.notes.tasks.deid.recognizers import find_phi
from medbatch.spec import LimitsSpec, PhiType, TasksSpec

KEY = MemoryKey(b"k" * 16)
CUED = [
    "Seen by Dr. Helen Zentwick today; transferred to Quorlake Hospital for cath.",
    "Discussed with Dr. Zentwick. Plan to return to Quorlake Hospital.",
]
BARE = "Zentwick aware of labs. Quorlake Hospital called back. Zentwick to follow."


def memory_of(notes: list[str], min_count: int = 1) -> CorpusMemory:
    counts = MemoryCounts()
    for text in notes:
        counts.counts.update(learn(text, find_phi(text, recall_first=False), KEY))
    return CorpusMemory(KEY, counts, min_count)


def found(memory: CorpusMemory, text: str) -> list[tuple[str, PhiType]]:
    return [(text[s.start : s.end], s.type) for s in memory.find(text)]


def test_what_cues_taught_is_found_where_no_cue_is() -> None:
    missed = not any("Zentwick" in BARE[s.start : s.end] for s in find_phi(BARE, recall_first=True))
    assert missed, "the bare surname must be one the rules miss, or this test proves nothing"
    spans = found(memory_of(CUED), BARE)
    assert spans.count(("Zentwick", PhiType.NAME)) == 2
    assert ("Quorlake Hospital", PhiType.LOCATION) in spans


def test_min_count_keeps_one_notes_finding_from_spreading() -> None:
    assert found(memory_of(CUED[:1], min_count=2), BARE) == []
    assert found(memory_of(CUED, min_count=2), BARE)


@pytest.mark.parametrize(
    "value",
    ["Lasix", "Chest Pain", "Morning", "Will", "Baker", "Ann"],  # drug, clinical, everyday, short
)
def test_a_clinical_or_everyday_word_never_enters(value: str) -> None:
    spans = [PhiSpan(0, len(value), PhiType.NAME)]
    assert learn(value, spans, KEY) == set()


def test_only_rule_spans_of_names_and_places_are_learned() -> None:
    text = "Zentwick Quorlake"
    assert learn(text, [PhiSpan(0, 8, PhiType.NAME, SpanSource.LLM)], KEY) == set()
    assert learn(text, [PhiSpan(0, 8, PhiType.ID)], KEY) == set()
    assert len(learn(text, [PhiSpan(0, 17, PhiType.NAME)], KEY)) == 3  # the whole name and each part


def test_a_lower_case_word_in_a_cased_note_is_a_word_but_not_in_a_note_without_case() -> None:
    memory = memory_of(CUED)
    assert found(memory, "The zentwick protocol was used.") == []
    assert found(memory, "ZENTWICK AWARE OF LABS.") == [("ZENTWICK", PhiType.NAME)]
    assert found(memory, "zentwick aware of labs.") == [("zentwick", PhiType.NAME)]


def test_spans_others_found_are_left_to_them() -> None:
    memory = memory_of(CUED)
    text = "Dr. Zentwick saw pt."
    assert memory.find(text, find_phi(text)) == []


def test_kept_counts_hold_no_clear_text_and_depend_on_the_key() -> None:
    counts = MemoryCounts()
    for text in CUED:
        counts.counts.update(learn(text, find_phi(text, recall_first=False), KEY))
    kept = json.dumps(counts.to_json())
    assert "zentwick" not in kept.lower()
    assert "quorlake" not in kept.lower()
    assert MemoryCounts.from_json(json.loads(kept)).counts == counts.counts
    other = {d for _t, d in learn(CUED[0], find_phi(CUED[0], recall_first=False), MemoryKey(b"x" * 16))}
    assert other.isdisjoint(d for _t, d in counts.counts)


def test_the_note_core_removes_what_the_memory_knows_and_counts_it() -> None:
    tasks = TasksSpec.model_validate({"deidentify": {}})
    processor = NoteProcessor(tasks, LimitsSpec(), BaselineEngine(), memory=memory_of(CUED))
    processed = asyncio.run(processor.process(Note("n", BARE)))
    assert "Zentwick" not in (processed.output.text_deid or "")
    assert processed.memory_by_type[PhiType.NAME] == 2
    off = TasksSpec.model_validate({"deidentify": {"memory": {"enabled": False}}})
    plain = asyncio.run(
        NoteProcessor(off, LimitsSpec(), BaselineEngine(), memory=memory_of(CUED)).process(Note("n", BARE))
    )
    assert "Zentwick" in (plain.output.text_deid or "")
    assert not plain.memory_by_type


def test_finding_is_linear_in_the_note() -> None:
    from tests.linearity import assert_linear

    memory = memory_of(CUED)
    assert_linear(lambda text: memory.find(text), "Zentwick Quorlake aware ", 20_000, 80_000, ceiling_s=10)
