"""Summaries and entities never carry an identifier that de-identification found in the source."""

from __future__ import annotations

from typing import Any

from medbatch.notes import Note, process_notes
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.notes.spans import Entity, PhiSpan
from medbatch.notes.tasks.deid.scrub import Scrubber
from medbatch.spec import LimitsSpec, PhiType, TasksSpec

NOTE = (
    "Insurance member ID BCB911862527 verified. Account number ACCT-0342366 on file. "
    "Dr. Ann Lee started metoprolol 25 mg daily for hypertension at Mercy General Hospital. "
    "Transferred to KW."
)
IDENTIFIERS = ["BCB911862527", "ACCT-0342366", "Ann Lee", "Mercy General", "KW"]


def test_scrubber_replaces_values_as_text_deid_did() -> None:
    text = "Seen by Dr. Lee at KW."
    spans = [PhiSpan(12, 15, PhiType.NAME), PhiSpan(19, 21, PhiType.LOCATION)]
    scrub = Scrubber(text, spans, ["[NAME]", "[LOCATION]"])
    assert (
        scrub("Lee saw the patient at KW; awkward gait improved.")
        == "[NAME] saw the patient at [LOCATION]; awkward gait improved."
    )
    assert scrub.entities([Entity(0, 9, "PERSON", "Dr. LEE")])[0].text == "Dr. [NAME]"


def run(tasks: dict[str, object]) -> dict[str, Any]:
    (output,) = process_notes(
        TasksSpec.model_validate(tasks), LimitsSpec(), BaselineEngine(), [Note("n1", NOTE)]
    )
    return output.model_dump()


def test_summary_and_entities_of_raw_text_are_scrubbed() -> None:
    """analyzeRawText runs NER and the summary on the source note: the extractive summary would repeat
    every identifier in it."""
    row = run({"deidentify": {}, "ner": {}, "summarize": {"maxWords": 80}, "analyzeRawText": True})
    summary = str(row["summary"])
    entity_texts = [str(e["text"]) for e in row["entities"]]
    assert "metoprolol" in summary.lower(), "the summary still says what happened"
    for value in IDENTIFIERS:
        assert value not in str(row["text_deid"])
        assert value not in summary
        assert all(value not in e for e in entity_texts)


def test_summary_of_deidentified_text_has_no_identifier() -> None:
    row = run({"deidentify": {}, "ner": {}, "summarize": {"maxWords": 80}})
    for value in IDENTIFIERS:
        assert value not in str(row["summary"])
