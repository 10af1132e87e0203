"""The deterministic recognizers: each identifier type, and look-alikes that must survive."""

from __future__ import annotations

import itertools

import pytest

from medbatch.notes.tasks.deid.recognizers import find_phi
from medbatch.spec import PhiType


def found(text: str) -> list[tuple[str, str]]:
    return [(span.type, text[span.start : span.end]) for span in find_phi(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Admitted 03/14/2024 for chest pain.", ("DATE", "03/14/2024")),
        ("Admitted 3-4-24 for chest pain.", ("DATE", "3-4-24")),
        ("Admitted 2024-03-14 overnight.", ("DATE", "2024-03-14")),
        ("Admitted March 14, 2024 overnight.", ("DATE", "March 14, 2024")),
        ("Admitted 14 Mar 2024 overnight.", ("DATE", "14 Mar 2024")),
        ("Last colonoscopy in Sept 2019 was normal.", ("DATE", "Sept 2019")),
        ("Follow up on 4/2 in clinic.", ("DATE", "4/2")),
        ("Call (617) 555-0142 after discharge.", ("PHONE", "(617) 555-0142")),
        ("Phone: 617.555.0199.", ("PHONE", "617.555.0199")),
        ("Fax: 617-555-0100 to the clinic.", ("FAX", "617-555-0100")),
        ("Write to j.doe@example.com today.", ("EMAIL", "j.doe@example.com")),
        ("SSN 123-45-6789 on file.", ("SSN", "123-45-6789")),
        ("MRN: 00123456 confirmed.", ("MRN", "00123456")),
        ("Medical record number AB-778812 confirmed.", ("MRN", "AB-778812")),
        ("Account #: A-99812 billed.", ("ACCOUNT", "A-99812")),
        ("Member ID: XJH449182 active.", ("HEALTH_PLAN", "XJH449182")),
        ("DEA: BX1234563 verified.", ("LICENSE", "BX1234563")),
        ("VIN: 1HGCM82633A004352 noted.", ("VEHICLE", "1HGCM82633A004352")),
        ("Pacemaker serial number: PX-20931 checked.", ("DEVICE", "PX-20931")),
        ("Portal at https://portal.example.org/p/123.", ("URL", "https://portal.example.org/p/123")),
        ("Logged in from 10.20.30.40 yesterday.", ("IP", "10.20.30.40")),
        ("Logged in from 2001:db8::1 yesterday.", ("IP", "2001:db8::1")),
        ("Lives at 42 Elm Street, Apt 3B with family.", ("ADDRESS", "42 Elm Street, Apt 3B")),
        ("Mail to P.O. Box 1234 please.", ("ADDRESS", "P.O. Box 1234")),
        ("Moved to Springfield, IL 62704 last year.", ("LOCATION", "Springfield")),
        ("Moved to Springfield, IL 62704 last year.", ("ZIP", "62704")),
        ("A 94-year-old woman with dyspnea.", ("AGE", "94")),
        ("Age: 102, lives alone.", ("AGE", "102")),
        ("Seen by Dr. Emily Carter today.", ("NAME", "Emily Carter")),
        ("Mrs. O'Neil-Barnes reports pain.", ("NAME", "O'Neil-Barnes")),
        ("Patient: McAllister, Jane presented.", ("NAME", "McAllister, Jane")),
        ("Electronically signed by: Robert Chen, MD", ("NAME", "Robert Chen")),
        ("Her daughter Maria Lopez called.", ("NAME", "Maria Lopez")),
        ("Walter Brennan is a 71-year-old man.", ("NAME", "Walter Brennan")),
        ("Follow up with Dr. P. Moreau in 2 weeks.", ("NAME", "P. Moreau")),
        ("A Suffolk County resident since birth.", ("LOCATION", "Suffolk")),
        ("Lives in Suffolk County with her son.", ("LOCATION", "Suffolk County")),
        ("Moved here from Cedar Falls in 2019.", ("LOCATION", "Cedar Falls")),
        ("Grew up in Riverton, then the army.", ("LOCATION", "Riverton")),
        ("Presented to Mercy General Hospital overnight.", ("LOCATION", "Mercy General Hospital")),
        ("Transferred from St. Brigid's Medical Center today.", ("LOCATION", "St. Brigid's Medical Center")),
        ("Seen at Cedar Valley Clinic last year.", ("LOCATION", "Cedar Valley Clinic")),
        ("Symptoms started since March 3 and worsened.", ("DATE", "March 3")),
        ("Seen 3/14 by cardiology.", ("DATE", "3/14")),
        # local numbers without an area code, after a word of calling or alone in parentheses
        ("Her son can be reached at 555-0163 after six.", ("PHONE", "555-0163")),
        ("Refills via Dunlin Drug (555-0119).", ("PHONE", "555-0119")),
        # organisations: a proper name, what they serve, and the head word
        ("Records sent to Tarrow Creek Sleep Center today.", ("LOCATION", "Tarrow Creek Sleep Center")),
        ("Letter from Vesper Neurology Associates received.", ("LOCATION", "Vesper Neurology Associates")),
        ("Please call Northfold Family Practice.", ("LOCATION", "Northfold Family Practice")),
        ("REFERRED BY QUILLAN ORTHOPEDIC INSTITUTE", ("LOCATION", "QUILLAN ORTHOPEDIC INSTITUTE")),
        # the period of an initial ends no sentence: the surname after it is inside one
        ("Handoff to night RN Q. Dallowmere at 1900.", ("NAME", "Q. Dallowmere")),
        # a town named by a gazetteer's generic word
        ("She moved here from Ambersey Falls in May.", ("LOCATION", "Ambersey Falls")),
    ],
)
def test_identifier_is_found(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "BP 120/80, HR 72, RR 16, SpO2 98% on room air.",
        "Na 138, K 4.2, Cl 101, HCO3 24, BUN 18, Cr 1.1, glucose 142.",
        "HbA1c 7.2%, LDL 96 mg/dL, INR 2.3, troponin 0.04 ng/mL.",
        "Metoprolol 25 mg PO BID, carbidopa-levodopa 25/100 mg TID, 1/2 tab nightly.",
        "History of Parkinson disease and Alzheimer disease; Hodgkin lymphoma in remission.",
        "A 67-year-old man; 89 years old sister; age 45.",
        "Temp 99.1 F, weight 82 kg, EF 35-40%, 3 of 4 sets negative.",
        "Diagnosed in 2019; surgery planned next spring.",
        "Protocol version 4.1.2 and EF 0.35.",
        "Dr. recommended rest.",
        "Time 10:30:45, room 4B.",
        "Apgar 8/9 at birth; GCS 14 on arrival; NYHA class II; CHA2DS2-VASc score of 4.",
        "Foley catheter placed; Swan-Ganz catheter removed; Epley maneuver and Whipple procedure done.",
        "Positive Babinski sign; Graves disease; Bell palsy; Crohn disease; Guillain-Barre syndrome.",
        "Follow up in the Cardiology Clinic; seen in the Emergency Department.",
        "Lives in assisted living with her husband.",
        # fractions, grades, scales and settings written like month/day
        "Hung 1/2 NS at 100 cc/hr; 2/6 systolic murmur; strength 5/5 throughout.",
        "Pain 4/10 at rest; PS 10/5 on CPAP.",
        # eponyms and devices that are also names, in capitals too
        "FOLEY DRAINING CLEAR YELLOW URINE; Parkinson disease; Hodgkin lymphoma; trisomy 21 (Down syndrome).",
        "Bair hugger applied; Dobhoff tube advanced.",
        # years alone are not PHI under Safe Harbor
        "S/P MI 1992 and CABG in 2004.",
        # rating instruments named after a person; what a center serves is no name
        "Epworth Sleepiness Scale 14; Glasgow Coma Scale 15; Amsler grid daily.",
        "Follow up at the Heart Center; referred to the Wound Care Center.",
        "Platelets 250-1000 over the week; dose range (2.5-10 mg).",
        # a saint's name is a given name: ST of an ECG in a note in capitals is none
        "ECG: ST ELEVATION IN II, III; ST DEPRESSION V5-V6.",
        "History of Falls: none this year.",
    ],
)
def test_lookalike_survives(text: str) -> None:
    assert found(text) == []


