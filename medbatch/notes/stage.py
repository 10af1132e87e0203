"""A task is a stage: one typed descriptor says everything the note core, the engines and the output need.

A ``Stage`` names its options in ``spec.tasks``, the output columns it fills, its CPU implementation, its
LLM instruction and answer shape, how it reads a model's answer against the note, how the results of a
long note's chunks merge, and how the merged result becomes its columns. The note core
(``NoteProcessor``) runs every registered stage the tasks enable; engines run a stage on one chunk
(``Engine.run``) without knowing which stage it is; the batch output and the online API take their
columns from the registry. Adding a task is a stage module and one line in ``medbatch.notes.stages``
(plus its options in ``spec.tasks``, which the CRD is generated from): CONTRIBUTING.md, "Add a task".

De-identification is not a stage: every other stage reads its result (the de-identified text), its spans
are unioned with the recognizers' and replaced before anything else runs, and it fills no columns that
another task could share. It stays the core's first step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from medbatch.notes.tasks.chunking import Chunk
from medbatch.notes.tasks.deid.scrub import Scrubber
from medbatch.spec import TasksSpec

OptionsT = TypeVar("OptionsT")
ValueT = TypeVar("ValueT")


class ParseError(ValueError):
    """A model answer that cannot be used; the message quotes nothing from the answer."""


class QuoteError(ParseError):
    """A well-formed answer quoting text that is not in the note (``missing`` of ``total`` quotes)."""

    def __init__(self, missing: int, total: int, what: str) -> None:
        super().__init__(f"{missing} of {total} quoted {what} are not in the text")
        self.missing, self.total = missing, total


class StageError(Exception):
    """A stage could not produce its result for a note; the message is safe (no note text)."""


@dataclass(frozen=True, slots=True)
class StageContext:
    """What a stage may know about the note's run when it writes its columns.

    ``generative``: the engine writes new text (a model), so what it wrote is checked against the note.
    ``scrub``: replaces the note's PHI values in derived text (None when de-identification is off).
    """

    generative: bool
    scrub: Scrubber | None


class Stage(ABC, Generic[OptionsT, ValueT]):
    """One task. ``OptionsT``: its options from ``spec.tasks``; ``ValueT``: its result for one text.

    Class attributes:
        name: the task's key in ``spec.tasks`` (and in error messages, "ner: ...").
        columns: the output columns it fills, as a pydantic model whose fields all have defaults (the
            values of a note where the stage is off or failed). Its fields become Parquet columns and
            fields of the HTTP response.
        answer: the JSON shape a model answers in (structured outputs enforce its schema).
    """

    name: ClassVar[str]
    columns: ClassVar[type[BaseModel]]
    answer: ClassVar[type[BaseModel]]

    def options(self, tasks: TasksSpec) -> OptionsT | None:
        """The stage's options, or None when the tasks leave it off."""
        value: OptionsT | None = getattr(tasks, self.name, None)
        return value

    # -- one text (a chunk) ---------------------------------------------------------------------------

    @abstractmethod
    def compute(self, text: str, options: OptionsT) -> ValueT:
        """The CPU implementation (the baseline engine runs it)."""

    @abstractmethod
    def empty(self, options: OptionsT) -> ValueT:
        """An empty result (what the fake engine returns)."""

    @abstractmethod
    def task(self, options: OptionsT) -> str:
        """The instruction's task sentence(s) for a model, without the answer format."""

    @abstractmethod
    def answer_shape(self, options: OptionsT) -> str:
        """The answer's keys as a JSON fragment for the instruction, e.g. ``"summary": "..."``."""

    def schema(self, options: OptionsT) -> dict[str, Any]:
        """The JSON schema of ``answer`` for structured outputs (narrowed to the options if need be)."""
        return self.answer.model_json_schema()

    @abstractmethod
    def read_answer(self, answer: Any, text: str, options: OptionsT) -> tuple[ValueT, ParseError | None]:
        """The result in a validated ``answer`` to ``text``, and what verification found wrong (the
        result is then what could be verified, or raise ``ParseError`` when nothing could)."""

    def quotes(self, answer: Any) -> int:
        """How many quotes of the note the answer holds (counted by benchmarks)."""
        return 0

    # -- one note -------------------------------------------------------------------------------------

    async def merge(
        self,
        subject: str,
        parts: Sequence[tuple[Chunk, ValueT]],
        options: OptionsT,
        again: Callable[[str], Awaitable[ValueT]],
    ) -> ValueT:
        """The note's result from its chunks' (one chunk: its result as is). ``again`` runs the stage on
        another text (a map-reduce step); it raises ``StageError``."""
        if len(parts) != 1:
            raise NotImplementedError(f"{self.name} does not merge chunks")
        return parts[0][1]

    @abstractmethod
    def output(self, subject: str, value: ValueT, options: OptionsT, context: StageContext) -> BaseModel:
        """The stage's columns for the note's result (``subject`` is the text the stage ran on)."""


@dataclass(frozen=True, slots=True)
class StageCall(Generic[OptionsT]):
    """One stage with its options: what an engine is asked to run."""

    stage: Stage[OptionsT, Any]
    options: OptionsT


class StageRegistry:
    """The stages, in the order they run and their columns appear. Names and column names are unique."""

    def __init__(self, stages: Sequence[Stage[Any, Any]] = ()) -> None:
        self._stages: dict[str, Stage[Any, Any]] = {}
        for stage in stages:
            self.register(stage)

    def register(self, stage: Stage[Any, Any]) -> None:
        """Add a stage; raises ValueError on a name or column another stage has."""
        if stage.name in self._stages:
            raise ValueError(f"a stage named {stage.name!r} is registered already")
        taken = {c for s in self for c in s.columns.model_fields}
        clash = taken & set(stage.columns.model_fields)
        if clash:
            raise ValueError(f"stage {stage.name!r} would fill columns other stages fill: {sorted(clash)}")
        self._stages[stage.name] = stage

    def unregister(self, name: str) -> None:
        """Remove a stage (tests that register their own)."""
        del self._stages[name]

    def __iter__(self) -> Iterator[Stage[Any, Any]]:
        return iter(list(self._stages.values()))

    def calls(self, tasks: TasksSpec) -> list[StageCall[Any]]:
        """The stages ``tasks`` enable, with their options."""
        return [StageCall(s, o) for s in self if (o := s.options(tasks)) is not None]
