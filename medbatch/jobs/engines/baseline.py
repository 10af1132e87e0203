"""The CPU default engine: no model, so medbatch is useful on a laptop and in CI.

It adds no PHI beyond the recognizers (which always run), extracts entities with the lexicon baseline and
writes extractive summaries. Output rows name it as model ``medbatch-baseline`` so nobody mistakes its
output for an LLM's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from medbatch.jobs.engines.base import (
    Analysis,
    AnalysisRequest,
    EngineConfig,
    EngineInfo,
    TaskResult,
    register_engine,
)
from medbatch.jobs.spans import PhiSpan
from medbatch.jobs.tasks.chunking import chunk_by_chars
from medbatch.jobs.tasks.ner import extract_entities
from medbatch.jobs.tasks.summarize import summarize

BASELINE_INFO = EngineInfo(name="baseline", model="medbatch-baseline", prompt_version="baseline-v1")


class BaselineEngineConfig(EngineConfig):
    """The rules-only CPU engine; it has no options."""

    kind: Literal["baseline"] = "baseline"
    shards_per_worker: ClassVar[int] = 1

    def describe(self) -> EngineInfo:
        """The baseline's provenance."""
        return BASELINE_INFO


class BaselineEngine:
    """Dictionary NER and extractive summaries on the CPU."""

    info = BASELINE_INFO
    chunk = staticmethod(chunk_by_chars)

    def find_phi(self, texts: Sequence[str]) -> list[TaskResult[list[PhiSpan]]]:
        """Nothing beyond the recognizers, which the pipeline runs for every engine."""
        return [TaskResult(value=[]) for _ in texts]

    def analyze(self, texts: Sequence[str], request: AnalysisRequest) -> list[TaskResult[Analysis]]:
        """Lexicon entities and extractive summaries."""
        results = []
        for text in texts:
            entities = (
                extract_entities(text, request.entity_types) if request.entity_types is not None else None
            )
            summary = (
                summarize(text, request.summary_max_words) if request.summary_max_words is not None else None
            )
            results.append(TaskResult(value=Analysis(entities=entities, summary=summary)))
        return results


register_engine(BaselineEngineConfig, lambda _config: BaselineEngine())
