"""The engine interface every model backend implements, and the registry that builds engines by config type.

An engine gets batches of texts, never single notes, so that a GPU engine can keep many requests in
flight. It returns one result per text, each either a value or an error; an engine must not raise for a
bad text (raise only when the engine itself is broken). The pipeline handles chunking, the union with the
rule-based PHI, replacement, output rows and accounting, so every engine gets those for free.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from medbatch.jobs.spans import Entity, PhiSpan
from medbatch.jobs.tasks.chunking import Chunk
from medbatch.spec import LimitsSpec

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """Provenance written into every output row and the manifest."""

    name: str
    model: str
    prompt_version: str


@dataclass(slots=True)
class TaskResult(Generic[T]):
    """One text's result: ``value`` or ``error`` (a message with no note text), plus token accounting."""

    value: T | None
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """What ``Engine.analyze`` should produce; a None field means that task is off."""

    entity_types: tuple[str, ...] | None = None
    summary_max_words: int | None = None


@dataclass(slots=True)
class Analysis:
    """Entities (offsets into the analyzed text) and/or a summary."""

    entities: list[Entity] | None = None
    summary: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    """A model backend. Implementations: ``baseline`` (CPU, rules), ``fake`` (tests and benchmarks)."""

    info: EngineInfo

    def chunk(self, text: str, limits: LimitsSpec) -> list[Chunk]:
        """Pieces of ``text`` small enough for one request (see ``tasks.chunking.chunk_by_chars``)."""
        ...

    def find_phi(self, texts: Sequence[str]) -> list[TaskResult[list[PhiSpan]]]:
        """PHI spans the model finds in each text (the recognizers' spans are added by the pipeline).

        A result may carry both spans and an error (some of the model's spans could not be verified); the
        pipeline removes the spans and reports the error.
        """
        ...

    def analyze(self, texts: Sequence[str], request: AnalysisRequest) -> list[TaskResult[Analysis]]:
        """Entities and/or a summary of each text. One call, so a backend may share a prompt prefix."""
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


C = TypeVar("C", bound=EngineConfig)
_BUILDERS: dict[type[EngineConfig], Callable[[EngineConfig], Engine]] = {}


def register_engine(config_type: type[C], builder: Callable[[C], Engine]) -> None:
    """Make ``build_engine`` build ``builder(config)`` for configs of ``config_type``."""
    _BUILDERS[config_type] = builder  # type: ignore[assignment]


def build_engine(config: EngineConfig) -> Engine:
    """An engine for ``config``, chosen by the config's type."""
    builder = _BUILDERS.get(type(config))
    if builder is None:
        raise ValueError(f"no engine registered for {type(config).__name__}")
    return builder(config)
