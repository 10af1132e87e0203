"""One note through its task graph against a streaming engine.

chunk -> PHI requests (all chunks at once) -> union with the recognizers -> replacement -> the enabled
stages' requests (NER, summary, any registered stage; one per chunk) -> each stage merges its chunks
(map-reduce for a long note's summary) and writes its columns, scrubbed of the PHI found ->
``NoteOutput``. A note's analysis request goes out the moment its de-identification is applied, whatever
other notes are doing. Every failure becomes the note's ``error``; nothing escapes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from medbatch.notes.engine import Engine, TaskResult
from medbatch.notes.errors import safe_error
from medbatch.notes.note import Note, Processed
from medbatch.notes.output import AuditOut, NoteOutput, PhiSpanOut, SuspectCount
from medbatch.notes.spans import PhiSpan
from medbatch.notes.stage import StageCall, StageContext, StageError, StageRegistry
from medbatch.notes.stages import STAGES
from medbatch.notes.tasks.chunking import Chunk
from medbatch.notes.tasks.deid.deidentifier import Deidentifier
from medbatch.notes.tasks.deid.memory import CorpusMemory
from medbatch.notes.tasks.deid.recognizers import REGISTRY
from medbatch.notes.tasks.deid.registry import Registry
from medbatch.notes.tasks.deid.scrub import Scrubber
from medbatch.spec import LimitsSpec, TasksSpec

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _State:
    """A note in flight: what it has gathered so far."""

    note: Note
    errors: list[str] = field(default_factory=list)
    phi: list[PhiSpan] = field(default_factory=list)
    from_memory: list[PhiSpan] = field(default_factory=list)
    text_deid: str | None = None
    audit: AuditOut | None = None
    columns: dict[str, Any] = field(default_factory=dict)  # the stages' columns
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    scrub: Scrubber | None = None

    def charge(self, result: TaskResult[Any]) -> None:
        """Add an engine result's tokens to this note's accounting."""
        self.tokens_in += result.tokens_in
        self.tokens_out += result.tokens_out
        self.tokens_cached += result.tokens_cached


def _audit(deidentifier: Deidentifier, text: str, phi: list[PhiSpan]) -> AuditOut:
    """The ``audit`` column of a de-identified note: counts, and whether the release gate holds it."""
    found = deidentifier.audit(text, phi)
    gate = deidentifier.spec.audit.max_suspect_rate
    return AuditOut(
        suspects=found.total,
        by_type=[SuspectCount(type=t, count=n) for t, n in sorted(found.suspects.items())],
        words=found.words,
        rate=round(found.rate, 6),
        held=gate is not None and found.rate > gate,
    )


class NoteProcessor:
    """Processes notes with one engine under one set of task options.

    Args:
        tasks, limits: a Corpus's ``spec.tasks`` and ``spec.limits``.
        engine: the streaming engine.
        surrogate_key: the secret key of the surrogate strategy (required by it, ignored otherwise). The
            processor builds its ``Deidentifier`` from it and the tasks, so every caller gets the same
            spans, surrogates and date shifts for the same note.
        include_phi_spans: put the PHI spans in the output.
        memory: the corpus memory a batch job learned in its first pass (None: the rules alone).
        stages: the stages to run where the tasks enable them (the registered ones by default).
        registry: the PHI recognizers (the registered ones of the default locale by default).

    ``process`` may run for many notes at once in one event loop.
    """

    def __init__(
        self,
        tasks: TasksSpec,
        limits: LimitsSpec,
        engine: Engine,
        *,
        surrogate_key: bytes | None = None,
        include_phi_spans: bool = False,
        stages: StageRegistry = STAGES,
        memory: CorpusMemory | None = None,
        registry: Registry = REGISTRY,
    ) -> None:
        self.tasks, self.limits, self.engine = tasks, limits, engine
        self.include_phi_spans = include_phi_spans
        deid = tasks.deidentify
        self._deidentifier = (
            Deidentifier(deid, surrogate_key=surrogate_key, memory=memory, registry=registry)
            if deid is not None
            else None
        )
        self._stages = stages
        self._calls = stages.calls(tasks)

    async def process(self, note: Note) -> Processed:
        """The note's output (errors included, never raised) and its accounting."""
        state = _State(note)
        problem = self._refusal(note.text)
        if problem is not None:
            state.errors.append(problem)
        else:
            if self.tasks.deidentify is not None:
                await self._deidentify(state)
            if self._calls and (self.tasks.analyze_raw_text or state.text_deid is not None):
                await self._run_stages(state)
        return Processed(
            output=self._output(state),
            phi_by_type=Counter(span.type for span in state.phi),
            memory_by_type=Counter(span.type for span in state.from_memory),
            tokens_cached=state.tokens_cached,
        )

    def unprocessed(self, note_id: str, error: str) -> Processed:
        """The output of a note that never had usable text (the reader's ``error`` says why)."""
        state = _State(Note(note_id, ""), errors=[error])
        return Processed(output=self._output(state))

    def _refusal(self, text: str) -> str | None:
        """Why a note is not processed at all, or None."""
        if not text.strip():
            return "text is empty"
        limit = self.limits.max_note_chars
        if len(text) > limit:
            return f"note is {len(text)} characters, over limits.maxNoteChars ({limit})"
        return None

    async def _ask(self, call: Awaitable[TaskResult[T]]) -> TaskResult[T]:
        """An engine call whose exceptions (a broken engine) become the result's error."""
        try:
            return await call
        except Exception as exc:
            log.warning("engine call failed (%s)", type(exc).__name__)
            return TaskResult(value=None, error=safe_error("engine call failed", exc))

    def _chunks(self, text: str) -> list[Chunk]:
        return self.engine.chunk(text, self.limits)

    # -- de-identification ----------------------------------------------------------------------------

    async def _deidentify(self, state: _State) -> None:
        deidentifier = self._deidentifier
        assert deidentifier is not None
        text = state.note.text
        chunks = self._chunks(text)
        results = await asyncio.gather(*(self._ask(self.engine.find_phi(c.text)) for c in chunks))
        model_phi: list[PhiSpan] = []
        for chunk, result in zip(chunks, results, strict=True):
            state.charge(result)
            if result.error is not None:
                state.errors.append(f"deidentify: {result.error} (rule-based de-identification applied)")
            if result.value:  # verified spans count even when the answer had other problems
                model_phi.extend(span.shifted(chunk.start) for span in result.value)
        try:
            done = deidentifier.deidentify(text, state.note.patient or state.note.id, model_phi)
            state.phi, state.from_memory, state.text_deid = done.phi, done.from_memory, done.text
            state.scrub = Scrubber(text, done.phi, done.values)
            if deidentifier.spec.audit.enabled:
                state.audit = _audit(deidentifier, text, done.phi)
        except Exception as exc:  # a bug must cost one note, not more
            log.error("de-identification failed on a note (%s)", type(exc).__name__)
            state.phi, state.text_deid = [], None
            state.errors.append(safe_error("deidentify: internal error", exc))

    # -- the stages ---------------------------------------------------------------------------------

    async def _run_stages(self, state: _State) -> None:
        subject = (
            state.note.text if self.tasks.analyze_raw_text or state.text_deid is None else state.text_deid
        )
        chunks = self._chunks(subject)
        results = await asyncio.gather(*(self._ask_stages(c.text, self._calls) for c in chunks))
        context = StageContext(generative=self.engine.info.generative, scrub=state.scrub)
        for i, call in enumerate(self._calls):
            per_chunk = [chunk_results[i] for chunk_results in results]
            columns = await self._finish_stage(state, subject, call, chunks, per_chunk, context)
            if columns is not None:
                state.columns.update(columns.model_dump())

    async def _ask_stages(self, text: str, calls: list[StageCall[Any]]) -> list[TaskResult[Any]]:
        """The engine's results for ``calls`` on one text; a broken engine's exception becomes each
        call's error."""
        try:
            results = await self.engine.run(text, calls)
        except Exception as exc:
            log.warning("engine call failed (%s)", type(exc).__name__)
            return [TaskResult(value=None, error=safe_error("engine call failed", exc)) for _ in calls]
        if len(results) != len(calls):
            return [
                TaskResult(value=None, error="the engine answered the wrong number of tasks") for _ in calls
            ]
        return results

    async def _finish_stage(
        self,
        state: _State,
        subject: str,
        call: StageCall[Any],
        chunks: list[Chunk],
        results: list[TaskResult[Any]],
        context: StageContext,
    ) -> BaseModel | None:
        """One stage's columns from its chunks' results, or None (and the note's error) when it failed."""
        stage = call.stage
        for result in results:
            state.charge(result)
        failed = [r.error for r in results if r.error is not None or r.value is None]
        if failed:
            state.errors.append(f"{stage.name}: {failed[0] or 'no result'}")
            return None

        async def again(text: str) -> Any:
            (result,) = await self._ask_stages(text, [call])
            state.charge(result)
            if result.error is not None or result.value is None:
                raise StageError(result.error or "no result")
            return result.value

        try:
            parts = [(c, r.value) for c, r in zip(chunks, results, strict=True)]
            value = await stage.merge(subject, parts, call.options, again)
            return stage.output(subject, value, call.options, context)
        except StageError as exc:
            state.errors.append(f"{stage.name}: {exc}")
        except Exception as exc:  # a bug in one stage must cost that stage's columns, not the note
            log.error("stage %s failed on a note (%s)", stage.name, type(exc).__name__)
            state.errors.append(safe_error(f"{stage.name}: internal error", exc))
        return None

    # -- output ---------------------------------------------------------------------------------------

    def _output(self, state: _State) -> NoteOutput:
        info = self.engine.info
        include_phi = self.include_phi_spans and state.text_deid is not None
        # Every stage's columns are present, at their defaults (null) where the stage was off or failed.
        columns = {k: v for stage in self._stages for k, v in stage.columns().model_dump().items()}
        return NoteOutput(
            id=state.note.id,
            text_deid=state.text_deid,
            audit=state.audit,  # set only with text_deid, as the last step of de-identification
            phi=[PhiSpanOut(start=s.start, end=s.end, type=s.type, source=s.source.value) for s in state.phi]
            if include_phi
            else None,
            **(columns | state.columns),
            error="; ".join(state.errors) if state.errors else None,
            model=info.model,
            prompt_version=info.prompt_version,
            tokens_in=state.tokens_in,
            tokens_out=state.tokens_out,
        )
