"""A task added through the stage registry alone reaches the batch output (rows, the Parquet part) and
the HTTP response, on the CPU engine and through an LLM engine, without any other module knowing it.

Its options need a field in ``spec.tasks`` (the CRD is generated from it; a real API server prunes
unknown fields), which the test adds by subclassing ``TasksSpec``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, Field

from medbatch.jobs.ledger.parts import PARTS_DIR, output_schema, rows_table, write_part
from medbatch.jobs.ledger.store import Store
from medbatch.jobs.process import process_shard
from medbatch.jobs.sources.readers import RawRecord
from medbatch.notes import NoteProcessor, Window
from medbatch.notes.engine import Engine, EngineInfo
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.llm.engine import ChatRequest, Completion, LlmEngine
from medbatch.notes.llm.schemas import Answer
from medbatch.notes.stage import ParseError, Stage, StageContext
from medbatch.notes.stages import STAGES
from medbatch.serve.models import NoteResponse
from medbatch.spec import LimitsSpec, TasksSpec
from medbatch.spec.base import SpecModel


class WordCountSpec(SpecModel):
    """Options of the made-up task."""

    minimum_length: int = Field(default=1, ge=1)


class WordCountColumns(BaseModel):
    """Its column."""

    word_count: int | None = Field(default=None, description="Words of at least minimumLength letters.")


class WordCountAnswer(Answer):
    """What a model answers."""

    words: int = Field(ge=0)


class WordCountStage(Stage[WordCountSpec, int]):
    """Counts words; chunk counts add up."""

    name = "word_count"
    columns = WordCountColumns
    answer = WordCountAnswer

    def compute(self, text: str, options: WordCountSpec) -> int:
        return sum(len(w) >= options.minimum_length for w in text.split())

    def empty(self, options: WordCountSpec) -> int:
        return 0

    def task(self, options: WordCountSpec) -> str:
        return f"count the words of at least {options.minimum_length} letters."

    def answer_shape(self, options: WordCountSpec) -> str:
        return '"words": 0'

    def read_answer(self, answer: Any, text: str, options: WordCountSpec) -> tuple[int, ParseError | None]:
        assert isinstance(answer, WordCountAnswer)
        return answer.words, None

    async def merge(self, subject: str, parts: Sequence[tuple[Any, int]], options: Any, again: Any) -> int:
        return sum(count for _chunk, count in parts)

    def output(self, subject: str, value: int, options: WordCountSpec, context: StageContext) -> BaseModel:
        return WordCountColumns(word_count=value)


class TasksWithWordCount(TasksSpec):
    """``spec.tasks`` with the new task's options."""

    word_count: WordCountSpec | None = None


@pytest.fixture
def word_count() -> Iterator[None]:
    STAGES.register(WordCountStage())
    yield
    STAGES.unregister("word_count")


TEXT = "Seen by Dr. Ann Lee for chest pain. Aspirin given."


def _rows(engine: Engine, tasks: TasksSpec, limits: LimitsSpec | None = None) -> list[dict[str, Any]]:
    processor = NoteProcessor(tasks, limits or LimitsSpec(), engine)
    records = [RawRecord("r1", TEXT, None, "a.jsonl", 0)]
    rows, _stats = asyncio.run(process_shard(processor, Window(2), "s1", records))
    return rows


def test_a_registered_stage_reaches_the_parquet_part_and_the_http_response(
    word_count: None, tmp_path: Path
) -> None:
    tasks = TasksWithWordCount.model_validate(
        {"deidentify": {}, "ner": {}, "wordCount": {"minimumLength": 4}}
    )
    (row,) = _rows(BaselineEngine(), tasks)
    # The stage ran on the de-identified text, beside the built-in stages.
    assert row["word_count"] == sum(len(w) >= 4 for w in row["text_deid"].split())
    assert row["entities"]
    assert row["error"] is None

    assert output_schema().names[-1] == "word_count"
    store = Store.at_uri(str(tmp_path))
    write_part(store, "part-s1-0.parquet", rows_table([row]))
    table = pq.read_table(tmp_path / PARTS_DIR / "part-s1-0.parquet")
    assert table.column("word_count").to_pylist() == [row["word_count"]]

    body = json.loads(NoteResponse.model_validate(row).model_dump_json())
    assert body["word_count"] == row["word_count"]


def test_a_registered_stage_is_off_unless_its_options_are_set(word_count: None) -> None:
    (row,) = _rows(BaselineEngine(), TasksWithWordCount.model_validate({"deidentify": {}, "ner": {}}))
    assert row["word_count"] is None
    assert row["entities"]


class CountingBackend:
    """A model that answers from the request's schema: no PHI, 7 words, a short summary."""

    capacity = 2
    context_length = 4096

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    def count_tokens(self, text: str) -> list[tuple[int, int]] | None:
        return None

    async def complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        keys = request.schema["properties"]
        answer = {k: v for k, v in {"words": 7, "phi": [], "summary": "Chest pain."}.items() if k in keys}
        return Completion(text=json.dumps(answer), tokens_in=10, tokens_out=3)


@pytest.mark.parametrize("combine", [False, True])
def test_a_registered_stage_runs_through_an_llm_engine(word_count: None, combine: bool) -> None:
    backend = CountingBackend()
    engine = LlmEngine(backend, EngineInfo("scripted", "m", "p"), max_tokens=64, combine_analysis=combine)
    tasks = TasksWithWordCount.model_validate({"deidentify": {}, "summarize": {}, "wordCount": {}})
    (row,) = _rows(engine, tasks, LimitsSpec(chunk_chars=1000))
    assert row["error"] is None
    assert row["word_count"] == 7
    assert row["summary"] == "Chest pain."
    stage_requests = [r for r in backend.requests if r.schema_name != "phi"]
    names = sorted(r.schema_name for r in stage_requests)
    assert names == (["summarize+word_count"] if combine else ["summarize", "word_count"])
    assert all(
        "count the words" in r.messages[-1]["content"].lower()
        for r in stage_requests
        if "word" in r.schema_name
    )
