"""The summarization stage: a model's summary checked against the note, or the CPU's extractive one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import Field

from medbatch.notes.llm.parsing import CONTROL
from medbatch.notes.llm.schemas import Answer
from medbatch.notes.output import SummaryColumns
from medbatch.notes.stage import ParseError, Stage, StageContext
from medbatch.notes.tasks.chunking import Chunk
from medbatch.notes.tasks.summary.check import check_summary
from medbatch.notes.tasks.summary.extractive import summarize
from medbatch.spec import SummarizeSpec

# Characters a summary may take per word it is allowed: generous for clinical words (about 7 characters
# and a space), and a bound that lets constrained decoding end a model that would otherwise ramble until
# max_tokens.
CHARS_PER_WORD = 12


class SummaryAnswer(Answer):
    """Answer to the summarization task."""

    summary: str = Field(max_length=20_000)


def clean_summary(summary: str, max_words: int) -> str:
    """The summary without control characters, cut to ``max_words`` words."""
    words = CONTROL.sub(" ", summary).split()
    return " ".join(words[:max_words])


class SummaryStage(Stage[SummarizeSpec, str]):
    """A summary of at most ``tasks.summarize.maxWords`` words. A model's summary that names a problem or
    medication the note does not, or states a negated finding as present, is replaced by the CPU summary
    and the reason is written to ``summary_fallback``."""

    name = "summarize"
    columns = SummaryColumns
    answer = SummaryAnswer

    def compute(self, text: str, options: SummarizeSpec) -> str:
        """The extractive summary."""
        return summarize(text, options.max_words)

    def empty(self, options: SummarizeSpec) -> str:
        """An empty summary."""
        return ""

    def task(self, options: SummarizeSpec) -> str:
        """Summarize for a clinician, naming only what the note names, without identifiers."""
        return (
            f"summarize the note for a clinician in at most {options.max_words} words: the main problems, "
            "findings, treatments and plan, never stating as present a finding the note negates, and naming "
            "only problems and medications the note names. Do not include names, dates or identifying "
            "numbers."
        )

    def answer_shape(self, options: SummarizeSpec) -> str:
        """The summary string."""
        return '"summary": "..."'

    def schema(self, options: SummarizeSpec) -> dict[str, Any]:
        """The answer's schema, its length bounded by the word limit."""
        schema = SummaryAnswer.model_json_schema()
        schema["properties"]["summary"]["maxLength"] = options.max_words * CHARS_PER_WORD
        return schema

    def read_answer(self, answer: Any, text: str, options: SummarizeSpec) -> tuple[str, ParseError | None]:
        """The summary, cleaned and cut to the word limit."""
        assert isinstance(answer, SummaryAnswer)
        return clean_summary(answer.summary, options.max_words), None

    async def merge(
        self,
        subject: str,
        parts: Sequence[tuple[Chunk, str]],
        options: SummarizeSpec,
        again: Callable[[str], Awaitable[str]],
    ) -> str:
        """Map-reduce for a long note: the chunks' summaries, summarized again."""
        if len(parts) == 1:
            return parts[0][1]
        return await again("\n".join(s for _chunk, s in parts if s))

    def output(
        self, subject: str, value: str, options: SummarizeSpec, context: StageContext
    ) -> SummaryColumns:
        """The summary (checked against the note when a model wrote it), scrubbed of the note's PHI."""
        fallback = check_summary(subject, value) if value and context.generative else None
        if fallback is not None:
            value = summarize(subject, options.max_words)
        return SummaryColumns(
            summary=context.scrub(value) if context.scrub is not None else value,
            summary_fallback=fallback.value if fallback is not None else None,
        )
