"""CPU NER, with assertion and attributes, stays linear in the note's length whatever the text.

Bounds are generous (only super-linear growth breaks them); speed itself is bench/ner_eval.py's figure.
"""

from __future__ import annotations

import pytest

from medbatch.notes.tasks.ner import extract_entities
from tests.linearity import assert_linear

TYPES = ["PROBLEM", "MEDICATION", "DOSAGE", "PROCEDURE", "TEST", "ANATOMY"]
# Text full of triggers, entities and their attributes, with nothing to end a scope: the shapes that
# would make a per-entity scan of every trigger quadratic.
UNITS = {
    "negations": "no fever no ",
    "triggers": "denies no history of concern for ",
    "entities": "aspirin hypertension ",
    "doses": "metoprolol 25 mg PO BID ",
    "headers": "Plan:\n",
    "digits": "1",
    "punctuation": "-/.",
    "words": "aaaa ",
}


@pytest.mark.parametrize("unit", list(UNITS.values()), ids=list(UNITS))
def test_adversarial_text_is_linear(unit: str) -> None:
    assert_linear(lambda text: extract_entities(text, TYPES), unit, 20_000, 80_000, ceiling_s=20)
