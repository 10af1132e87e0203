"""An Engine on top of any chat-completion backend: prompts, structured answers, verification, one retry.

Backends (vLLM's async engine, an OpenAI-compatible server) implement ``LlmBackend.complete``: one chat
request in, its completion out, asynchronously, so the caller keeps as many in flight as the backend can
batch. This class turns tasks into requests and completions into verified results:

* invalid JSON, a wrong shape, or quotes that are not in the text -> the request is asked once more, with
  the (safe) reason; if the second answer fails too, the result carries an error (for PHI: with the spans
  that were verified, since removing verified text only helps), and the pipeline keeps the recognizers'
  de-identification;
* every result carries the tokens of both attempts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from pydantic import BaseModel, create_model

from medbatch.notes.engine import EngineInfo, OccupancyMeter, TaskResult
from medbatch.notes.llm import prompts
from medbatch.notes.llm.parsing import parse_answer, phi_spans
from medbatch.notes.llm.schemas import Answer, PhiAnswer, closed, combined, phi_schema
from medbatch.notes.spans import PhiSpan
from medbatch.notes.stage import ParseError, QuoteError, Stage, StageCall
from medbatch.notes.tasks.chunking import Chunk, chunk_text
from medbatch.spec import LimitsSpec

log = logging.getLogger(__name__)

# Characters per token assumed when a backend has no tokenizer (conservative for English clinical text).
CHARS_PER_TOKEN_ESTIMATE = 3
# Tokens kept free for the chat template around the messages.
TEMPLATE_MARGIN_TOKENS = 64


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion to run with constrained JSON output."""

    messages: list[dict[str, str]]
    schema: dict[str, Any]
    schema_name: str
    max_tokens: int


@dataclass(slots=True)
class Completion:
    """The backend's answer: generated text, or an error (safe message) when the request failed."""

    text: str | None
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = None
    truncated: bool = False  # generation stopped at max_tokens
    tokens_cached: int = 0  # prompt tokens served from the prefix cache


class LlmBackend(Protocol):
    """Runs chat requests on a model; ``capacity`` is how many it runs at once."""

    context_length: int
    capacity: int

    async def complete(self, request: ChatRequest) -> Completion:
        """The request's completion. Must not raise for a bad request: return its error."""
        ...

    def count_tokens(self, text: str) -> list[tuple[int, int]] | None:
        """Character offsets of each token of ``text``, or None when the backend has no tokenizer."""
        ...


Finish = Callable[[Any], tuple[Any, ParseError | None]]


@dataclass
class AnswerStats:
    """How a model's answers fared, by task (counts only): what a benchmark of a model reports.

    ``answers``: completions received (retries included); ``invalid``: not JSON, not the schema, or cut
    off at max_tokens (``truncated``, a model that does not stop, counted among them); ``ungrounded``: well formed, but quoting text that is not in the note; ``quotes``
    and ``quotes_missing``: the quotes of well-formed answers, and those not found in the note.
    """

    answers: Counter[str] = field(default_factory=Counter)
    invalid: Counter[str] = field(default_factory=Counter)
    truncated: Counter[str] = field(default_factory=Counter)
    ungrounded: Counter[str] = field(default_factory=Counter)
    quotes: Counter[str] = field(default_factory=Counter)
    quotes_missing: Counter[str] = field(default_factory=Counter)

    def count(
        self, task: str, answer: Any, problem: ParseError | None, truncated: bool = False, quotes: int = 0
    ) -> None:
        """Count one answer: ``answer`` None when it did not parse, ``problem`` what verification found,
        ``quotes`` how many quotes of the note it holds."""
        self.answers[task] += 1
        if answer is None:
            self.invalid[task] += 1
            self.truncated[task] += truncated
            return
        self.quotes[task] += quotes
        if isinstance(problem, QuoteError):
            self.ungrounded[task] += 1
            self.quotes_missing[task] += problem.missing


@dataclass(slots=True)
class _Job:
    text: str
    instruction: str
    task: str
    answer: type[BaseModel]
    schema: dict[str, Any]
    finish: Finish  # answer -> (value, problem); raises ParseError when nothing is usable
    quotes: Callable[[Any], int]


