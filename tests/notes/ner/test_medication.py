"""Medication attributes from made-up prescription lines in the layouts notes use."""

from __future__ import annotations

import pytest

from medbatch.notes.spans import MedicationAttributes
from medbatch.notes.tasks.ner.medication import medication_attributes


def attributes_after(line: str, drug: str) -> MedicationAttributes | None:
    end = line.index(drug) + len(drug)
    return medication_attributes(line, end, len(line))


@pytest.mark.parametrize(
    ("line", "drug", "expected"),
    [
        ("metoprolol tartrate 25 mg PO BID", "metoprolol tartrate", ("25", "mg", "PO", "BID", None)),
        ("Lasix 40mg IV q12h x 3 days", "Lasix", ("40", "mg", "IV", "q12h", "x 3 days")),
        (
            "albuterol 2 puffs inhaled q4-6h PRN wheezing",
            "albuterol",
            ("2", "puffs", "inhaled", "q4-6h PRN", None),
        ),
        (
            "acetaminophen 650 mg p.o. every 6 hours as needed for pain",
            "acetaminophen",
            ("650", "mg", "p.o.", "every 6 hours as needed", None),
        ),
        (
            "prednisone 40 mg daily, taper over 2 weeks",
            "prednisone",
            ("40", "mg", None, "daily", "taper over 2 weeks"),
        ),
        ("enoxaparin 1 mg/kg subcut q12h", "enoxaparin", ("1", "mg/kg", "subcut", "q12h", None)),
        ("insulin glargine 10 units SC qhs", "insulin glargine", ("10", "units", "SC", "qhs", None)),
        ("amoxicillin 500 mg TID for 10 days", "amoxicillin", ("500", "mg", None, "TID", "for 10 days")),
        (
            "nitroglycerin 0.4 mg SL q5min PRN chest pain",
            "nitroglycerin",
            ("0.4", "mg", "SL", "q5min PRN", None),
        ),
    ],
)
def test_prescription_lines(line: str, drug: str, expected: tuple[str | None, ...]) -> None:
    found = attributes_after(line, drug)
    assert found is not None
    assert (found.dose, found.unit, found.route, found.frequency, found.duration) == expected


def test_attributes_stop_at_the_next_medication_and_the_line_end() -> None:
    line = "aspirin\nlisinopril 10 mg daily"
    assert medication_attributes(line, len("aspirin"), len(line)) is None
    two = "aspirin, lisinopril 10 mg daily"
    assert medication_attributes(two, len("aspirin"), two.index("lisinopril")) is None
