"""The leak audit on made-up notes: planted leaks are counted by type, clinical look-alikes are not, what
the rules removed is not, and nothing but counts comes out."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from medbatch.notes import Note, NoteOutput, NoteProcessor
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.spans import PhiSpan
from medbatch.notes.tasks.deid.audit import audit_note
from medbatch.notes.tasks.deid.memory import CorpusMemory, MemoryCounts, MemoryKey, learn
from medbatch.notes.tasks.deid.recognizers import find_phi
from medbatch.spec import LimitsSpec, PhiType, TasksSpec

PLANTED = [
    ("Seen by Dr. Quenby today. Pain controlled.", PhiType.NAME),
    ("PER DR QUENBY WILL DIURESE.", PhiType.NAME),
    ("daughter Brisella visited today", PhiType.NAME),
    ("Patient transferred to Brastow overnight for cath.", PhiType.LOCATION),
    ("Lives in Wapakoneta with his wife.", PhiType.LOCATION),
    ("Last echo on 3/14/2024 showed EF 55%.", PhiType.DATE),
    ("Seen in june of last year.", PhiType.DATE),
    ("Stent placed March 3rd, no events since.", PhiType.DATE),
    ("Account 48213377 on file.", PhiType.ID),
    ("Wife reachable at 555-0142.", PhiType.ID),
]
CLINICAL = [
    "T max 38.5, L hand swollen, 1/2 tab given, CK 2345 and rising.",
    "Vent 40/5/50%, I/O +1250 since midnight, BP 118/62.",
    "Plan per team; MD will see. Transferred to ICU at 0400.",
    "Flushed with 10000 units of heparin. Grade 2/6 murmur.",
]


def _suspects(text: str, phi: list[PhiSpan] | None = None) -> dict[PhiType, int]:
    return dict(audit_note(text, [] if phi is None else phi).suspects)


@pytest.mark.parametrize(("text", "kind"), PLANTED)
def test_a_planted_leak_counts_once_by_its_type(text: str, kind: PhiType) -> None:
    assert _suspects(text) == {kind: 1}


@pytest.mark.parametrize("text", CLINICAL)
def test_clinical_look_alikes_are_no_suspects(text: str) -> None:
    assert _suspects(text) == {}


@pytest.mark.parametrize(("text", "kind"), [p for p in PLANTED if "555" not in p[0]])
def test_what_the_rules_removed_is_not_counted(text: str, kind: PhiType) -> None:
    spans = find_phi(text)
    assert spans, "the rules must find this one, or this test proves nothing"
    assert _suspects(text, spans) == {}


def test_a_value_the_memory_knows_is_counted_where_a_note_kept_it() -> None:
    key = MemoryKey(b"k" * 16)
    cued = "Discussed with Dr. Helen Zentwick today."
    counts = MemoryCounts()
    counts.counts.update(learn(cued, find_phi(cued, recall_first=False), key))
    memory = CorpusMemory(key, counts)
    text = "Labs reviewed, zentwick aware."  # lower case in a cased note: the masking leaves it
    assert memory.find(text, find_phi(text)) == []
    assert dict(audit_note(text, find_phi(text), memory).suspects) == {PhiType.NAME: 1}


def test_the_rate_is_suspects_per_word_kept() -> None:
    text = "Seen by Dr. Quenby today."
    found = audit_note(text, [])
    assert (found.total, found.words) == (1, 5)
    assert found.rate == pytest.approx(0.2)
    removed = audit_note(text, [PhiSpan(12, 18, PhiType.NAME)])
    assert (removed.total, removed.words) == (0, 4)


def _process(tasks: Mapping[str, Any], text: str) -> NoteOutput:
    processor = NoteProcessor(TasksSpec.model_validate(tasks), LimitsSpec(), BaselineEngine())
    return asyncio.run(processor.process(Note("n1", text))).output


def test_the_gate_holds_a_note_over_its_rate_and_the_column_holds_counts_only() -> None:
    # Only names are removed, so the date stays in the text: a suspect of the kept text.
    text = "Seen by Dr. Quenby on 3/14/2024."
    gated = {"deidentify": {"types": ["NAME"], "audit": {"maxSuspectRate": 0.1}}}
    output = _process(gated, text)
    audit = output.audit
    assert audit is not None
    assert audit.held is True
    assert [(c.type, c.count) for c in audit.by_type] == [("DATE", 1)]
    written = audit.model_dump_json()
    assert "3/14" not in written
    assert "Quenby" not in written

    lenient = {"deidentify": {"types": ["NAME"], "audit": {"maxSuspectRate": 0.5}}}
    assert _process(lenient, text).audit == audit.model_copy(update={"held": False})
    no_gate = {"deidentify": {"types": ["NAME"]}}
    assert _process(no_gate, text).audit == audit.model_copy(update={"held": False})


def test_audit_off_leaves_the_column_null() -> None:
    output = _process({"deidentify": {"audit": {"enabled": False}}}, "Seen by Dr. Quenby.")
    assert output.audit is None
    assert _process({"ner": {}, "analyzeRawText": True}, "Seen by Dr. Quenby.").audit is None
