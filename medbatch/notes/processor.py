"""One note through its task graph against a streaming engine.

chunk -> PHI requests (all chunks at once) -> union with the recognizers -> replacement -> analysis
requests (NER, summary; map-reduce for long notes) -> summary and entities scrubbed of the PHI found ->
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

from medbatch.notes.engine import Analysis, AnalysisRequest, Engine, TaskResult
from medbatch.notes.errors import safe_error
from medbatch.notes.note import Note, Processed
from medbatch.notes.output import EntityOut, NoteOutput, PhiSpanOut
from medbatch.notes.spans import Entity, PhiSpan, merge_phi
from medbatch.notes.tasks.chunking import Chunk, dedupe_entities
from medbatch.notes.tasks.deid.key import check_key
from medbatch.notes.tasks.deid.recognizers import find_phi
from medbatch.notes.tasks.deid.replace import apply_replacements, replacements
from medbatch.notes.tasks.deid.scrub import Scrubber
from medbatch.notes.tasks.deid.surrogates import Surrogates
from medbatch.notes.tasks.ner import annotate
from medbatch.notes.tasks.summarize import summarize
from medbatch.notes.tasks.summary_check import SummaryProblem, check_summary
from medbatch.spec import DeidStrategy, LimitsSpec, TasksSpec

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _State:
    """A note in flight: what it has gathered so far."""

    note: Note
    errors: list[str] = field(default_factory=list)
    phi: list[PhiSpan] = field(default_factory=list)
    text_deid: str | None = None
    entities: list[Entity] | None = None
    summary: str | None = None
    summary_fallback: SummaryProblem | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    scrub: Scrubber | None = None

    def charge(self, result: TaskResult[Any]) -> None:
        """Add an engine result's tokens to this note's accounting."""
        self.tokens_in += result.tokens_in
        self.tokens_out += result.tokens_out
        self.tokens_cached += result.tokens_cached


class NoteProcessor:
    """Processes notes with one engine under one set of task options.

    Args:
        tasks, limits: a Corpus's ``spec.tasks`` and ``spec.limits``.
        engine: the streaming engine.
        surrogate_key: the secret key of the surrogate strategy (required by it, ignored otherwise). The
            processor builds its own ``Surrogates`` from it and the tasks, so every caller gets the same
            surrogates and date shifts for the same note.
        include_phi_spans: put the PHI spans in the output.

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
    ) -> None:
        self.tasks, self.limits, self.engine = tasks, limits, engine
        self.include_phi_spans = include_phi_spans
        deid = tasks.deidentify
        self._phi_types = frozenset(deid.types) if deid is not None else frozenset()
        self.surrogates: Surrogates | None = None
        if deid is not None and deid.strategy is DeidStrategy.SURROGATE:
            self.surrogates = Surrogates(check_key(surrogate_key), deid.date_shift_max_days)
        self._analysis = AnalysisRequest(
            entity_types=tuple(tasks.ner.types) if tasks.ner is not None else None,
            summary_max_words=tasks.summarize.max_words if tasks.summarize is not None else None,
        )

    async def process(self, note: Note) -> Processed:
        """The note's output (errors included, never raised) and its accounting."""
        state = _State(note)
        problem = self._refusal(note.text)
        if problem is not None:
            state.errors.append(problem)
        else:
            if self.tasks.deidentify is not None:
                await self._deidentify(state)
            wanted = self._analysis.entity_types is not None or self._analysis.summary_max_words is not None
            if wanted and (self.tasks.analyze_raw_text or state.text_deid is not None):
                await self._analyze(state)
            if state.scrub is not None:
                state.summary = state.scrub(state.summary) if state.summary is not None else None
                state.entities = state.scrub.entities(state.entities) if state.entities is not None else None
        return Processed(
            output=self._output(state),
            phi_by_type=Counter(span.type for span in state.phi),
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
        deid = self.tasks.deidentify
        assert deid is not None
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
            model_spans = [s for s in model_phi if s.type in self._phi_types]
            state.phi = merge_phi(find_phi(text, self._phi_types, deid.recall_first) + model_spans)
            patient = state.note.patient or state.note.id
            values = replacements(text, state.phi, deid.strategy, self.surrogates, patient)
            state.text_deid = apply_replacements(text, state.phi, values)
            state.scrub = Scrubber(text, state.phi, values)
        except Exception as exc:  # a bug must cost one note, not more
            log.error("de-identification failed on a note (%s)", type(exc).__name__)
            state.phi, state.text_deid = [], None
            state.errors.append(safe_error("deidentify: internal error", exc))

    # -- NER and summarization ------------------------------------------------------------------------

    async def _analyze(self, state: _State) -> None:
        request = self._analysis
        subject = (
            state.note.text if self.tasks.analyze_raw_text or state.text_deid is None else state.text_deid
        )
        chunks = self._chunks(subject)
        results = await asyncio.gather(*(self._ask(self.engine.analyze(c.text, request)) for c in chunks))
        for result in results:
            state.charge(result)
        failed = [r.error for r in results if r.error is not None or r.value is None]
        if failed:
            state.errors.append(f"analyze: {failed[0] or 'no result'}")
            return
        values: list[tuple[Chunk, Analysis]] = [
            (c, r.value) for c, r in zip(chunks, results, strict=True) if r.value is not None
        ]
        if request.entity_types is not None:
            state.entities = annotate(
                subject, dedupe_entities([e.shifted(c.start) for c, v in values for e in (v.entities or [])])
            )
        if request.summary_max_words is not None:
            summaries = [v.summary or "" for _, v in values]
            if len(summaries) == 1:
                state.summary = summaries[0]
            else:
                await self._reduce(state, "\n".join(s for s in summaries if s))
            if state.summary and self.engine.info.generative:
                self._check_summary(state, subject, request.summary_max_words)

    async def _reduce(self, state: _State, summaries: str) -> None:
        """Map-reduce for long notes: the chunk summaries, summarized again."""
        request = AnalysisRequest(summary_max_words=self._analysis.summary_max_words)
        result = await self._ask(self.engine.analyze(summaries, request))
        state.charge(result)
        if result.error is not None or result.value is None:
            state.errors.append(f"summarize: {result.error or 'no result'}")
        else:
            state.summary = result.value.summary

    def _check_summary(self, state: _State, subject: str, max_words: int) -> None:
        """Replace a model summary the note does not support with the CPU summary, saying why."""
        assert state.summary is not None
        try:
            problem = check_summary(subject, state.summary)
            if problem is not None:
                state.summary, state.summary_fallback = summarize(subject, max_words), problem
        except Exception as exc:  # a bug in the check must not pass an unchecked summary
            log.error("summary check failed on a note (%s)", type(exc).__name__)
            state.summary = None
            state.errors.append(safe_error("summarize: internal error in the summary check", exc))

    # -- output ---------------------------------------------------------------------------------------

    def _output(self, state: _State) -> NoteOutput:
        info = self.engine.info
        include_phi = self.include_phi_spans and state.text_deid is not None
        return NoteOutput(
            id=state.note.id,
            text_deid=state.text_deid,
            phi=[PhiSpanOut(start=s.start, end=s.end, type=s.type, source=s.source.value) for s in state.phi]
            if include_phi
            else None,
            entities=[EntityOut.of(e) for e in state.entities] if state.entities is not None else None,
            summary=state.summary,
            summary_fallback=state.summary_fallback.value if state.summary_fallback is not None else None,
            error="; ".join(state.errors) if state.errors else None,
            model=info.model,
            prompt_version=info.prompt_version,
            tokens_in=state.tokens_in,
            tokens_out=state.tokens_out,
        )
