"""LlmEngine around a scripted backend: retry once with a reason, keep verified spans, account tokens."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from medbatch.notes.engine import EngineInfo
from medbatch.notes.llm.engine import ChatRequest, Completion, LlmEngine
from medbatch.notes.stage import StageCall
from medbatch.notes.stages import STAGES
from medbatch.spec import LimitsSpec, TasksSpec

NOTE = "Seen by Dr. Ann Lee for chest pain. Aspirin given."
INFO = EngineInfo(name="scripted", model="scripted", prompt_version="p")


RETRY_MARK = "Your previous answer was rejected"


class ScriptedBackend:
    """Answers each request with ``script(request, attempt)`` (attempt 1 for a retry); records requests."""

    capacity = 4

    def __init__(self, script: Callable[[ChatRequest, int], str], context_length: int = 4096) -> None:
        self.script = script
        self.context_length = context_length
        self.calls: list[ChatRequest] = []

    def count_tokens(self, text: str) -> list[tuple[int, int]] | None:
        return [(i, i + 1) for i in range(len(text))]  # one token per character

    async def complete(self, request: ChatRequest) -> Completion:
        self.calls.append(request)
        attempt = int(RETRY_MARK in request.messages[-1]["content"])
        return Completion(text=self.script(request, attempt), tokens_in=100, tokens_out=10, tokens_cached=40)


def engine(
    script: Callable[[ChatRequest, int], str], combine: bool = False, context: int = 4096
) -> LlmEngine:
    return LlmEngine(ScriptedBackend(script, context), INFO, max_tokens=256, combine_analysis=combine)


def calls(types: tuple[str, ...] | None = None, words: int | None = None) -> list[StageCall[Any]]:
    """The registered stages' calls for NER of ``types`` and/or a summary of ``words``."""
    tasks: dict[str, Any] = {"analyzeRawText": True}
    if types is not None:
        tasks["ner"] = {"types": list(types)}
    if words is not None:
        tasks["summarize"] = {"maxWords": words}
    return STAGES.calls(TasksSpec.model_validate(tasks))


def test_valid_answer_needs_no_retry() -> None:
    e = engine(lambda r, a: json.dumps({"phi": [{"text": "Ann Lee", "type": "NAME"}]}))
    result = asyncio.run(e.find_phi(NOTE))
    assert result.error is None
    assert [NOTE[s.start : s.end] for s in result.value or []] == ["Ann Lee"]
    assert (result.tokens_in, result.tokens_out, result.tokens_cached) == (100, 10, 40)
    assert len(e.backend.calls) == 1  # type: ignore[attr-defined]


def test_invalid_answer_is_retried_once_with_the_reason() -> None:
    answers = ['{"phi": [', json.dumps({"phi": [{"text": "Ann Lee", "type": "NAME"}]})]
    e = engine(lambda r, a: answers[a])
    result = asyncio.run(e.find_phi(NOTE))
    calls = e.backend.calls  # type: ignore[attr-defined]
    assert result.error is None
    assert result.value is not None
    assert (result.tokens_in, result.tokens_out) == (200, 20)
    assert len(calls) == 2
    assert f"{RETRY_MARK} (truncated JSON" in calls[1].messages[-1]["content"]


def test_second_failure_is_an_error_with_the_verified_spans_kept() -> None:
    bad = json.dumps({"phi": [{"text": "Ann Lee", "type": "NAME"}, {"text": "Bob Hope", "type": "NAME"}]})
    e = engine(lambda r, a: bad)
    result = asyncio.run(e.find_phi(NOTE))
    assert result.error == "model answer unusable: 1 of 2 quoted identifiers are not in the text"
    assert [NOTE[s.start : s.end] for s in result.value or []] == ["Ann Lee"]
    assert len(e.backend.calls) == 2  # type: ignore[attr-defined]


