"""Replacement strategies, keyed surrogates and per-patient date shifting."""

from __future__ import annotations

import re
from datetime import date

import pytest

from devtools.synthetic import synthetic_note
from medbatch.notes.tasks.deid.dates import shift_date_text
from medbatch.notes.tasks.deid.key import SurrogateKeyError
from medbatch.notes.tasks.deid.recognizers import find_phi
from medbatch.notes.tasks.deid.replace import deidentify_text
from medbatch.notes.tasks.deid.surrogates import Surrogates
from medbatch.spec import DeidStrategy, PhiType

KEY = b"k" * 32
NOTE = (
    "Patient: John Smith  MRN: 00123456\nAdmitted 03/14/2024, discharged 03/20/2024.\n"
    "Smith was seen by Dr. Ann Lee. Call (617) 555-0142. BP 120/80."
)


def test_mask_names_the_type() -> None:
    out = deidentify_text(NOTE, find_phi(NOTE), DeidStrategy.MASK)
    assert out.startswith("Patient: [NAME]  MRN: [MRN]\nAdmitted [DATE], discharged [DATE].")
    assert "BP 120/80" in out


def test_redact_hides_the_type() -> None:
    out = deidentify_text(NOTE, find_phi(NOTE), DeidStrategy.REDACT)
    assert "[NAME]" not in out
    assert out.count("[REDACTED]") == len(find_phi(NOTE))


def test_surrogate_requires_a_key() -> None:
    with pytest.raises(ValueError, match="secret key"):
        deidentify_text(NOTE, find_phi(NOTE), DeidStrategy.SURROGATE)
    with pytest.raises(SurrogateKeyError, match="at least 16 characters in MEDBATCH_SURROGATE_KEY"):
        Surrogates(b"short")


def test_surrogates_replace_every_value_and_keep_the_rest() -> None:
    out = deidentify_text(NOTE, find_phi(NOTE), DeidStrategy.SURROGATE, Surrogates(KEY), patient="p1")
    for original in ("John", "Smith", "00123456", "03/14/2024", "Ann Lee", "555-0142"):
        assert original not in out
    assert "BP 120/80" in out
    assert re.search(r"\(\d{3}\) 555-01\d{2}", out), "phones keep their shape in the fictional 555-01XX range"


def test_surrogates_are_consistent_within_a_key_and_differ_across_keys() -> None:
    first, again, other = Surrogates(KEY), Surrogates(KEY), Surrogates(b"x" * 32)
    assert first.name("John Smith") == again.name("John Smith")
    assert first.name("John Smith").split()[1] == first.name("Smith"), "surname maps the same alone"
    assert first.replace("00123456", PhiType.MRN, "p") == again.replace("00123456", PhiType.MRN, "p")
    assert first.name("John Smith") != other.name("John Smith") or first.replace(
        "00123456", PhiType.MRN, "p"
    ) != other.replace("00123456", PhiType.MRN, "p")


def test_date_shift_keeps_intervals_for_one_patient() -> None:
    surrogates = Surrogates(KEY)
    admit = surrogates.date("03/14/2024", "patient-1")
    discharge = surrogates.date("03/20/2024", "patient-1")
    assert admit is not None
    assert discharge is not None
    a, d = (date(int(s[6:]), int(s[:2]), int(s[3:5])) for s in (admit, discharge))
    assert (d - a).days == 6
    assert admit != "03/14/2024"
    offsets = {surrogates.date_offset(f"patient-{i}") for i in range(20)}
    assert len(offsets) > 1
    assert 0 not in offsets


@pytest.mark.parametrize(
    ("text", "days", "expected"),
    [
        ("03/14/2024", 1, "03/15/2024"),
        ("3/14/24", -14, "2/29/24"),
        ("2024-12-31", 1, "2025-01-01"),
        ("March 3rd, 2024", 30, "April 2nd, 2024"),
        ("5 Jan 2023", 31, "5 Feb 2023"),
        ("Sept 2019", 31, "Oct 2019"),
        ("4/2", 1, "4/3"),
        ("14/03/2024", 1, "15/03/2024"),
        # Month-year dates move by whole months (at least one), so a small offset cannot leave them as they were.
        ("March 2024", 5, "April 2024"),
        ("March 2024", -3, "February 2024"),
        ("Dec 2023", 70, "Feb 2024"),
        # Every layout the recognizers find is shifted in its own layout (made-up dates).
        ("2024/01/09", 3, "2024/01/12"),
        ("2024-1-9", -10, "2023-12-30"),
        ("09-Jan-2024", 3, "12-Jan-2024"),
        ("09-JAN-2024", -10, "30-DEC-2023"),
        ("Jan-09-2024", 3, "Jan-12-2024"),
        ("2024-Jan-09", 3, "2024-Jan-12"),
        ("9/jan/24", 3, "12/jan/24"),
        ("Jan-2023", 31, "Feb-2023"),
        ("11/2019", 31, "12/2019"),
        ("1/3-1/9", 3, "1/6-1/12"),
        ("1/3 - 1/9", -10, "12/24 - 12/30"),
        # A weekday moves by the offset modulo 7, in its own spelling and case.
        ("Monday", 3, "Thursday"),
        ("MONDAY", -10, "FRIDAY"),
        ("mondays", 1, "tuesdays"),
        ("Mon", 3, "Thu"),
        ("Tues", 2, "Thurs"),
    ],
)
def test_shift_date_text_keeps_the_format(text: str, days: int, expected: str) -> None:
    assert shift_date_text(text, days) == expected


