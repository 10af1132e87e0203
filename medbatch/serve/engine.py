"""The engine deployment: the note core (``NoteProcessor``) behind Ray Serve.

Each request is one note through the same core a batch job uses, built from the same task options and the
same surrogate key, so a note gets exactly the batch job's result (surrogates and shifted dates
included). The engine is a streaming one: concurrent requests are in flight together and a GPU engine
batches them continuously, with no batching step of our own in front of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from medbatch.notes import Note, NoteProcessor
from medbatch.notes.engines import RunnableEngineConfig
from medbatch.notes.tasks.deid.key import key_from_env
from medbatch.spec import LimitsSpec, TasksSpec


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
        engine_config: an engine config document (baseline, vllm, openai; fake in tests).
    """

    def __init__(self, engine_config: dict[str, Any]) -> None:
        config = TypeAdapter(RunnableEngineConfig).validate_python(engine_config)
        self.engine = config.build()
        # Unset: the service runs without surrogates (mask and redact); set but too short: it refuses to start.
        self.surrogate_key = key_from_env()
        self._processors: dict[str, NoteProcessor] = {}

    def facts(self) -> EngineFacts:
        """Model provenance and whether surrogates are available (a key is set on the replicas)."""
        info = self.engine.info
        return EngineFacts(info.model, info.prompt_version, self.surrogate_key is not None)

    def _processor(self, job: NoteJob) -> NoteProcessor:
        key = repr((sorted(job.tasks.items()), job.include_phi_spans, job.max_note_chars))
        processor = self._processors.get(key)
        if processor is None:
            processor = self._processors[key] = NoteProcessor(
                TasksSpec.model_validate(job.tasks),
                LimitsSpec(max_note_chars=job.max_note_chars),
                self.engine,
                surrogate_key=self.surrogate_key,
                include_phi_spans=job.include_phi_spans,
            )
        return processor

    async def __call__(self, job: NoteJob) -> dict[str, Any]:
        """The ``NoteOutput`` of one note, as a dict."""
        processed = await self._processor(job).process(Note(job.id, job.text, job.patient_id))
        return processed.output.model_dump()
