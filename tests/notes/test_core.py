"""The note core without Ray: streaming without phase barriers, a bounded window, and one answer whichever
path (batch worker or online service) a note takes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from medbatch.jobs.config import job_config_for
from medbatch.jobs.process import process_shard
from medbatch.jobs.sources.readers import RawRecord
from medbatch.jobs.worker import ShardWorker
from medbatch.notes import Note, NoteProcessor, Window
from medbatch.notes.engines import BaselineEngineConfig
from medbatch.notes.engines.fake import FakeEngine, FakeEngineConfig
from medbatch.serve.engine import NoteEngine, NoteJob
from medbatch.spec import Corpus, LimitsSpec, TasksSpec

TASKS = TasksSpec.model_validate({"deidentify": {}, "summarize": {"maxWords": 20}})


def run_notes(engine: FakeEngine, count: int, window: Window) -> None:
    processor = NoteProcessor(TASKS, LimitsSpec(), engine)
    notes = [Note(f"n{i}", f"Note {i}: Dr. Ann Lee saw the patient on 03/14/2024.") for i in range(count)]
    done = asyncio.run(window.map(processor.process, notes))
    assert [p.output.error for p in done] == [None] * count


def test_a_notes_analysis_starts_before_other_notes_are_de_identified() -> None:
    """No phase barrier: with requests that take time and an engine that runs four at once, the first
    note's summary request is issued while later notes still wait for their de-identification."""
    engine = FakeEngineConfig(seconds_per_request=0.02, capacity=4).build()
    run_notes(engine, 12, Window(8))
    events = engine.events
    first_analysis = events.index(next(e for e in events if e[:2] == ("start", "analyze")))
    last_phi_done = max(i for i, e in enumerate(events) if e[:2] == ("end", "phi"))
    assert first_analysis < last_phi_done
    assert sum(1 for e in events if e[0] == "start") == 24, "one PHI and one summary request per note"


def test_the_window_bounds_notes_in_flight_and_fills_up() -> None:
    engine = FakeEngineConfig(seconds_per_request=0.01, capacity=2).build()
    window = Window(3)
    run_notes(engine, 20, window)
    assert window.most_in_flight == 3
    assert window.in_flight == 0
    running = 0
    most_running = 0
    for kind, _, _ in engine.events:
        running += 1 if kind == "start" else -1
        most_running = max(most_running, running)
    assert most_running == 2, "the engine ran at its capacity, never beyond"


def test_engine_occupancy_is_measured() -> None:
    engine = FakeEngineConfig(seconds_per_request=0.02, capacity=2).build()
    run_notes(engine, 10, Window(4))
    taken = engine.meter.take()
    assert taken.capacity == 2
    assert 0.5 < taken.ratio <= 1.0, taken
    assert taken.busy_s <= taken.wall_s


def test_batch_and_online_give_the_same_output_for_the_same_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same note, tasks and key through a batch worker and through the online engine: identical
    outputs, surrogates and shifted dates included (they once differed: serve ignored dateShiftMaxDays)."""
    monkeypatch.setenv("MEDBATCH_SURROGATE_KEY", "k" * 32)
    tasks = {"deidentify": {"strategy": "surrogate", "dateShiftMaxDays": 1}, "ner": {}, "summarize": {}}
    text = "Seen by Dr. Ann Lee on 03/14/2024 at Mercy General Hospital. Started metoprolol 25 mg daily."
    corpus = Corpus.model_validate(
        {
            "apiVersion": "medbatch.io/v1alpha1",
            "kind": "Corpus",
            "metadata": {"name": "same"},
            "spec": {
                "source": {"uri": str(tmp_path / "in"), "format": "jsonl"},
                "tasks": tasks,
                "output": {"uri": str(tmp_path / "out"), "includePhiSpans": True},
            },
        }
    )
    config = job_config_for(corpus, tmp_path, engine=BaselineEngineConfig())
    worker = ShardWorker(config.model_dump_json(), str(tmp_path / "in"))
    record = RawRecord("n1", text, "patient-7", "notes.jsonl", 0)
    rows, _ = worker.loop.run(process_shard(worker.processor, worker.window, "s1", [record]))
    batch = {
        k: v
        for k, v in rows[0].items()
        if k not in ("source_file", "source_row", "shard", "text_hash", "phi_counts", "memory_counts")
    }

    online = NoteEngine({"kind": "baseline"})
    job = NoteJob("n1", text, "patient-7", tasks, True, corpus.spec.limits.max_note_chars)
    served = asyncio.run(online(job))

    assert served == batch
    assert "03/14/2024" not in str(batch["text_deid"])
    assert "Ann Lee" not in str(batch["text_deid"])
