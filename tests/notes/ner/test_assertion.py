"""Assertion (ConText) on made-up sentences: each category, scope ends, pseudo-triggers, sections."""

from __future__ import annotations

import pytest

from medbatch.notes.spans import Assertion, Section
from medbatch.notes.tasks.ner import annotate, extract_entities
from medbatch.notes.tasks.ner.assertion import AssertionContext
from medbatch.notes.tasks.ner.sections import SectionMap


def assertion_of(sentence: str, concept: str) -> Assertion:
    start = sentence.index(concept)
    return AssertionContext(sentence).of(start, start + len(concept))


@pytest.mark.parametrize(
    ("sentence", "concept", "expected"),
    [
        ("Patient denies chest pain.", "chest pain", Assertion.ABSENT),
        ("No fever, chills or night sweats.", "night sweats", Assertion.ABSENT),
        ("There is no evidence of pneumothorax.", "pneumothorax", Assertion.ABSENT),
        ("Pulmonary embolism was ruled out.", "Pulmonary embolism", Assertion.ABSENT),
        ("Blood cultures were negative.", "Blood cultures", Assertion.ABSENT),
        ("Rash has resolved.", "Rash", Assertion.ABSENT),
        ("Possible early pneumonia in the right base.", "pneumonia", Assertion.POSSIBLE),
        ("Chest x-ray to rule out pneumothorax.", "pneumothorax", Assertion.POSSIBLE),
        ("Findings are concerning for appendicitis.", "appendicitis", Assertion.POSSIBLE),
        ("Return to the clinic if fever develops.", "fever", Assertion.CONDITIONAL),
        ("Call if chest pain recurs.", "chest pain", Assertion.CONDITIONAL),
        ("She has a history of myocardial infarction.", "myocardial infarction", Assertion.HISTORICAL),
        ("Status post appendectomy.", "appendectomy", Assertion.HISTORICAL),
        ("His mother had breast cancer.", "breast cancer", Assertion.FAMILY),
        ("Colon cancer in his father.", "Colon cancer", Assertion.FAMILY),
        ("Complains of a productive cough.", "cough", Assertion.PRESENT),
        ("Acute kidney injury, improving.", "kidney injury", Assertion.PRESENT),
    ],
)
def test_each_context_category(sentence: str, concept: str, expected: Assertion) -> None:
    assert assertion_of(sentence, concept) is expected


@pytest.mark.parametrize(
    ("sentence", "concept"),
    [
        ("No fever but has chills.", "chills"),  # a termination ends the negation's scope
        ("Denies nausea; reports headache.", "headache"),  # so does a sentence end
        ("No nausea. Vomiting since this morning.", "Vomiting"),
        ("Denies dysuria, however reports flank pain.", "flank pain"),
        ("No change in the pleural effusion.", "pleural effusion"),  # a pseudo-negation
        ("Gram negative rods in the urine.", "rods"),
        ("Not only fever but also a rash.", "fever"),
        # Line breaks lost, layout kept as spaces: a header or a numbered item ends the scope.
        ("DRAINS:  None   FINDINGS:  Small ventral hernia.", "ventral hernia"),
        ("Impression:  1) No free air  2) Gallstones without wall thickening", "Gallstones"),
    ],
)
def test_scope_ends_and_pseudo_triggers_leave_a_finding_present(sentence: str, concept: str) -> None:
    assert assertion_of(sentence, concept) is Assertion.PRESENT


def test_sections_come_from_headers_and_say_whose_and_when() -> None:
    text = (
        "Chief Complaint: shortness of breath\n"
        "PAST MEDICAL HISTORY:\nhypertension\n"
        "Family History: diabetes mellitus\n"
        "HEENT: normal\n"  # an unknown subheading keeps the section it is in
        "ASSESSMENT AND PLAN\nPneumonia, start antibiotics.\n"
    )
    sections = SectionMap(text)
    assert sections.at(text.index("shortness")) is Section.CHIEF_COMPLAINT
    assert sections.at(text.index("hypertension")) is Section.PAST_HISTORY
    assert sections.at(text.index("HEENT")) is Section.FAMILY_HISTORY
    assert sections.at(text.index("Pneumonia")) is Section.ASSESSMENT_AND_PLAN
    assert SectionMap("no headers at all").at(3) is None
    entities = {e.text.lower(): e for e in extract_entities(text, ["PROBLEM"])}
    assert entities["hypertension"].assertion is Assertion.HISTORICAL
    assert entities["diabetes mellitus"].assertion is Assertion.FAMILY
    assert entities["pneumonia"].assertion is Assertion.PRESENT
    assert entities["pneumonia"].section is Section.ASSESSMENT_AND_PLAN


def test_annotate_gives_any_engine_s_spans_the_same_fields() -> None:
    """A model's span (no assertion, no code) gets what the CPU engine's would."""
    from medbatch.notes.spans import Entity

    text = "Denies hypertension. Taking lisinopril 10 mg PO daily."
    spans = [Entity(7, 19, "PROBLEM", "hypertension"), Entity(28, 38, "MEDICATION", "lisinopril")]
    problem, drug = annotate(text, spans)
    assert (problem.assertion, problem.code, problem.code_system) == (Assertion.ABSENT, "I10", "ICD-10-CM")
    assert drug.code_system == "DrugBank"
    assert drug.code
    assert drug.attributes is not None
    assert (drug.attributes.dose, drug.attributes.unit, drug.attributes.route) == ("10", "mg", "PO")
    assert drug.attributes.frequency == "daily"
