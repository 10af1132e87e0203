"""The engine interface every model backend implements, and the registry that builds engines by config type.

An engine takes one text at a time and completes it asynchronously, so a caller can keep many requests
in flight and send a note's next request the moment its previous one is done: a GPU engine batches
continuously over whatever is in flight, and nothing waits for a batch to drain. It returns a value or an
error; an engine must not raise for a bad text (raise only when the engine itself is broken). The note
core (``medbatch.notes``) handles chunking, the union with the rule-based PHI, replacement, output and
accounting, so every engine gets those for free.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from medbatch.notes.spans import PhiSpan
from medbatch.notes.stage import StageCall
from medbatch.notes.tasks.chunking import Chunk
from medbatch.spec import LimitsSpec

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """Provenance written into every output row and the manifest.

    ``generative``: the engine writes new text (a model), so the note core checks its summaries against
    the note; the CPU baseline only quotes the note.
    """

    name: str
    model: str
    prompt_version: str
    generative: bool = True


@dataclass(slots=True)
class TaskResult(Generic[T]):
    """One text's result: ``value`` or ``error`` (a message with no note text), plus token accounting.

    ``tokens_cached``: prompt tokens the engine served from its prefix cache instead of computing.
    """

    value: T | None
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0


@dataclass(frozen=True, slots=True)
class Occupancy:
    """What an engine did over a stretch of wall time.

    ``request_seconds``: the integral of running requests over time; divided by ``wall_s * capacity`` it
    is the engine's occupancy (1.0: every slot busy all the time). ``busy_s``: time with at least one
    request running.
    """

    wall_s: float
    busy_s: float
    request_seconds: float
    capacity: int

    @property
    def ratio(self) -> float:
        """Mean running requests over the engine's capacity."""
        return self.request_seconds / (self.wall_s * self.capacity) if self.wall_s > 0 else 0.0


class OccupancyMeter:
    """Counts an engine's requests over time (thread-safe: shards call from several threads).

    A request counts from the moment it is handed to the engine until its answer is back; at most
    ``capacity`` of them count as running at once, the rest as queued.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._running = 0
        self._since = self._last = time.perf_counter()
        self._busy = self._area = 0.0

    def _advance(self, now: float) -> None:
        elapsed = now - self._last
        # Requests beyond the capacity wait in the engine's queue: they keep it full but do not run.
        self._area += min(self._running, self.capacity) * elapsed
        if self._running:
            self._busy += elapsed
        self._last = now

    @contextmanager
    def running(self) -> Iterator[None]:
        """Count one request as running for the duration of the block."""
        with self._lock:
            self._advance(time.perf_counter())
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._advance(time.perf_counter())
                self._running -= 1

    def take(self) -> Occupancy:
        """What happened since the previous ``take`` (or since the meter was made)."""
        with self._lock:
            now = time.perf_counter()
            self._advance(now)
            taken = Occupancy(now - self._since, self._busy, self._area, self.capacity)
            self._since, self._busy, self._area = now, 0.0, 0.0
        return taken


class Engine(Protocol):
    """A model backend. Implementations: ``baseline`` (CPU, rules), ``vllm``, ``openai``, and ``fake``
    (tests and benchmarks).

    ``capacity``: requests the engine runs at once (vLLM's ``max_num_seqs``, the openai engine's
    concurrency); callers keep about twice that in flight so the engine never drains. ``meter`` counts
    its running requests.
    """

    info: EngineInfo
    capacity: int
    meter: OccupancyMeter

    def chunk(self, text: str, limits: LimitsSpec) -> list[Chunk]:
        """Pieces of ``text`` small enough for one request (see ``tasks.chunking.chunk_by_chars``)."""
        ...

    async def find_phi(self, text: str) -> TaskResult[list[PhiSpan]]:
        """PHI spans the model finds in ``text`` (the recognizers' spans are added by the note core).

        A result may carry both spans and an error (some of the model's spans could not be verified); the
        core keeps the verified spans and reports the error.
        """
        ...

    async def run(self, text: str, calls: Sequence[StageCall[Any]]) -> list[TaskResult[Any]]:
        """Each stage's result for ``text`` (one per call, in order): the stage's ``compute`` on the CPU,
        or its instruction and answer shape through a model."""
        ...


class EngineConfig(BaseModel):
    """Base of engine configs; each engine subclasses it with a ``kind`` literal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str

    # Options that change speed, not output (e.g. memory settings): left out of the config hash, so
    # changing them does not stop a job from resuming.
    performance_fields: ClassVar[frozenset[str]] = frozenset()
    # Shards one worker runs at once. Engines that wait on a device or a server gain from 2 (one shard
    # reads or writes while the other uses the engine); pure-Python CPU engines only contend for the GIL.
    shards_per_worker: ClassVar[int] = 2

    def gpus_per_worker(self, cluster_has_gpus: bool) -> float:
        """GPUs each shard worker (engine replica) reserves; none for CPU engines."""
        return 0.0

    def content_key(self) -> dict[str, Any]:
        """The options that can change the output, for the job's config hash."""
        return self.model_dump(mode="json", exclude=set(self.performance_fields))

    def describe(self) -> EngineInfo:
        """Provenance of the engine this config builds, known without building it (no model load)."""
        raise NotImplementedError

    def build(self) -> Engine:
        """The engine this config describes (may load a model). Call it where the engine will run: an
        asynchronous engine binds to the event loop of its first request."""
        raise NotImplementedError
