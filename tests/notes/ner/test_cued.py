"""Findings after a trigger that opens a noun phrase: made-up sentences."""

from __future__ import annotations

import pytest

from medbatch.notes.spans import Assertion
from medbatch.notes.tasks.ner import extract_entities
from medbatch.notes.tasks.ner.cued import MAX_WORDS, cued_findings


@pytest.mark.parametrize(
    ("sentence", "finding", "assertion"),
    [
        ("Chest film: no focal consolidation.", "focal consolidation", Assertion.ABSENT),
        ("Negative for pericardial thickening, per radiology.", "pericardial thickening", Assertion.ABSENT),
        ("Exam without any palpable lymphadenopathy", "palpable lymphadenopathy", Assertion.ABSENT),
        ("Admitted with concern for early appendicitis.", "early appendicitis", Assertion.POSSIBLE),
        ("CT to rule out splenic laceration in the ED.", "splenic laceration", Assertion.POSSIBLE),
        (
            "He has a history of recurrent gout flares and is stable.",
            "recurrent gout flares",
            Assertion.HISTORICAL,
        ),
        ("Biopsy consistent with chronic gastritis.", "chronic gastritis", Assertion.PRESENT),
    ],
)
def test_the_phrase_a_trigger_opens_is_a_finding_with_the_triggers_assertion(
    sentence: str, finding: str, assertion: Assertion
) -> None:
    found = [e for e in extract_entities(sentence, ["PROBLEM"]) if finding in e.text or e.text in finding]
    assert found, f"{finding!r} not found"
    assert all(e.assertion is assertion for e in found)
    assert any(e.text == finding for e in cued_findings(sentence))


@pytest.mark.parametrize(
    "sentence",
    [
        "No change since the prior film.",  # pseudo-trigger
        "Ambulating without difficulty today.",  # pseudo-trigger
        "No. 3 on the list.",
        "There is no.",
        "She denies that it hurts.",  # a function word ends the phrase before it starts
    ],
)
def test_no_finding_where_the_trigger_opens_none(sentence: str) -> None:
    assert cued_findings(sentence) == []


def test_the_phrase_ends_at_a_function_word_punctuation_or_the_word_limit() -> None:
    (cut,) = cued_findings("No swelling of the ankle.")
    assert cut.text == "swelling"
    (cut_by_clause,) = cued_findings("No nausea, the wound looks clean and dry.")
    assert cut_by_clause.text == "nausea"
    (long,) = cued_findings("No " + " ".join(["large"] * 10) + " mass.")
    assert len(long.text.split()) == MAX_WORDS


def test_a_cued_phrase_never_displaces_what_another_recognizer_found() -> None:
    sentence = "Denies taking metoprolol today."
    entities = extract_entities(sentence, ["PROBLEM", "MEDICATION"])
    assert [e.text for e in entities if e.type == "MEDICATION"] == ["metoprolol"]
    assert not any(e.type == "PROBLEM" and "metoprolol" in e.text for e in entities)


@pytest.mark.parametrize(
    ("sentence", "items"),
    [
        ("No clubbing, cyanosis, or edema.", ["clubbing", "cyanosis", "edema"]),
        ("Denies headache or blurred vision", ["headache", "blurred vision"]),
        ("Negative for fever, chills and other systemic symptoms.", ["fever", "chills", "systemic symptoms"]),
        ("No hives nor wheezing; tolerating diet.", ["hives", "wheezing"]),
    ],
)
def test_every_item_of_a_list_the_trigger_opens_is_a_finding(sentence: str, items: list[str]) -> None:
    assert [e.text for e in cued_findings(sentence)] == items
    absent = {e.text for e in extract_entities(sentence, ["PROBLEM"]) if e.assertion is Assertion.ABSENT}
    assert all(any(item in text for text in absent) for item in items)


@pytest.mark.parametrize(
    "sentence",
    [
        "No bleeding, the patient remained comfortable overnight.",  # an article opens a clause
        "No pain, tolerating a regular diet well since this morning.",  # longer than a list item
    ],
)
def test_a_list_ends_where_a_clause_begins(sentence: str) -> None:
    assert len(cued_findings(sentence)) == 1