def test_separate_analysis_requests_share_the_note_prefix() -> None:
    def script(request: ChatRequest, attempt: int) -> str:
        if request.schema_name == "ner":
            return json.dumps({"entities": [{"text": "chest pain", "type": "PROBLEM"}]})
        return json.dumps({"summary": "Chest pain, aspirin given."})

    e = engine(script)
    entities, summary = asyncio.run(e.run(NOTE, calls(("PROBLEM",), 20)))
    requests = e.backend.calls  # type: ignore[attr-defined]
    assert sorted(r.schema_name for r in requests) == ["ner", "summarize"]
    requests.sort(key=lambda r: r.schema_name)
    prompts = [r.messages[-1]["content"] for r in requests]
    prefix = prompts[0][: prompts[0].index("Task:")]
    assert NOTE in prefix
    assert prompts[1].startswith(prefix), "the note comes first, the instruction last"
    assert requests[0].messages[0] == requests[1].messages[0]
    assert [e.text for e in entities.value or []] == ["chest pain"]
    assert summary.value == "Chest pain, aspirin given."
    assert entities.tokens_in + summary.tokens_in == 200


def test_combined_analysis_is_one_request() -> None:
    answer = json.dumps({"entities": [{"text": "Aspirin", "type": "MEDICATION"}], "summary": "Aspirin."})
    e = engine(lambda r, a: answer, combine=True)
    entities, summary = asyncio.run(e.run(NOTE, calls(("MEDICATION",), 10)))
    (request,) = e.backend.calls  # type: ignore[attr-defined]
    assert request.schema_name == "ner+summarize"
    assert set(request.schema["properties"]) == {"entities", "summary"}
    assert request.schema["additionalProperties"] is False
    assert [e.text for e in entities.value or []] == ["Aspirin"]
    assert summary.value == "Aspirin."
    assert (entities.tokens_in, summary.tokens_in) == (100, 0), "one request's tokens, counted once"


def test_a_failed_stage_fails_that_stage_only() -> None:
    def script(request: ChatRequest, attempt: int) -> str:
        if request.schema_name == "ner":
            return json.dumps({"entities": [{"text": "not in note", "type": "PROBLEM"}]})
        return json.dumps({"summary": "ok"})

    entities, summary = asyncio.run(engine(script).run(NOTE, calls(("PROBLEM",), 10)))
    assert entities.value is None
    assert entities.error == "model answer unusable: 1 of 1 quoted entities are not in the text"
    assert (summary.value, summary.error) == ("ok", None)


def test_the_summary_schema_bounds_its_length_by_the_word_limit() -> None:
    e = engine(lambda r, a: json.dumps({"summary": "ok"}))
    asyncio.run(e.run(NOTE, calls(words=10)))
    (request,) = e.backend.calls  # type: ignore[attr-defined]
    assert 0 < request.schema["properties"]["summary"]["maxLength"] <= 10 * 20


def test_chunks_fit_the_token_budget() -> None:
    e = engine(lambda r, a: "{}", context=2000)
    text = "word " * 2000
    chunks = e.chunk(text, LimitsSpec(chunk_chars=100_000, chunk_overlap_chars=0))
    assert all(len(c.text) <= e.chunk_token_budget for c in chunks)
    assert chunks[0].start == 0
    assert chunks[-1].start + len(chunks[-1].text) == len(text)
    assert all(text[c.start : c.start + len(c.text)] == c.text for c in chunks)
    assert all(a.start + len(a.text) > b.start for a, b in itertools.pairwise(chunks)), "overlap"


def test_answer_stats_count_invalid_and_ungrounded_answers_and_missing_quotes() -> None:
    answers = {
        "phi": ['{"phi": [', json.dumps({"phi": [{"text": "Ann Lee", "type": "NAME"}]})],
        "ner": [
            json.dumps(
                {
                    "entities": [
                        {"text": "chest pain", "type": "PROBLEM"},
                        {"text": "heparin", "type": "MEDICATION"},
                        {"text": "warfarin", "type": "MEDICATION"},
                    ]
                }
            ),
            json.dumps({"entities": [{"text": "Aspirin", "type": "MEDICATION"}]}),
        ],
    }
    e = engine(lambda r, a: answers[r.schema_name][a])
    asyncio.run(e.find_phi(NOTE))
    asyncio.run(e.run(NOTE, calls(("PROBLEM", "MEDICATION"))))
    stats = e.stats
    assert dict(stats.answers) == {"phi": 2, "ner": 2}
    assert dict(stats.invalid) == {"phi": 1}
    assert dict(stats.ungrounded) == {"ner": 1}
    assert dict(stats.quotes) == {"phi": 1, "ner": 4}
    assert dict(stats.quotes_missing) == {"ner": 2}
