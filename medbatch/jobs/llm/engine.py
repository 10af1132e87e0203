"""An Engine on top of any chat-completion backend: prompts, structured answers, verification, one retry.

Backends (vLLM offline, an OpenAI-compatible server) implement ``LlmBackend.complete``: a batch of chat
requests in, one completion each out, all submitted together so the server can batch them. This class
turns tasks into requests and completions into verified results:

* invalid JSON, a wrong shape, or quotes that are not in the text -> the request is asked once more, with
  the (safe) reason; if the second answer fails too, the result carries an error (for PHI: with the spans
  that were verified, since removing verified text only helps), and the pipeline keeps the recognizers'
  de-identification;
* every result carries the tokens of both attempts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from medbatch.jobs.engines.base import Analysis, AnalysisRequest, EngineInfo, TaskResult
from medbatch.jobs.llm import prompts
from medbatch.jobs.llm.parsing import ParseError, clean_summary, entity_list, parse_answer, phi_spans
from medbatch.jobs.llm.schemas import AnalysisAnswer, EntitiesAnswer, PhiAnswer, SummaryAnswer, json_schema
from medbatch.jobs.spans import PhiSpan
from medbatch.jobs.tasks.chunking import Chunk, chunk_text
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


class LlmBackend(Protocol):
    """Runs chat requests on a model."""

    context_length: int

    def complete(self, requests: Sequence[ChatRequest]) -> list[Completion]:
        """One completion per request, in order. Must not raise for a bad request: return its error."""
        ...

    def count_tokens(self, text: str) -> list[tuple[int, int]] | None:
        """Character offsets of each token of ``text``, or None when the backend has no tokenizer."""
        ...


Finish = Callable[[Any], tuple[Any, str | None]]


@dataclass(slots=True)
class _Job:
    text: str
    instruction: str
    task: str
    schema: dict[str, Any]
    finish: Finish  # answer -> (value, error); raises ParseError when nothing is usable


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
        self.max_tokens = max_tokens
        self.combine_analysis = combine_analysis
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

    def find_phi(self, texts: Sequence[str]) -> list[TaskResult[list[PhiSpan]]]:
        """PHI spans the model quotes, located and verified in each text."""
        schema = json_schema("phi")

        def finisher(text: str) -> Finish:
            def finish(answer: Any) -> tuple[Any, str | None]:
                assert isinstance(answer, PhiAnswer)
                spans, error = phi_spans(answer, text)
                return spans, str(error) if error else None

            return finish

        jobs = [_Job(t, prompts.phi_instruction(), "phi", schema, finisher(t)) for t in texts]
        return self._run(jobs)

    def analyze(self, texts: Sequence[str], request: AnalysisRequest) -> list[TaskResult[Analysis]]:
        """Entities and/or summaries: one combined request per text, or one per task sharing the prefix."""
        types, words = request.entity_types, request.summary_max_words
        if self.combine_analysis and types is not None and words is not None:
            schema = json_schema("analysis", types)

            def combined(text: str) -> Finish:
                def finish(answer: Any) -> tuple[Any, str | None]:
                    assert isinstance(answer, AnalysisAnswer)
                    entities = entity_list(answer.entities, text, types)
                    return Analysis(entities=entities, summary=clean_summary(answer.summary, words)), None

                return finish

            instruction = prompts.analysis_instruction(types, words)
            return self._run([_Job(t, instruction, "analysis", schema, combined(t)) for t in texts])

        jobs: list[_Job] = []
        if types is not None:
            entity_schema = json_schema("entities", types)

            def entities_of(text: str) -> Finish:
                def finish(answer: Any) -> tuple[Any, str | None]:
                    assert isinstance(answer, EntitiesAnswer)
                    return entity_list(answer.entities, text, types), None

                return finish

            instruction = prompts.entities_instruction(types)
            jobs += [_Job(t, instruction, "entities", entity_schema, entities_of(t)) for t in texts]
        if words is not None:
            summary_schema = json_schema("summary")

            def summary_of(answer: Any) -> tuple[Any, str | None]:
                assert isinstance(answer, SummaryAnswer)
                return clean_summary(answer.summary, words), None

            instruction = prompts.summary_instruction(words)
            jobs += [_Job(t, instruction, "summary", summary_schema, summary_of) for t in texts]
        results = self._run(jobs)
        entity_results = results[: len(texts)] if types is not None else [None] * len(texts)
        summary_results = results[-len(texts) :] if words is not None else [None] * len(texts)
        return [_merge(e, s) for e, s in zip(entity_results, summary_results, strict=True)]

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
            value=None, tokens_in=completion.tokens_in, tokens_out=completion.tokens_out
        )
        if completion.error is not None or completion.text is None:
            result.error = completion.error or "no answer"
            return result, None  # transport failures are retried by the backend, not here
        try:
            if completion.truncated:
                raise ParseError("the answer reached max_tokens before it was complete")
            value, problem = job.finish(parse_answer(job.task, completion.text))
        except ParseError as exc:
            result.error = f"model answer unusable: {exc}"
            return result, str(exc)
        result.value = value
        if problem is not None:
            result.error = f"model answer unusable: {problem}"
            return result, problem
        return result, None

    def _run(self, jobs: list[_Job]) -> list[TaskResult[Any]]:
        if not jobs:
            return []
        first = self.backend.complete([self._request(job) for job in jobs])
        results: list[TaskResult[Any]] = []
        retry: list[tuple[int, str]] = []
        for index, (job, completion) in enumerate(zip(jobs, first, strict=True)):
            result, reason = self._attempt(job, completion)
            results.append(result)
            if reason is not None:
                retry.append((index, reason))
        if retry:
            log.info("retrying %d of %d model answers that failed verification", len(retry), len(jobs))
            second = self.backend.complete([self._request(jobs[i], reason) for i, reason in retry])
            for (index, _), completion in zip(retry, second, strict=True):
                earlier = results[index]
                result, _reason = self._attempt(jobs[index], completion)
                result.tokens_in += earlier.tokens_in
                result.tokens_out += earlier.tokens_out
                if result.value is None and earlier.value is not None:
                    result.value = earlier.value  # e.g. the spans verified on the first attempt
                results[index] = result
        return results


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
    )
