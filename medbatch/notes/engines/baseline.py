"""The CPU default engine: no model, so medbatch is useful on a laptop and in CI.

It adds no PHI beyond the recognizers (which always run) and runs each stage's CPU implementation
(entities from the CRF and vocabularies, extractive summaries). Output rows name it as model ``medbatch-baseline`` so nobody mistakes its
output for an LLM's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from medbatch.notes.engine import EngineConfig, EngineInfo, OccupancyMeter, TaskResult
from medbatch.notes.spans import PhiSpan
from medbatch.notes.stage import StageCall
from medbatch.notes.tasks.chunking import chunk_by_chars

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
    """Every stage's CPU implementation.

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

    async def run(self, text: str, calls: Sequence[StageCall[Any]]) -> list[TaskResult[Any]]:
        """Each stage's CPU implementation."""
        with self.meter.running():
            return [TaskResult(value=call.stage.compute(text, call.options)) for call in calls]
