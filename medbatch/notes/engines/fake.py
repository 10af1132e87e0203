"""A model-free engine with a controllable cost, for testing the pipeline around the model and for benchmarks.

It finds nothing and summarizes nothing. Like a GPU engine it runs up to ``capacity`` requests at once,
each taking ``seconds_per_request`` (a stand-in for generation time); it can fail the texts that contain
a marker (to exercise error rows). It records the order in which requests start and end, so tests can
see whether work flows without barriers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from medbatch.notes.engine import EngineConfig, EngineInfo, OccupancyMeter, TaskResult
from medbatch.notes.spans import PhiSpan
from medbatch.notes.stage import StageCall
from medbatch.notes.tasks.chunking import chunk_by_chars


class FakeEngineConfig(EngineConfig):
    """Options of the fake engine."""

    kind: Literal["fake"] = "fake"
    performance_fields: ClassVar[frozenset[str]] = frozenset(
        {"seconds_per_request", "capacity", "call_log", "outage_file"}
    )
    seconds_per_request: float = Field(
        default=0.0, ge=0.0, description="Time each request takes (simulated generation time)."
    )
    capacity: int = Field(default=8, ge=1, description="Requests the fake runs at once.")
    fail_marker: str | None = Field(default=None, description="Texts containing this get an engine error.")
    outage_file: str | None = Field(
        default=None,
        description="While this file exists every request fails: an outage that ends, for tests of "
        "reruns (not part of the content hash, like a real outage).",
    )
    call_log: str | None = Field(
        default=None,
        description="A file to which every request appends its task name (never text), so that tests can "
        "count the engine calls made in worker processes.",
    )

    def describe(self) -> EngineInfo:
        """The fake engine's provenance."""
        return EngineInfo(name="fake", model="fake", prompt_version="fake-v1")

    def build(self) -> FakeEngine:
        """The fake engine."""
        return FakeEngine(self)


class FakeEngine:
    """Returns empty results after an optional delay, ``capacity`` requests at a time.

    ``events`` records ``("start"|"end", task, text)`` in order (tests read it).
    """

    chunk = staticmethod(chunk_by_chars)

    def __init__(self, config: FakeEngineConfig) -> None:
        self.config = config
        self.info = config.describe()
        self.capacity = config.capacity
        self.meter = OccupancyMeter(config.capacity)
        self.events: list[tuple[str, str, str]] = []
        self._slots: asyncio.Semaphore | None = None

    async def _result(self, task: str, text: str, value: object) -> TaskResult[object]:
        if self._slots is None:  # made on first use, in the loop that runs the requests
            self._slots = asyncio.Semaphore(self.capacity)
        async with self._slots:
            if self.config.call_log is not None:
                with open(self.config.call_log, "a") as log:  # one short append per request
                    log.write(task + "\n")
            self.events.append(("start", task, text))
            with self.meter.running():
                if self.config.seconds_per_request:
                    await asyncio.sleep(self.config.seconds_per_request)
            self.events.append(("end", task, text))
        marker, outage = self.config.fail_marker, self.config.outage_file
        if (marker is not None and marker in text) or (outage is not None and os.path.exists(outage)):
            return TaskResult(value=None, error="fake engine failure")
        return TaskResult(value=value, tokens_in=len(text) // 4, tokens_out=1)

    async def find_phi(self, text: str) -> TaskResult[list[PhiSpan]]:
        """No spans."""
        return await self._result("phi", text, [])  # type: ignore[return-value]

    async def run(self, text: str, calls: Sequence[StageCall[Any]]) -> list[TaskResult[Any]]:
        """Each stage's empty result, after one request (its tokens counted once)."""
        result = await self._result("analyze", text, [call.stage.empty(call.options) for call in calls])
        values = result.value if isinstance(result.value, list) else [None] * len(calls)
        return [
            TaskResult(
                value=value, error=result.error, tokens_in=result.tokens_in, tokens_out=result.tokens_out
            )
            if i == 0
            else TaskResult(value=value, error=result.error)
            for i, value in enumerate(values)
        ]
