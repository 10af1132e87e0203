"""A model-free engine with a controllable cost, for testing the pipeline around the model and for benchmarks.

It finds nothing and summarizes nothing; it can sleep a fixed time per call (a stand-in for a GPU batch)
and fail the texts that contain a marker (to exercise error rows).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import Field

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


class FakeEngineConfig(EngineConfig):
    """Options of the fake engine."""

    kind: Literal["fake"] = "fake"
    performance_fields: ClassVar[frozenset[str]] = frozenset({"seconds_per_call"})
    seconds_per_call: float = Field(
        default=0.0, ge=0.0, description="Sleep per batch call (simulated GPU time)."
    )
    fail_marker: str | None = Field(default=None, description="Texts containing this get an engine error.")

    def describe(self) -> EngineInfo:
        """The fake engine's provenance."""
        return EngineInfo(name="fake", model="fake", prompt_version="fake-v1")


class FakeEngine:
    """Returns empty results after an optional fixed delay."""

    chunk = staticmethod(chunk_by_chars)

    def __init__(self, config: FakeEngineConfig) -> None:
        self.config = config
        self.info = config.describe()
        # Like a GPU, the fake serves one call at a time, so concurrent callers queue.
        self._device = threading.Lock()

    def _results(self, texts: Sequence[str], value: object) -> list[TaskResult[object]]:
        if self.config.seconds_per_call:
            with self._device:
                time.sleep(self.config.seconds_per_call)
        marker = self.config.fail_marker
        return [
            TaskResult(value=None, error="fake engine failure")
            if marker is not None and marker in text
            else TaskResult(value=value, tokens_in=len(text) // 4, tokens_out=1)
            for text in texts
        ]

    def find_phi(self, texts: Sequence[str]) -> list[TaskResult[list[PhiSpan]]]:
        """No spans."""
        return self._results(texts, [])  # type: ignore[return-value]

    def analyze(self, texts: Sequence[str], request: AnalysisRequest) -> list[TaskResult[Analysis]]:
        """Empty entities and summaries for the requested tasks."""
        value = Analysis(
            entities=[] if request.entity_types is not None else None,
            summary="" if request.summary_max_words is not None else None,
        )
        return self._results(texts, value)  # type: ignore[return-value]


register_engine(FakeEngineConfig, FakeEngine)
