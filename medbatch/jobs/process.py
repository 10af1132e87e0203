"""Turn the records of one shard into output rows: chunk, find PHI, replace it, analyze, account.

Pure Python with an engine passed in, so it is tested without Ray. Every input record yields exactly one
row; failures become the row's ``error`` and never escape.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from medbatch.jobs.busy import BusyClock
from medbatch.jobs.engines.base import Analysis, AnalysisRequest, Engine, TaskResult
from medbatch.jobs.errors import safe_error
from medbatch.jobs.sources.readers import RawRecord
from medbatch.jobs.spans import Entity, PhiSpan, merge_phi
from medbatch.jobs.tasks.chunking import Chunk, dedupe_entities
from medbatch.jobs.tasks.deid.recognizers import find_phi
from medbatch.jobs.tasks.deid.replace import apply_replacements, replacements
from medbatch.jobs.tasks.deid.scrub import Scrubber
from medbatch.jobs.tasks.deid.surrogates import Surrogates
from medbatch.spec import CorpusSpec

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class ShardStats:
    """Counts for one shard, aggregated by the driver into the manifest and Ray metrics."""

    records: int = 0
    failed: int = 0
    phi_by_type: Counter[str] = field(default_factory=Counter)
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass
class _Note:
    """A record in flight: accumulates results and problems."""

    record: RawRecord
    errors: list[str] = field(default_factory=list)
    phi: list[PhiSpan] = field(default_factory=list)
    text_deid: str | None = None
    entities: list[Entity] | None = None
    summary: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    model_phi: list[PhiSpan] = field(default_factory=list)  # note offsets, before the union
    scrub: Scrubber | None = None  # keeps the PHI found out of the summary and entities
    analyses: list[tuple[Chunk, TaskResult[Analysis]]] = field(default_factory=list)

    def charge(self, result: TaskResult[Any]) -> None:
        """Add an engine result's tokens to this record's accounting."""
        self.tokens_in += result.tokens_in
        self.tokens_out += result.tokens_out

    @property
    def text(self) -> str:
        assert self.record.text is not None
        return self.record.text


def spec_for_tasks(
    tasks: dict[str, Any], *, max_note_chars: int | None = None, include_phi_spans: bool = False
) -> CorpusSpec:
    """A Corpus spec for processing notes outside a batch job (the online service, evaluations).

    ``ShardProcessor`` reads only the tasks, the limits and the output options, so the source is a
    placeholder; ``tasks`` is a document like a Corpus's ``spec.tasks``.
    """
    body: dict[str, Any] = {
        "source": {"uri": "file:///notes/", "format": "text"},
        "tasks": tasks,
        "output": {"includePhiSpans": include_phi_spans},
    }
    if max_note_chars is not None:
        body["limits"] = {"maxNoteChars": max_note_chars}
    return CorpusSpec.model_validate(body)


class ShardProcessor:
    """Processes shards with one engine under one Corpus spec.

    Args:
        spec: the Corpus spec (tasks, limits).
        engine: the model backend.
        surrogates: required when the strategy is surrogate.
        clock: records engine busy time; shared by the shards one worker runs concurrently.

    ``process`` may run in several threads at once (one shard each); it keeps no per-call state on self.
    """

    def __init__(
        self,
        spec: CorpusSpec,
        engine: Engine,
        surrogates: Surrogates | None = None,
        clock: BusyClock | None = None,
    ) -> None:
        self.spec = spec
        self.engine = engine
        self.surrogates = surrogates
        self.clock = clock or BusyClock()
        deid = spec.tasks.deidentify
        self._phi_types = frozenset(deid.types) if deid is not None else frozenset()

    def process(self, shard_id: str, records: Sequence[RawRecord]) -> tuple[list[dict[str, Any]], ShardStats]:
        """Output rows (dicts in the output schema) and stats for ``records``, in order."""
        limit = self.spec.limits.max_note_chars
        notes = [_Note(r) for r in records]
        for note in notes:
            if note.record.error is None and len(note.text) > limit:
                note.errors.append(f"note is {len(note.text)} characters, over limits.maxNoteChars ({limit})")
        live = [n for n in notes if n.record.error is None and not n.errors]
        tasks = self.spec.tasks
        if tasks.deidentify is not None:
            self._deidentify(live)
        analysis = AnalysisRequest(
            entity_types=tuple(tasks.ner.types) if tasks.ner is not None else None,
            summary_max_words=tasks.summarize.max_words if tasks.summarize is not None else None,
        )
        if analysis.entity_types is not None or analysis.summary_max_words is not None:
            raw = tasks.analyze_raw_text
            self._analyze([n for n in live if raw or n.text_deid is not None], analysis)
        for note in live:
            if note.scrub is not None:
                note.summary = note.scrub(note.summary) if note.summary is not None else None
                note.entities = note.scrub.entities(note.entities) if note.entities is not None else None
        rows = [self._row(shard_id, n) for n in notes]
        stats = ShardStats(records=len(rows))
        for note, row in zip(notes, rows, strict=True):
            stats.failed += row["error"] is not None
            stats.phi_by_type.update(span.type for span in note.phi)
            stats.tokens_in += note.tokens_in
            stats.tokens_out += note.tokens_out
        return rows, stats

    # -- engine calls ---------------------------------------------------------------------------------

    def _call(
        self, what: str, fn: Callable[[Sequence[str]], list[TaskResult[T]]], texts: Sequence[str]
    ) -> list[TaskResult[T]]:
        """``fn`` over ``texts`` in batches of limits.batchSize; a raising engine fails only its batch."""
        size = self.spec.limits.batch_size
        out: list[TaskResult[T]] = []
        for i in range(0, len(texts), size):
            batch = texts[i : i + size]
            try:
                with self.clock.busy():
                    results = fn(batch)
                if len(results) != len(batch):
                    raise RuntimeError("engine returned a wrong number of results")
            except Exception as exc:
                log.warning(
                    "engine call failed for %s (%s); %d texts marked failed",
                    what,
                    type(exc).__name__,
                    len(batch),
                )
                results = [TaskResult(value=None, error=safe_error("engine call failed", exc)) for _ in batch]
            out.extend(results)
        return out

    def _chunks(self, text: str) -> list[Chunk]:
        return self.engine.chunk(text, self.spec.limits)

    # -- de-identification ----------------------------------------------------------------------------

    def _deidentify(self, notes: list[_Note]) -> None:
        deid = self.spec.tasks.deidentify
        assert deid is not None
        chunked = [(note, chunk) for note in notes for chunk in self._chunks(note.text)]
        results = self._call("deidentify", self.engine.find_phi, [c.text for _, c in chunked])
        for (note, chunk), result in zip(chunked, results, strict=True):
            note.charge(result)
            if result.error is not None:
                note.errors.append(f"deidentify: {result.error} (rule-based de-identification applied)")
            if result.value:  # verified spans count even when the answer had other problems
                note.model_phi.extend(span.shifted(chunk.start) for span in result.value)
        for note in notes:
            try:
                model_spans = [s for s in note.model_phi if s.type in self._phi_types]
                note.phi = merge_phi(find_phi(note.text, self._phi_types, deid.recall_first) + model_spans)
                patient = note.record.patient or note.record.id
                values = replacements(note.text, note.phi, deid.strategy, self.surrogates, patient)
                note.text_deid = apply_replacements(note.text, note.phi, values)
                note.scrub = Scrubber(note.text, note.phi, values)
            except Exception as exc:  # a bug must cost one row, not the shard
                log.error("de-identification failed on a record (%s)", type(exc).__name__)
                note.phi, note.text_deid = [], None
                note.errors.append(safe_error("deidentify: internal error", exc))

    # -- NER and summarization ------------------------------------------------------------------------

    def _analyze(self, notes: list[_Note], request: AnalysisRequest) -> None:
        def subject(note: _Note) -> str:
            if self.spec.tasks.analyze_raw_text or note.text_deid is None:
                return note.text
            return note.text_deid

        chunked = [(note, chunk) for note in notes for chunk in self._chunks(subject(note))]
        results = self._call(
            "analyze", lambda t: self.engine.analyze(t, request), [c.text for _, c in chunked]
        )
        for (note, chunk), result in zip(chunked, results, strict=True):
            note.analyses.append((chunk, result))
            note.charge(result)
        to_reduce: list[tuple[_Note, str]] = []
        for note in notes:
            parts = note.analyses
            failed = [r.error for _, r in parts if r.error is not None or r.value is None]
            if failed:
                note.errors.append(f"analyze: {failed[0] or 'no result'}")
                continue
            values = [(c, r.value) for c, r in parts if r.value is not None]
            if request.entity_types is not None:
                note.entities = dedupe_entities(
                    [e.shifted(c.start) for c, v in values for e in (v.entities or [])]
                )
            if request.summary_max_words is not None:
                summaries = [v.summary or "" for _, v in values]
                if len(summaries) == 1:
                    note.summary = summaries[0]
                else:
                    to_reduce.append((note, "\n".join(s for s in summaries if s)))
        if to_reduce:
            self._reduce_summaries(to_reduce, request)

    def _reduce_summaries(self, items: list[tuple[_Note, str]], request: AnalysisRequest) -> None:
        """Map-reduce for long notes: the chunk summaries, summarized again."""
        reduce_request = AnalysisRequest(summary_max_words=request.summary_max_words)
        results = self._call(
            "summarize", lambda t: self.engine.analyze(t, reduce_request), [text for _, text in items]
        )
        for (note, _), result in zip(items, results, strict=True):
            note.charge(result)
            if result.error is not None or result.value is None:
                note.errors.append(f"summarize: {result.error or 'no result'}")
            else:
                note.summary = result.value.summary

    # -- output ---------------------------------------------------------------------------------------

    def _row(self, shard_id: str, note: _Note) -> dict[str, Any]:
        record = note.record
        errors = ([record.error] if record.error else []) + note.errors
        info = self.engine.info
        include_phi = self.spec.output.include_phi_spans and note.text_deid is not None
        return {
            "id": record.id,
            "text_deid": note.text_deid,
            "phi": [
                {"start": s.start, "end": s.end, "type": s.type, "source": s.source.value} for s in note.phi
            ]
            if include_phi
            else None,
            "entities": [
                {"start": e.start, "end": e.end, "type": e.type, "text": e.text} for e in note.entities
            ]
            if note.entities is not None
            else None,
            "summary": note.summary,
            "error": "; ".join(errors) if errors else None,
            "model": info.model,
            "prompt_version": info.prompt_version,
            "tokens_in": note.tokens_in,
            "tokens_out": note.tokens_out,
            "source_file": record.relpath,
            "source_row": record.row,
            "shard": shard_id,
        }
