"""The CPU default engine: no model, so medbatch is useful on a laptop and in CI.

It adds no PHI beyond the recognizers (which always run), extracts entities with the lexicon baseline and
writes extractive summaries. Output rows name it as model ``medbatch-baseline`` so nobody mistakes its
output for an LLM's.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from medbatch.notes.engine import (
    Analysis,
    AnalysisRequest,
    EngineConfig,
    EngineInfo,
    OccupancyMeter,
    TaskResult,
)
from medbatch.notes.spans import PhiSpan
from medbatch.notes.tasks.chunking import chunk_by_chars
from medbatch.notes.tasks.ner import find_entities
from medbatch.notes.tasks.summarize import summarize

BASELINE_INFO = EngineInfo(
    name="baseline", model="medbatch-baseline", prompt_version="baseline-v2", generative=False
)


class BaselineEngineConfig(EngineConfig):
    """The rules-only CPU engine; it has no options."""

    kind: Literal["baseline"] = "baseline"
    shards_per_worker: ClassVar[int] = 1

    def describe(self) -> EngineInfo:
        """The baseline's provenance."""
        return BASELINE_INFO

    def build(self) -> BaselineEngine:
        """The baseline engine."""
        return BaselineEngine()


class BaselineEngine:
    """Dictionary NER and extractive summaries on the CPU.

    Its work is synchronous CPU work: each call completes before it returns control, so notes run one
    after another (what the CPU allows) behind the same interface as the model engines.
    """

    info = BASELINE_INFO
    capacity = 1
    chunk = staticmethod(chunk_by_chars)

    def __init__(self) -> None:
        self.meter = OccupancyMeter(self.capacity)

    async def find_phi(self, text: str) -> TaskResult[list[PhiSpan]]:
        """Nothing beyond the recognizers, which the note core runs for every engine."""
        return TaskResult(value=[])

    async def analyze(self, text: str, request: AnalysisRequest) -> TaskResult[Analysis]:
        """Lexicon entities and an extractive summary."""
        with self.meter.running():
            entities = find_entities(text, request.entity_types) if request.entity_types is not None else None
            summary = (
                summarize(text, request.summary_max_words) if request.summary_max_words is not None else None
            )
        return TaskResult(value=Analysis(entities=entities, summary=summary))
