"""The engine deployment: the batch job's ``ShardProcessor`` behind Ray Serve request batching.

Requests that arrive together are batched (``@serve.batch``) and each group with the same task options
goes through ``ShardProcessor.process`` as one small shard, so the engine sees batches as in a batch job
and a note gets exactly the batch job's result.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from ray import serve

from medbatch.jobs.config import SURROGATE_KEY_ENV
from medbatch.jobs.engines import AnyEngineConfig, build_engine
from medbatch.jobs.process import ShardProcessor, spec_for_tasks
from medbatch.jobs.sources.readers import RawRecord
from medbatch.jobs.tasks.deid.surrogates import MIN_KEY_LENGTH, Surrogates


@dataclass(frozen=True)
class NoteJob:
    """One note and its task options (``tasks`` as a Corpus's ``spec.tasks`` document)."""

    id: str
    text: str
    patient_id: str | None
    tasks: dict[str, Any]
    include_phi_spans: bool
    max_note_chars: int


@dataclass(frozen=True)
class EngineFacts:
    """What the ingress needs to know about the engine replicas."""

    model: str
    prompt_version: str
    surrogates: bool


class NoteEngine:
    """One engine replica (a Ray Serve deployment).

    Args:
        engine_config: an engine config document (baseline, vllm, openai, fake).
        max_batch_size, batch_wait_timeout_s: request batching.
    """

    def __init__(
        self, engine_config: dict[str, Any], max_batch_size: int, batch_wait_timeout_s: float
    ) -> None:
        config = TypeAdapter(AnyEngineConfig).validate_python(engine_config)
        self.engine = build_engine(config)
        key = os.environ.get(SURROGATE_KEY_ENV, "").encode()
        self.surrogates = Surrogates(key) if len(key) >= MIN_KEY_LENGTH else None
        self._processors: dict[str, ShardProcessor] = {}
        self.process_batch.set_max_batch_size(max_batch_size)
        self.process_batch.set_batch_wait_timeout_s(batch_wait_timeout_s)

    def facts(self) -> EngineFacts:
        """Model provenance and whether surrogates are available (a key is set on the replicas)."""
        info = self.engine.info
        return EngineFacts(info.model, info.prompt_version, self.surrogates is not None)

    async def __call__(self, job: NoteJob) -> dict[str, Any]:
        """The batch output row for one note (without its source location)."""
        result: dict[str, Any] = await self.process_batch(job)
        return result

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)  # type: ignore[untyped-decorator]
    async def process_batch(self, jobs: list[NoteJob]) -> list[dict[str, Any]]:
        """Process the jobs that arrived together, one ``ShardProcessor`` call per set of task options."""
        groups: dict[str, list[int]] = {}
        for index, job in enumerate(jobs):
            groups.setdefault(repr((sorted(job.tasks.items()), job.include_phi_spans)), []).append(index)
        out: list[dict[str, Any]] = [{} for _ in jobs]
        for key, indexes in groups.items():
            first = jobs[indexes[0]]
            processor = self._processors.get(key)
            if processor is None:
                processor = self._processors[key] = ShardProcessor(
                    spec_for_tasks(
                        first.tasks,
                        max_note_chars=first.max_note_chars,
                        include_phi_spans=first.include_phi_spans,
                    ),
                    self.engine,
                    self.surrogates,
                )
            records = [
                RawRecord(jobs[i].id, jobs[i].text, jobs[i].patient_id, "online", n)
                for n, i in enumerate(indexes)
            ]
            rows, _ = await asyncio.to_thread(processor.process, "online", records)
            for i, row in zip(indexes, rows, strict=True):
                out[i] = {k: v for k, v in row.items() if k not in ("source_file", "source_row", "shard")}
        return out