@cache
def _combined_answer(stages: tuple[type[Stage[Any, Any]], ...]) -> type[Answer]:
    """One answer model with every field of the stages' answers (combined-call mode)."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for s in stages for name, info in s.answer.model_fields.items()
    }
    return create_model("CombinedAnswer", __base__=Answer, **fields)


def _stage_answer(stage: Stage[Any, Any], answer: BaseModel) -> BaseModel:
    """A stage's own answer inside a combined answer."""
    return stage.answer.model_validate(answer.model_dump())


class LlmEngine:
    """The ``Engine`` for LLM backends.

    Args:
        backend: runs the requests.
        info: provenance (engine name, model, prompt version).
        max_tokens: generation budget per request.
        combine_analysis: NER and summary in one request per text instead of two sharing a prefix.
    """

    def __init__(
        self, backend: LlmBackend, info: EngineInfo, max_tokens: int, combine_analysis: bool
    ) -> None:
        self.backend = backend
        self.info = info
        self.capacity = backend.capacity
        self.meter = OccupancyMeter(backend.capacity)
        self.max_tokens = max_tokens
        self.combine_analysis = combine_analysis
        self.stats = AnswerStats()
        overhead = self._tokens(prompts.messages("", prompts.phi_instruction())[0]["content"]) + self._tokens(
            prompts.phi_instruction()
        )
        self.chunk_token_budget = backend.context_length - max_tokens - overhead - TEMPLATE_MARGIN_TOKENS
        if self.chunk_token_budget < 64:
            raise ValueError(
                f"max_model_len {backend.context_length} leaves no room for a note after the prompt and "
                f"max_tokens {max_tokens}; raise max_model_len or lower max_tokens"
            )

    # -- chunking -------------------------------------------------------------------------------------

    def _tokens(self, text: str) -> int:
        offsets = self.backend.count_tokens(text)
        return len(offsets) if offsets is not None else len(text) // CHARS_PER_TOKEN_ESTIMATE + 1

    def chunk(self, text: str, limits: LimitsSpec) -> list[Chunk]:
        """Chunks that fit the model's context: the character limits first, then the token budget."""
        out: list[Chunk] = []
        for piece in chunk_text(text, limits.chunk_chars, limits.chunk_overlap_chars):
            offsets = self.backend.count_tokens(piece.text)
            if offsets is None:
                size = self.chunk_token_budget * CHARS_PER_TOKEN_ESTIMATE
                if len(piece.text) <= size:
                    out.append(piece)
                else:
                    out.extend(
                        Chunk(piece.start + c.start, c.text) for c in chunk_text(piece.text, size, size // 10)
                    )
                continue
            if len(offsets) <= self.chunk_token_budget:
                out.append(piece)
                continue
            window, step = self.chunk_token_budget, self.chunk_token_budget - self.chunk_token_budget // 10
            for first in range(0, len(offsets), step):
                last = min(first + window, len(offsets)) - 1
                start, end = offsets[first][0], offsets[last][1]
                out.append(Chunk(piece.start + start, piece.text[start:end]))
                if last == len(offsets) - 1:
                    break
        return out

    # -- tasks ----------------------------------------------------------------------------------------

    async def find_phi(self, text: str) -> TaskResult[list[PhiSpan]]:
        """PHI spans the model quotes, located and verified in ``text``."""

        def finish(answer: Any) -> tuple[Any, ParseError | None]:
            assert isinstance(answer, PhiAnswer)
            return phi_spans(answer, text)

        instruction = prompts.phi_instruction()
        return await self._run(
            _Job(text, instruction, "phi", PhiAnswer, phi_schema(), finish, lambda a: len(a.phi))
        )

    async def run(self, text: str, calls: Sequence[StageCall[Any]]) -> list[TaskResult[Any]]:
        """Each stage's result: one combined request, or one request per stage sharing the note's prefix
        (sent together, so the later ones are served from the prefix cache while all run)."""
        if self.combine_analysis and len(calls) > 1:
            return _split(await self._run(self._combined_job(text, calls)), len(calls))
        return list(await asyncio.gather(*(self._run(self._stage_job(text, call)) for call in calls)))

    def _stage_job(self, text: str, call: StageCall[Any]) -> _Job:
        stage, options = call.stage, call.options

        def finish(answer: Any) -> tuple[Any, ParseError | None]:
            return stage.read_answer(answer, text, options)

        instruction = prompts.instruction([(stage.task(options), stage.answer_shape(options))])
        schema = closed(stage.schema(options))
        return _Job(text, instruction, stage.name, stage.answer, schema, finish, stage.quotes)

    def _combined_job(self, text: str, calls: Sequence[StageCall[Any]]) -> _Job:
        def finish(answer: Any) -> tuple[Any, ParseError | None]:
            read = [c.stage.read_answer(_stage_answer(c.stage, answer), text, c.options) for c in calls]
            problems = [problem for _value, problem in read if problem is not None]
            return [value for value, _problem in read], problems[0] if problems else None

        def quotes(answer: Any) -> int:
            return sum(c.stage.quotes(_stage_answer(c.stage, answer)) for c in calls)

        return _Job(
            text,
            prompts.instruction([(c.stage.task(c.options), c.stage.answer_shape(c.options)) for c in calls]),
            "+".join(c.stage.name for c in calls),
            _combined_answer(tuple(type(c.stage) for c in calls)),
            combined([c.stage.schema(c.options) for c in calls]),
            finish,
            quotes,
        )

    # -- running and retrying -------------------------------------------------------------------------

    def _request(self, job: _Job, reason: str | None = None) -> ChatRequest:
        return ChatRequest(
            messages=prompts.messages(job.text, job.instruction, reason),
            schema=job.schema,
            schema_name=job.task,
            max_tokens=self.max_tokens,
        )

    def _attempt(self, job: _Job, completion: Completion) -> tuple[TaskResult[Any], str | None]:
        """The result of one completion and, if it should be retried, why."""
        result: TaskResult[Any] = TaskResult(
            value=None,
            tokens_in=completion.tokens_in,
            tokens_out=completion.tokens_out,
            tokens_cached=completion.tokens_cached,
        )
        if completion.error is not None or completion.text is None:
            result.error = completion.error or "no answer"
            return result, None  # transport failures are retried by the backend, not here
        try:
            if completion.truncated:
                raise ParseError("the answer reached max_tokens before it was complete")
            answer = parse_answer(job.answer, completion.text)
        except ParseError as exc:
            self.stats.count(job.task, None, None, completion.truncated)
            result.error = f"model answer unusable: {exc}"
            return result, str(exc)
        try:
            value, problem = job.finish(answer)
        except ParseError as exc:
            value, problem = None, exc
        self.stats.count(job.task, answer, problem, quotes=job.quotes(answer))
        result.value = value
        if problem is not None:
            result.error = f"model answer unusable: {problem}"
            return result, str(problem)
        return result, None

    async def _complete(self, request: ChatRequest) -> Completion:
        with self.meter.running():
            return await self.backend.complete(request)

    async def _run(self, job: _Job) -> TaskResult[Any]:
        result, reason = self._attempt(job, await self._complete(self._request(job)))
        if reason is None:
            return result
        log.info("retrying a model answer that failed verification")
        earlier = result
        result, _reason = self._attempt(job, await self._complete(self._request(job, reason)))
        result.tokens_in += earlier.tokens_in
        result.tokens_out += earlier.tokens_out
        result.tokens_cached += earlier.tokens_cached
        if result.value is None and earlier.value is not None:
            result.value = earlier.value  # e.g. the spans verified on the first attempt
        return result


def _split(result: TaskResult[Any], n: int) -> list[TaskResult[Any]]:
    """A combined request's result as one result per stage (its tokens counted on the first)."""
    values = result.value if result.value is not None else [None] * n
    return [
        TaskResult(
            value=value,
            error=result.error,
            tokens_in=result.tokens_in if i == 0 else 0,
            tokens_out=result.tokens_out if i == 0 else 0,
            tokens_cached=result.tokens_cached if i == 0 else 0,
        )
        for i, value in enumerate(values)
    ]