def test_name_mentions_are_propagated_within_a_note() -> None:
    text = "Patient: John Smith\nSmith reports improvement. John walked today."
    names = [value for kind, value in found(text) if kind == "NAME"]
    assert names == ["John Smith", "Smith", "John"]


def test_name_capture_stops_at_department_words() -> None:
    assert ("NAME", "Carter") in found("Discussed with Dr. Carter Cardiology today.")
    assert all(
        value != "Carter Cardiology" for _, value in found("Discussed with Dr. Carter Cardiology today.")
    )


def test_a_clinician_named_like_a_device_leaves_the_device() -> None:
    text = "Spoke with Dr. Foley about the plan. Foley catheter to gravity; d/c Foley tomorrow."
    assert found(text) == [("NAME", "Foley")]
    assert text.index("Foley") == find_phi(text)[0].start


def test_a_place_found_once_is_removed_everywhere_in_the_note() -> None:
    text = "Followed by the CHF team at KW. Transferred to KW for cath; awkward gait since."
    assert found(text) == [("LOCATION", "KW"), ("LOCATION", "KW")]


def test_recall_first_takes_unknown_capitalised_words() -> None:
    text = "Family meeting held with Oyelaranqa today; plan discussed."
    assert find_phi(text, recall_first=False) == []  # no rule has evidence
    assert [(s.type, text[s.start : s.end]) for s in find_phi(text)] == [
        ("NAME", "Oyelaranqa")
    ]  # the default


def test_type_filter() -> None:
    text = "Dr. Emily Carter saw the patient on 03/14/2024."
    assert {s.type for s in find_phi(text, types=frozenset({PhiType.DATE}))} == {"DATE"}


def test_spans_are_sorted_and_disjoint() -> None:
    text = "Call Dr. Ann Lee at (617) 555-0142 or ann.lee@example.org on 03/14/2024, MRN: 5512345."
    spans = find_phi(text)
    assert spans == sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