def test_invalid_calendar_date_falls_back_to_mask() -> None:
    assert shift_date_text("02/30/2024", 3) is None
    assert Surrogates(KEY).replace("02/30/2024", PhiType.DATE, "p") == "[DATE]"


@pytest.mark.parametrize("strategy", list(DeidStrategy))
def test_no_synthetic_phi_survives(strategy: DeidStrategy) -> None:
    surrogates = Surrogates(KEY)
    for index in range(200):
        note = synthetic_note(index)
        out = deidentify_text(note.text, find_phi(note.text), strategy, surrogates, note.patient_id)
        for phi_type, values in note.phi.items():
            if strategy is DeidStrategy.SURROGATE and phi_type == "DATE":
                continue  # a shifted date may equal another date of the note; shifting is tested above
            for value in values:
                for token in value.split() if phi_type == "NAME" else [value]:
                    assert not re.search(rf"\b{re.escape(token)}\b", out), (index, phi_type)


def test_a_surrogate_is_never_the_original() -> None:
    surrogates = Surrogates(KEY)
    for city in ("Springfield", "Riverton", "Fairview", "Maplewood", "Brookhaven", "Lakeside", "Ashland"):
        assert surrogates.city(city).lower() != city.lower()
    for name in ("Smith", "Jones", "Lee", "Garcia", "Nguyen", "Brown", "Miller", "Davis"):
        assert surrogates.name(name).lower() != name.lower()


def test_place_surrogates_keep_the_kind_of_place() -> None:
    surrogates = Surrogates(KEY)
    hospital = surrogates.replace("Mercy General Hospital", PhiType.LOCATION, "p")
    assert hospital.endswith(" Hospital")
    assert "Mercy" not in hospital
    assert surrogates.replace("Suffolk County", PhiType.LOCATION, "p").endswith(" County")
    assert surrogates.replace("St. Brigid's Medical Center", PhiType.LOCATION, "p").endswith(
        " Medical Center"
    )


def test_surrogates_are_consistent_across_a_patients_notes_and_keyed() -> None:
    """The same patient in two notes (two shards, two runs): same surrogate name, same date offset."""
    first_note = "Patient: Rafael Okafor\nAdmitted 03/01/2024."
    second_note = "Mr. Rafael Okafor returned on 03/11/2024; Okafor is stable."
    surrogates = Surrogates(KEY)
    one = deidentify_text(first_note, find_phi(first_note), DeidStrategy.SURROGATE, surrogates, "p-7")
    two = deidentify_text(second_note, find_phi(second_note), DeidStrategy.SURROGATE, surrogates, "p-7")
    fake_name = one.split("\n")[0].removeprefix("Patient: ")
    assert fake_name in two
    assert "Okafor" not in one + two
    admitted = re.search(r"\d{2}/\d{2}/\d{4}", one)
    returned = re.search(r"\d{2}/\d{2}/\d{4}", two)
    assert admitted is not None
    assert returned is not None
    a, r = (date(int(m[0][6:]), int(m[0][:2]), int(m[0][3:5])) for m in (admitted, returned))
    assert (r - a).days == 10
    other_key = deidentify_text(
        first_note, find_phi(first_note), DeidStrategy.SURROGATE, Surrogates(b"z" * 32), "p-7"
    )
    assert other_key != one


def test_a_weekday_names_the_weekday_of_its_shifted_date() -> None:
    surrogates = Surrogates(KEY)
    shifted = date.fromisoformat(surrogates.replace("2024-01-08", PhiType.DATE, "p"))  # a Monday
    weekday = surrogates.replace("Monday", PhiType.DATE, "p")
    assert weekday == shifted.strftime("%A")
    assert surrogates.replace("Mon", PhiType.DATE, "p") == shifted.strftime("%a")


def test_a_date_without_a_year_lands_on_the_day_of_its_dated_twin() -> None:
    """A year-less date is read in the year of the note's other dates, so across Feb 28 of a common year
    it moves like its twin that has the year."""
    assert shift_date_text("2/28", 1, year=2023) == "3/01"  # a two-digit day stays two digits
    assert shift_date_text("2/28/2023", 1) == "3/01/2023"
    assert shift_date_text("Feb 28", 1, year=2023) == "Mar 01"
    assert shift_date_text("2/28", 1) == "2/29"  # no year known: a leap year, as before
    assert shift_date_text("2/29", 1, year=2023) == "3/01"  # Feb 29 is read in a leap year
    surrogates = Surrogates(KEY)
    note = "Admitted 02/20/2023. Seen again 2/20 for follow-up."
    spans = [s for s in find_phi(note) if s.type == "DATE"]
    out = deidentify_text(note, spans, DeidStrategy.SURROGATE, surrogates, patient="p")
    full = re.search(r"(\d{2})/(\d{2})/\d{4}", out)
    bare = re.search(r"again (\d{1,2})/(\d{1,2}) for", out)
    assert full is not None
    assert bare is not None
    assert (int(full[1]), int(full[2])) == (int(bare[1]), int(bare[2]))
