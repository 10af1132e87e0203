"""A model's summary is checked against the note, and replaced by the CPU summary when the note does not
support it. Notes and summaries here are made up."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from medbatch.notes import NoteProcessor
from medbatch.notes.engine import EngineInfo, OccupancyMeter, TaskResult
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.note import Note
from medbatch.notes.spans import PhiSpan
from medbatch.notes.stage import StageCall
from medbatch.notes.tasks.chunking import chunk_by_chars
from medbatch.notes.tasks.summary.check import SummaryProblem, check_summary
from medbatch.notes.tasks.summary.extractive import summarize
from medbatch.spec import LimitsSpec, TasksSpec

NOTE = (
    "HPI: 64 year old man with hypertension and type 2 diabetes presents with cough and fever for three "
    "days. He denies chest pain. No shortness of breath.\n"
    "Medications: metoprolol 25 mg PO BID, metformin 500 mg daily.\n"
    "Assessment and plan: community acquired pneumonia. Start azithromycin 500 mg PO daily."
)


@pytest.mark.parametrize(
    "summary",
    [
        "Pneumonia with cough and fever; started azithromycin. Denies chest pain.",
        "HYPERTENSION and type 2   diabetes on metoprolol and metformin; no shortness of breath.",
        "Cough and fever for three days.",
        "",
    ],
)
def test_a_summary_the_note_supports_holds(summary: str) -> None:
    assert check_summary(NOTE, summary) is None


@pytest.mark.parametrize(
    ("summary", "problem"),
    [
        ("Pneumonia, treated with levofloxacin.", SummaryProblem.MEDICATION_NOT_IN_NOTE),
        ("Cough and fever from pulmonary embolism.", SummaryProblem.PROBLEM_NOT_IN_NOTE),
        ("Pneumonia with chest pain.", SummaryProblem.NEGATED_AS_PRESENT),
        ("Shortness of breath and cough.", SummaryProblem.NEGATED_AS_PRESENT),
        ("Pneumonia; no fever.", SummaryProblem.PRESENT_AS_NEGATED),
    ],
)
def test_a_summary_the_note_does_not_support_fails(summary: str, problem: SummaryProblem) -> None:
    assert check_summary(NOTE, summary) is problem


def test_the_cpu_summary_of_a_note_passes_its_own_check() -> None:
    assert check_summary(NOTE, summarize(NOTE, 40)) is None


class WritingEngine(BaselineEngine):
    """A model stand-in that writes a fixed summary, whatever the note says."""

    info = EngineInfo(name="writer", model="writer", prompt_version="w1")
    chunk = staticmethod(chunk_by_chars)

    def __init__(self, summary: str) -> None:
        self.summary = summary
        self.meter = OccupancyMeter(1)

    async def find_phi(self, text: str) -> TaskResult[list[PhiSpan]]:
        return TaskResult(value=[])

    async def run(self, text: str, calls: Sequence[StageCall[Any]]) -> list[TaskResult[Any]]:
        return [TaskResult(value=self.summary) for _call in calls]


def _summarized(summary: str) -> tuple[str | None, str | None]:
    tasks = TasksSpec.model_validate({"summarize": {"maxWords": 40}, "analyzeRawText": True})
    processor = NoteProcessor(tasks, LimitsSpec(), WritingEngine(summary))
    output = asyncio.run(processor.process(Note("n1", NOTE))).output
    assert output.error is None
    return output.summary, output.summary_fallback


def test_an_unsupported_model_summary_is_replaced_by_the_cpu_summary_with_the_reason() -> None:
    summary, fallback = _summarized("Chest pain treated with heparin.")
    assert fallback == "negated_as_present"
    assert summary == summarize(NOTE, 40)


def test_a_supported_model_summary_is_kept() -> None:
    assert _summarized("Pneumonia started on azithromycin.") == ("Pneumonia started on azithromycin.", None)
