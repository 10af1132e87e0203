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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from medbatch.notes.engine import Analysis, AnalysisRequest, EngineInfo, OccupancyMeter, TaskResult
from medbatch.notes.llm import prompts
from medbatch.notes.llm.parsing import (
    ParseError,
    QuoteError,
    clean_summary,
    entity_list,
    parse_answer,
    phi_spans,
)
from medbatch.notes.llm.schemas import AnalysisAnswer, EntitiesAnswer, PhiAnswer, SummaryAnswer, json_schema
from medbatch.notes.spans import PhiSpan
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

    def count(self, task: str, answer: Any, problem: ParseError | None, truncated: bool = False) -> None:
        """Count one answer: ``answer`` None when it did not parse, ``problem`` what verification found."""
        self.answers[task] += 1
        if answer is None:
            self.invalid[task] += 1
            self.truncated[task] += truncated
            return
        self.quotes[task] += len(getattr(answer, "phi", None) or getattr(answer, "entities", None) or [])
        if isinstance(problem, QuoteError):
            self.ungrounded[task] += 1
            self.quotes_missing[task] += problem.missing


@dataclass(slots=True)
class _Job:
    text: str
    instruction: str
    task: str
    schema: dict[str, Any]
    finish: Finish  # answer -> (value, problem); raises ParseError when nothing is usable


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

        return await self._run(_Job(text, prompts.phi_instruction(), "phi", json_schema("phi"), finish))

    async def analyze(self, text: str, request: AnalysisRequest) -> TaskResult[Analysis]:
        """Entities and/or a summary: one combined request, or one per task sharing the note's prefix
        (sent together, so the second is served from the prefix cache while both run)."""
        types, words = request.entity_types, request.summary_max_words
        if self.combine_analysis and types is not None and words is not None:

            def combined(answer: Any) -> tuple[Any, ParseError | None]:
                assert isinstance(answer, AnalysisAnswer)
                entities = entity_list(answer.entities, text, types)
                return Analysis(entities=entities, summary=clean_summary(answer.summary, words)), None

            instruction = prompts.analysis_instruction(types, words)
            return await self._run(
                _Job(text, instruction, "analysis", json_schema("analysis", types), combined)
            )

        def entities(answer: Any) -> tuple[Any, ParseError | None]:
            assert isinstance(answer, EntitiesAnswer)
            assert types is not None
            return entity_list(answer.entities, text, types), None

        def summary(answer: Any) -> tuple[Any, ParseError | None]:
            assert isinstance(answer, SummaryAnswer)
            assert words is not None
            return clean_summary(answer.summary, words), None

        jobs = (
            _Job(
                text,
                prompts.entities_instruction(types),
                "entities",
                json_schema("entities", types),
                entities,
            )
            if types is not None
            else None,
            _Job(text, prompts.summary_instruction(words), "summary", json_schema("summary"), summary)
            if words is not None
            else None,
        )
        return _merge(*await asyncio.gather(*(self._optional(job) for job in jobs)))

    async def _optional(self, job: _Job | None) -> TaskResult[Any] | None:
        return None if job is None else await self._run(job)

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
            answer = parse_answer(job.task, completion.text)
        except ParseError as exc:
            self.stats.count(job.task, None, None, completion.truncated)
            result.error = f"model answer unusable: {exc}"
            return result, str(exc)
        try:
            value, problem = job.finish(answer)
        except ParseError as exc:
            value, problem = None, exc
        self.stats.count(job.task, answer, problem)
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


def _merge(entities: TaskResult[Any] | None, summary: TaskResult[Any] | None) -> TaskResult[Analysis]:
    parts = [r for r in (entities, summary) if r is not None]
    errors = [r.error for r in parts if r.error is not None]
    analysis = Analysis(
        entities=entities.value if entities is not None else None,
        summary=summary.value if summary is not None else None,
    )
    usable = not errors
    return TaskResult(
        value=analysis if usable else None,
        error="; ".join(errors) if errors else None,
        tokens_in=sum(r.tokens_in for r in parts),
        tokens_out=sum(r.tokens_out for r in parts),
        tokens_cached=sum(r.tokens_cached for r in parts),
    )
