"""Process a list of notes from synchronous code (evaluations, benchmarks, scripts)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from medbatch.notes.engine import Engine
from medbatch.notes.note import Note
from medbatch.notes.output import NoteOutput
from medbatch.notes.processor import NoteProcessor
from medbatch.notes.tasks.deid.memory import CorpusMemory
from medbatch.notes.window import Window
from medbatch.spec import LimitsSpec, TasksSpec


def process_notes(
    tasks: TasksSpec,
    limits: LimitsSpec,
    engine: Engine,
    notes: Sequence[Note],
    *,
    surrogate_key: bytes | None = None,
    include_phi_spans: bool = False,
    memory: CorpusMemory | None = None,
) -> list[NoteOutput]:
    """Every note's output, in order, with ``2 x engine.capacity`` notes in flight (at most
    ``limits.batch_size``); ``memory``: a corpus memory (``tasks.deid.memory.corpus_memory``)."""
    processor = NoteProcessor(
        tasks,
        limits,
        engine,
        surrogate_key=surrogate_key,
        include_phi_spans=include_phi_spans,
        memory=memory,
    )
    window = Window.for_engine(engine, limits)

    async def run() -> list[NoteOutput]:
        done = await window.map(processor.process, notes)
        return [processed.output for processed in done]

    return asyncio.run(run())
