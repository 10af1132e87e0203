"""Synthetic clinical notes with known, fictional PHI: the sample corpus, tests and benchmarks use them.

Every name, number and address here is invented; phone numbers use the fictional 555-01xx range. Each
note records the PHI values it contains, so tests can assert that none survives de-identification.

    python -m devtools.synthetic --count 40 --out manifests/examples/sample-notes
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

FIRST = [
    "Harold",
    "Margaret",
    "Luis",
    "Aisha",
    "Dmitri",
    "Grace",
    "Tomasz",
    "Priya",
    "Walter",
    "Ingrid",
    "Kwame",
    "Rosalind",
    "Elliot",
    "Beatrix",
    "Samuel",
    "Noor",
    "Franklin",
    "Olga",
    "Desmond",
    "Lucia",
]
LAST = [
    "Whitfield",
    "Okonkwo",
    "Brennan",
    "Castellano",
    "Lindqvist",
    "Haverford",
    "Nakamura",
    "Delacroix",
    "Pemberton",
    "Achebe",
    "Vasquez",
    "Thorne",
    "Kowalczyk",
    "Farouk",
    "Ashworth",
    "Rinaldi",
    "Sorensen",
    "McAllister",
    "Oyelaran",
    "Drummond",
]
DOCTORS = ["Evelyn Hartley", "Marcus Oduya", "Sofia Brandt", "Raymond Cho", "Helena Voss", "Jonah Kessler"]
RELATIONS = ["wife", "husband", "daughter", "son", "sister", "brother"]
STREETS = ["Elm Street", "Oak Avenue", "Harbor Road", "Maple Lane", "Chestnut Drive", "Quarry Court"]
CITIES = [
    ("Springfield", "IL", "62704"),
    ("Riverton", "WY", "82501"),
    ("Fairhaven", "MA", "02719"),
    ("Lakewood", "CO", "80226"),
    ("Greenville", "SC", "29601"),
]
PROBLEMS = [
    ("hypertension", "lisinopril 10 mg daily"),
    ("type 2 diabetes", "metformin 500 mg BID"),
    ("atrial fibrillation", "apixaban 5 mg BID"),
    ("congestive heart failure", "furosemide 40 mg daily"),
    ("COPD", "tiotropium 18 mcg daily"),
    ("hyperlipidemia", "atorvastatin 40 mg nightly"),
    ("hypothyroidism", "levothyroxine 75 mcg daily"),
    ("Parkinson disease", "carbidopa-levodopa 25/100 mg TID"),
]
COMPLAINTS = [
    ("chest pain", "troponin", "ECG", "NSTEMI", "cardiac catheterization"),
    ("shortness of breath", "BNP", "chest x-ray", "heart failure", "echocardiogram"),
    ("fever", "blood cultures", "urinalysis", "urinary tract infection", "ceftriaxone"),
    ("cough", "CBC", "chest x-ray", "pneumonia", "azithromycin"),
    ("syncope", "BMP", "EKG", "bradycardia", "pacemaker placement"),
]


@dataclass
class SyntheticNote:
    """A note, its ids, and the PHI strings it contains (by type)."""

    id: str
    patient_id: str
    text: str
    phi: dict[str, list[str]] = field(default_factory=dict)


def _fmt_date(day: date, style: int) -> str:
    return [day.strftime("%m/%d/%Y"), day.isoformat(), day.strftime("%B %-d, %Y"), day.strftime("%-d %b %Y")][
        style % 4
    ]


def synthetic_note(index: int, seed: int = 7) -> SyntheticNote:
    """The ``index``-th note of the synthetic corpus for ``seed`` (deterministic)."""
    rng = random.Random(seed * 1_000_003 + index)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    doctor = rng.choice(DOCTORS)
    relation, relative = rng.choice(RELATIONS), f"{rng.choice(FIRST)} {last}"
    age = rng.choice([34, 47, 58, 63, 71, 79, 84, 91, 96])
    mrn = f"{rng.randrange(10**7, 10**8)}"
    phone = f"({rng.randrange(201, 989)}) 555-01{rng.randrange(10, 99)}"
    email = f"{first.lower()}.{last.lower()}{rng.randrange(10, 99)}@example.net"
    street = f"{rng.randrange(10, 9999)} {rng.choice(STREETS)}"
    city, state, zipcode = rng.choice(CITIES)
    admit = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 600))
    discharge = admit + timedelta(days=rng.randrange(2, 9))
    style = rng.randrange(4)
    admit_text, discharge_text = _fmt_date(admit, style), _fmt_date(discharge, style)
    problem, medication = rng.choice(PROBLEMS)
    complaint, lab, imaging, diagnosis, treatment = rng.choice(COMPLAINTS)
    systolic, diastolic = rng.randrange(100, 165), rng.randrange(60, 95)
    kind = index % 4
    header = f"Patient: {first} {last}    MRN: {mrn}\nAdmission date: {admit_text}\n"
    if kind == 0:
        body = (
            f"DISCHARGE SUMMARY\n{header}Discharge date: {discharge_text}\n\n"
            f"HPI: Mr. {last} is a {age}-year-old with {problem} who presented with {complaint}. "
            f"{lab[0].upper() + lab[1:]} was obtained and {imaging} was performed.\n"
            f"Vitals: BP {systolic}/{diastolic}, HR {rng.randrange(55, 110)}, Na {rng.randrange(132, 146)}, "
            f"K {rng.randrange(35, 52) / 10}.\n"
            f"Hospital course: treated for {diagnosis}; {treatment} was started. Home {medication} continued.\n"
            f"Assessment: {diagnosis}, improving. Plan: follow up with Dr. {doctor.split()[1]} in two weeks.\n"
            f"Contact: {phone}. His {relation} {relative} was present at discharge.\n"
            f"Electronically signed by: {doctor}, MD\n"
        )
    elif kind == 1:
        body = (
            f"PROGRESS NOTE\n{header}\n"
            f"S: {first} {last} reports {complaint} since {admit_text}. Taking {medication}.\n"
            f"O: BP {systolic}/{diastolic}. {lab[0].upper() + lab[1:]} pending. HbA1c {rng.randrange(55, 95) / 10}%.\n"
            f"A: {problem} with {complaint}; consider {diagnosis}.\n"
            f"P: order {imaging}; continue {medication}. Patient lives at {street}, {city}, {state} {zipcode}.\n"
            f"Seen by Dr. {doctor}.\n"
        )
    elif kind == 2:
        body = (
            f"CARDIOLOGY CONSULT\n{header}Referring physician: Dr. {doctor}\n\n"
            f"Reason for consult: {complaint} in a {age} yo patient with {problem}.\n"
            f"History: {first} {last} was well until {admit_text}. Email on file: {email}.\n"
            f"Exam: heart regular, lungs clear, no edema. BP {systolic}/{diastolic}.\n"
            f"Impression: {diagnosis}. Recommend {treatment} and repeat {lab}.\n"
            f"Call {phone} with questions.\n"
        )
    else:
        body = (
            f"EMERGENCY DEPARTMENT NOTE\n{header}\n"
            f"Chief complaint: {complaint}.\n"
            f"{first} {last} is a {age}-year-old brought in by {'her' if rng.random() < 0.5 else 'his'} "
            f"{relation} {relative}. PMH: {problem} on {medication}.\n"
            f"Workup: {lab}, {imaging}. BP {systolic}/{diastolic}.\n"
            f"Disposition: admitted for {diagnosis}; {treatment} planned. Discharged {discharge_text}.\n"
            f"Home address: {street}, {city}, {state} {zipcode}. Phone {phone}.\n"
            f"Signed by {doctor}, MD\n"
        )
    phi = {
        "NAME": [first, last, relative, doctor],
        "MRN": [mrn],
        "DATE": [admit_text] + ([discharge_text] if discharge_text in body else []),
    }
    for kind_name, value in (
        ("PHONE", phone),
        ("EMAIL", email),
        ("ADDRESS", street),
        ("ZIP", zipcode),
        ("LOCATION", city),
    ):
        if value in body:
            phi[kind_name] = [value]
    if age > 89 and kind != 1:  # progress notes do not state the age
        phi["AGE"] = [str(age)]
    return SyntheticNote(id=f"note-{index:05d}", patient_id=f"patient-{index // 2:05d}", text=body, phi=phi)


def main() -> None:
    """Write the sample corpus: one .txt per note, or a JSONL file with id/patient_id/text."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="a folder (.txt files) or a .jsonl file")
    args = parser.parse_args()
    notes = [synthetic_note(i, args.seed) for i in range(args.count)]
    if args.out.suffix == ".jsonl":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as handle:
            for note in notes:
                handle.write(
                    json.dumps({"id": note.id, "patient_id": note.patient_id, "text": note.text}) + "\n"
                )
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        for note in notes:
            (args.out / f"{note.id}.txt").write_text(note.text, encoding="utf-8")


if __name__ == "__main__":
    main()
