"""A shard through the note core: union of PHI, chunking, error rows, accounting. No Ray."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from medbatch.jobs.ledger.part_stats import count_stats
from medbatch.jobs.ledger.parts import OutputRow, rows_table
from medbatch.jobs.process import ShardStats, error_kinds, process_shard
from medbatch.jobs.sources.readers import RawRecord
from medbatch.notes import NoteProcessor, Window
from medbatch.notes.engine import Engine
from medbatch.notes.engines import EngineInfo, OccupancyMeter, TaskResult
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.engines.fake import FakeEngineConfig
from medbatch.notes.spans import PhiSpan, SpanSource
from medbatch.notes.stage import StageCall
from medbatch.notes.tasks.chunking import chunk_by_chars
from medbatch.spec import CorpusSpec, PhiType


def spec(**overrides: Any) -> CorpusSpec:
    body: dict[str, Any] = {
        "source": {"uri": "s3://in/", "format": "jsonl"},
        "tasks": {"deidentify": {}, "ner": {}, "summarize": {"maxWords": 30}},
        "output": {"includePhiSpans": True},
        **overrides,
    }
    return CorpusSpec.model_validate(body)


def record(text: str | None, rid: str = "r1", error: str | None = None) -> RawRecord:
    return RawRecord(rid, text, None, "f.jsonl", 0, error)


def shard(
    corpus: CorpusSpec, engine: Engine, records: Sequence[RawRecord]
) -> tuple[list[dict[str, Any]], ShardStats]:
    """The rows and stats of one shard, as a batch worker computes them."""
    processor = NoteProcessor(
        corpus.tasks, corpus.limits, engine, include_phi_spans=corpus.output.include_phi_spans
    )
    return asyncio.run(process_shard(processor, Window(4), "s1", records))


class SpottingEngine:
    """Finds the made-up surname 'Zorblat' as a model would (no rule knows it); counts tokens."""

    info = EngineInfo(name="spotting", model="spotter", prompt_version="v9")
    chunk = staticmethod(chunk_by_chars)
    capacity = 1
    meter = OccupancyMeter(1)

    async def find_phi(self, text: str) -> TaskResult[list[PhiSpan]]:
        at = text.find("Zorblat")
        spans = [PhiSpan(at, at + 7, PhiType.NAME, SpanSource.LLM)] if at >= 0 else []
        return TaskResult(value=spans, tokens_in=10, tokens_out=2)

    async def run(self, text: str, calls: Sequence[StageCall[Any]]) -> list[TaskResult[Any]]:
        return await BaselineEngine().run(text, calls)


class RaisingEngine(BaselineEngine):
    async def run(self, text: str, calls: Sequence[StageCall[Any]]) -> list[TaskResult[Any]]:
        raise RuntimeError("model server exploded while reading Patient John Smith")


def test_model_spans_are_unioned_with_rule_spans_and_tagged() -> None:
    text = "Seen by Dr. Ann Lee on 03/14/2024. Zorblat stopped by. Metoprolol 25 mg daily."
    rows, stats = shard(spec(), SpottingEngine(), [record(text)])
    row = rows[0]
    assert row["text_deid"] == "Seen by Dr. [NAME] on [DATE]. [NAME] stopped by. Metoprolol 25 mg daily."
    assert {(p["type"], p["source"], text[p["start"] : p["end"]]) for p in row["phi"]} == {
        ("NAME", "rule", "Ann Lee"),
        ("DATE", "rule", "03/14/2024"),
        ("NAME", "llm", "Zorblat"),
    }
    assert ("MEDICATION", "Metoprolol") in {(e["type"], e["text"]) for e in row["entities"]}
    assert all(row["text_deid"][e["start"] : e["end"]] == e["text"] for e in row["entities"])
    assert (row["model"], row["prompt_version"], row["tokens_in"], row["tokens_out"]) == (
        "spotter",
        "v9",
        10,
        2,
    )
    assert stats.phi_by_type == {"NAME": 2, "DATE": 1}
    assert stats.failed == 0
    OutputRow.model_validate(row)


def test_engine_errors_fail_only_their_rows_and_keep_rule_deid() -> None:
    engine = FakeEngineConfig(fail_marker="FAILME").build()
    records = [
        record("Dr. Ann Lee saw the patient. FAILME", "bad"),
        record("Dr. Bo Kim saw the patient.", "good"),
    ]
    rows, stats = shard(spec(), engine, records)
    bad, good = rows
    assert bad["text_deid"] == "Dr. [NAME] saw the patient. FAILME"
    assert bad["error"].startswith("deidentify: fake engine failure (rule-based de-identification applied)")
    assert good["error"] is None
    assert good["summary"] == ""
    assert stats.failed == 1


def test_a_raising_engine_costs_its_note_not_the_shard() -> None:
    rows, stats = shard(spec(), RaisingEngine(), [record("Dr. Ann Lee saw the patient.")])
    assert (
        rows[0]["error"]
        == "ner: engine call failed (RuntimeError); summarize: engine call failed (RuntimeError)"
    )
    assert rows[0]["text_deid"] == "Dr. [NAME] saw the patient."
    assert "John Smith" not in rows[0]["error"]
    assert stats.failed == 1


def test_bad_and_oversized_records_become_error_rows() -> None:
    records = [record(None, "a", "text is empty"), record("x " * 60, "b"), record("  \n ", "c")]
    rows, stats = shard(spec(limits={"maxNoteChars": 100}), BaselineEngine(), records)
    assert [(r["id"], r["error"], r["text_deid"]) for r in rows] == [
        ("a", "text is empty", None),
        ("b", "note is 120 characters, over limits.maxNoteChars (100)", None),
        ("c", "text is empty", None),
    ]
    assert stats.records == 3
    assert stats.failed == 3


def test_a_one_megabyte_note_is_chunked_not_dropped() -> None:
    block = "Dr. Ann Lee reviewed the chest x-ray. Continue aspirin 81 mg daily for hypertension. "
    text = block * (1_000_000 // len(block) + 1)
    rows, _ = shard(
        spec(limits={"chunkChars": 20_000, "chunkOverlapChars": 500}), BaselineEngine(), [record(text)]
    )
    row = rows[0]
    assert row["error"] is None
    assert "Ann Lee" not in row["text_deid"]
    assert row["text_deid"].count("[NAME]") == text.count("Ann Lee")
    assert len(row["entities"]) == len({(e["start"], e["type"]) for e in row["entities"]}), "no duplicates"
    assert sum(e["type"] == "MEDICATION" for e in row["entities"]) == text.count("aspirin")
    assert all(row["text_deid"][e["start"] : e["end"]] == e["text"] for e in row["entities"])
    assert 0 < len(row["summary"].split()) <= 30


@pytest.mark.parametrize("include", [True, False])
def test_phi_column_only_when_enabled(include: bool) -> None:
    rows, _ = shard(spec(output={"includePhiSpans": include}), BaselineEngine(), [record("Dr. Ann Lee")])
    assert (rows[0]["phi"] is not None) is include


def test_raw_text_analysis_when_asked() -> None:
    raw = spec(tasks={"ner": {}, "analyzeRawText": True})
    rows, _ = shard(raw, BaselineEngine(), [record("Dr. Ann Lee gave aspirin.")])
    assert rows[0]["text_deid"] is None
    assert [(e["text"], e["start"]) for e in rows[0]["entities"]] == [("aspirin", 17)]


@pytest.mark.parametrize(
    ("error", "kinds"),
    [
        ("deidentify: internal error (ValueError); ner: unusable answer", {"deidentify", "ner"}),
        ("engine call failed (TimeoutError)", {"engine call failed"}),
        ("text is empty", {"text is empty"}),
        ("(odd)", {"unknown"}),
    ],
)
def test_error_kinds_are_the_steps_or_what_failed(error: str, kinds: set[str]) -> None:
    assert error_kinds(error) == kinds


class ContradictingEngine(SpottingEngine):
    """Writes a summary stating as present what the notes below deny."""

    async def run(self, text: str, calls: Sequence[StageCall[Any]]) -> list[TaskResult[Any]]:
        summary = "Fever and cough."
        return [TaskResult(value=summary if c.stage.name == "summarize" else []) for c in calls]


def test_model_summaries_the_note_contradicts_are_counted_by_reason_in_the_part_stats() -> None:
    texts = ["Seen for a rash. Denies fever or cough.", "Cough for two days. No fever.", "Cough and fever."]
    records = [record(text, f"r{i}") for i, text in enumerate(texts)]
    rows, _stats = shard(spec(), ContradictingEngine(), records)
    assert [r["summary_fallback"] for r in rows] == ["negated_as_present", "negated_as_present", None]
    assert count_stats(rows_table(rows)).summary_fallbacks == {"negated_as_present": 2}
