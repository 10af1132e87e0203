"""Body sites: the organ-system term list and ICD-10-CM's sites, and how they meet findings. Made up."""

from __future__ import annotations

import pytest

from medbatch.notes.spans import Assertion
from medbatch.notes.tasks.ner import extract_entities
from medbatch.notes.tasks.ner.cued import after_trigger

TYPES = ["PROBLEM", "MEDICATION", "PROCEDURE", "TEST", "ANATOMY"]


@pytest.mark.parametrize(
    ("sentence", "site"),
    [
        ("The mitral valve is mildly thickened.", "mitral valve"),
        ("RIGHT ATRIAL SIZE IS NORMAL.", "RIGHT ATRIAL"),  # the adjective names the chamber
        ("Tenderness over the deltoid ligament.", "deltoid ligament"),  # an ICD-10-CM injury site
        ("Scope advanced to the splenic flexure without difficulty.", "splenic flexure"),
        ("Sclerae anicteric, oropharynx clear.", "oropharynx"),
    ],
)
def test_a_body_site_is_anatomy(sentence: str, site: str) -> None:
    entities = extract_entities(sentence, TYPES)
    assert any(e.type == "ANATOMY" and e.text == site for e in entities), entities


def test_a_site_inside_a_negated_finding_gives_way_to_the_finding() -> None:
    (finding,) = [
        e for e in extract_entities("Neck supple, no neck stiffness.", TYPES) if "stiffness" in e.text
    ]
    assert finding.type == "PROBLEM"
    assert finding.text == "neck stiffness"
    assert finding.assertion is Assertion.ABSENT


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("Denies neck pain", "neck pain"),
        ("no history of asthma", "asthma"),
        ("Cardiac - negative   for palpitations", "palpitations"),  # layout spaces inside a trigger
    ],
)
def test_a_tagged_span_never_starts_with_its_own_trigger(text: str, finding: str) -> None:
    assert text[after_trigger(text, 0, len(text)) :] == finding


def test_a_span_without_a_trigger_keeps_its_start() -> None:
    text = "acute renal failure"
    assert after_trigger(text, 0, len(text)) == 0
    assert after_trigger("no change", 0, 9) == 0  # a pseudo-trigger is not context
