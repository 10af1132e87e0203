"""Synthetic clinical notes with planted PHI and planted clinical look-alikes, for measuring de-identification.

Every note is assembled piece by piece, so the offsets of each planted identifier (and of each look-alike
that must survive) are known exactly. PHI of every Safe Harbor category that occurs in text is planted in
varied formats and positions: headers, narrative, lists, signatures. Look-alikes are vitals, lab values,
doses, scores and eponyms. All values are invented (fictional 555 phone numbers, SSNs never issued to a
person are not guaranteed: these are random digits, so never use this corpus as real data).

The corpus is reproducible from its seed.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

from medbatch.notes.tasks.deid.locales.en_us import MONTHS_FULL

# Planted category -> report group. Recall goals differ by group (see docs/deidentification.md).
CATEGORIES: dict[str, str] = {
    "PATIENT_NAME": "names_addresses",
    "RELATIVE_NAME": "names_addresses",
    "CLINICIAN_NAME": "names_addresses",
    "STREET": "names_addresses",
    "CITY": "names_addresses",
    "COUNTY": "names_addresses",
    "HOSPITAL": "names_addresses",
    "ZIP": "structured",
    "DATE": "structured",
    "PARTIAL_DATE": "structured",
    "AGE_OVER_89": "structured",
    "PHONE": "structured",
    "FAX": "structured",
    "EMAIL": "structured",
    "SSN": "structured",
    "MRN": "structured",
    "HEALTH_PLAN": "structured",
    "ACCOUNT": "structured",
    "LICENSE": "structured",
    "VEHICLE": "structured",
    "DEVICE": "structured",
    "URL": "structured",
    "IP": "structured",
    "OTHER_ID": "structured",
    # A first name with no cue at all ("Family meeting with Omar"): beyond rules, the model's job.
    "UNCUED_NAME": "uncued",
}

FIRST = [
    "James",
    "Maria",
    "Robert",
    "Aisha",
    "Wei",
    "Olivia",
    "Mateo",
    "Priya",
    "Dmitri",
    "Fatima",
    "Liam",
    "Sofia",
    "Kwame",
    "Hannah",
    "Jose",
    "Mei",
    "Ethan",
    "Amara",
    "Lucas",
    "Ingrid",
    "Rafael",
    "Chloe",
    "Tomasz",
    "Noor",
    "Declan",
    "Yuki",
    "Marcus",
    "Elena",
    "Santiago",
    "Abigail",
    "Omar",
    "Lucia",
    "Henrik",
    "Zainab",
    "Caleb",
    "Rosa",
    "Arjun",
    "Naomi",
    "Felix",
    "Beatriz",
    "Desmond",
    "Leilani",
    "Anders",
    "Imani",
    "Theo",
    "Valentina",
    "Kenji",
    "Margot",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Hernandez",
    "Nakamura",
    "Kowalski",
    "Brennan",
    "Abernathy",
    "Castellanos",
    "Fitzgerald",
    "Oyelaran",
    "Whitfield",
    "Marchetti",
    "Dubois",
    "Haraldsen",
    "Thornton",
    "Vasquez",
    "Achterberg",
    "Delacroix",
    "Nguyen",
    "O'Sullivan",
    "Smith-Jones",
    "MacAllister",
    "Petrosyan",
    "Gallagher",
    "Rosenthal",
    "Ikeda",
    "Balogun",
    "Moreau",
    "Kaczmarek",
    "Ferreira",
    "Albright",
    "Halvorsen",
    "Quinlan",
    "Mbeki",
    "Sorensen",
    "Valdivia",
    "Pemberton",
    "Oduya",
    "Lachance",
    "Szabo",
    "Wexler",
    "Ramanathan",
]
STREETS = [
    "Maple",
    "Oak",
    "Washington",
    "Lakeview",
    "Highland",
    "Sycamore",
    "Chestnut",
    "Riverside",
    "Franklin",
    "Juniper",
    "Harbor",
]
STREET_SUFFIX = ["Street", "St", "Avenue", "Ave", "Road", "Rd", "Lane", "Drive", "Court", "Boulevard", "Way"]
CITIES = [
    "Springfield",
    "Riverton",
    "Fairview",
    "Maplewood",
    "Brookhaven",
    "Lakeside",
    "Cedar Falls",
    "Port Jervis",
    "Greenville",
    "Millbrook",
    "Ashland",
    "West Haven",
    "Glen Ellyn",
    "Oak Ridge",
    "Bellmont",
]
STATES = ["MA", "NY", "CA", "TX", "OH", "IL", "PA", "WA", "GA", "MN"]
COUNTIES = [
    "Jefferson",
    "Washington",
    "Franklin",
    "Orange",
    "Hamilton",
    "Marion",
    "Clark",
    "Monroe",
    "Essex",
    "Suffolk",
]
HOSPITALS = [
    "Mercy General Hospital",
    "St. Brigid's Medical Center",
    "Riverside Community Hospital",
    "Lakeview Regional Medical Center",
    "Brookhaven Memorial Hospital",
    "Northshore Children's Hospital",
    "Fairview Health Center",
    "Good Samaritan Hospital",
    "Cedar Valley Clinic",
    "Bellmont University Hospital",
]
MONTHS = MONTHS_FULL

# Clinical text that looks like PHI to a careless recognizer and must survive, by where it fits in a note.
LOOKALIKES: dict[str, tuple[str, ...]] = {
    "condition": (
        "Parkinson disease",
        "Hodgkin lymphoma",
        "Crohn disease",
        "Alzheimer dementia",
        "Bell palsy",
        "Graves disease",
        "Cushing syndrome",
        "Down syndrome",
        "Raynaud phenomenon",
        "Guillain-Barre syndrome",
    ),
    "finding": (
        "a positive Babinski sign",
        "GCS 14",
        "NYHA class II symptoms",
        "EF 55%",
        "a CHA2DS2-VASc score of 4",
        "Apgar 8/9 at birth",
        "a Glasgow Coma Scale of 15",
        "Murphy sign",
    ),
    "vital": (
        "BP 142/88",
        "blood pressure 118/76",
        "HR 88",
        "RR 16",
        "T 98.6 F",
        "SpO2 97% on room air",
        "pulse 104",
    ),
    "lab": ("Na 138", "K 4.2", "Cr 1.1", "HbA1c 7.2%", "WBC 11.2", "INR 2.3", "troponin 0.04", "Hgb 9.8"),
    "medication": (
        "metoprolol 25 mg twice daily",
        "carbidopa-levodopa 25/100 mg three times daily",
        "1/2 tab of lorazepam at bedtime",
        "insulin glargine 20 units nightly",
        "aspirin 81 mg daily",
    ),
    "procedure": (
        "Foley catheter placement",
        "Epley maneuver",
        "Whipple procedure",
        "Swan-Ganz catheter placement",
        "Nissen fundoplication",
    ),
    "time": ("for 3 weeks", "since 2019", "2 days ago", "over the past 6 months"),
}


@dataclass(frozen=True)
class Planted:
    """A planted span: PHI (category from CATEGORIES) or a look-alike (category ``LOOKALIKE``)."""

    start: int
    end: int
    category: str
    value: str


@dataclass(frozen=True)
class EvalNote:
    """A synthetic note and the exact locations of what it hides and what must survive."""

    id: str
    patient_id: str
    text: str
    phi: tuple[Planted, ...]
    lookalikes: tuple[Planted, ...]


@dataclass
class _Builder:
    rng: random.Random
    parts: list[str] = field(default_factory=list)
    phi: list[Planted] = field(default_factory=list)
    keep: list[Planted] = field(default_factory=list)
    length: int = 0

    def text(self, value: str) -> _Builder:
        self.parts.append(value)
        self.length += len(value)
        return self

    def plant(self, category: str, value: str) -> _Builder:
        target = self.keep if category == "LOOKALIKE" else self.phi
        target.append(Planted(self.length, self.length + len(value), category, value))
        return self.text(value)

    def look(self, kind: str) -> _Builder:
        """Plant a look-alike of ``kind`` (a LOOKALIKES key)."""
        return self.plant("LOOKALIKE", self.rng.choice(LOOKALIKES[kind]))

    def build(self, note_id: str, patient_id: str) -> EvalNote:
        return EvalNote(note_id, patient_id, "".join(self.parts), tuple(self.phi), tuple(self.keep))


class _Values:
    """Random identifier values in realistic formats."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def letters(self, n: int) -> str:
        return "".join(self.rng.choice(string.ascii_uppercase) for _ in range(n))

    def date(self, year_from: int = 2015, year_to: int = 2025) -> str:
        y, m, d = self.rng.randint(year_from, year_to), self.rng.randint(1, 12), self.rng.randint(1, 28)
        return self.rng.choice(
            [
                f"{m:02d}/{d:02d}/{y}",
                f"{m}/{d}/{y % 100:02d}",
                f"{y}-{m:02d}-{d:02d}",
                f"{MONTHS[m - 1]} {d}, {y}",
                f"{d} {MONTHS[m - 1][:3]} {y}",
                f"{MONTHS[m - 1][:3]}. {d}, {y}",
                f"{m}-{d}-{y}",
            ]
        )

    def partial_date(self) -> tuple[str, str]:
        """(the words before it, the partial date)."""
        m, d = self.rng.randint(1, 12), self.rng.randint(1, 28)
        return self.rng.choice(
            [
                ("on ", f"{m}/{d}"),
                ("since ", f"{MONTHS[m - 1]} {d}"),
                ("on ", f"{MONTHS[m - 1]} {d}"),
                ("in ", f"{MONTHS[m - 1]} {self.rng.randint(2015, 2025)}"),
                ("seen ", f"{m}/{d}"),
            ]
        )

    def phone(self) -> str:
        area, last = self.rng.randint(201, 989), self.rng.randint(100, 199)
        return self.rng.choice(
            [
                f"({area}) 555-0{last}",
                f"{area}-555-0{last}",
                f"{area}.555.0{last}",
                f"+1 {area} 555 0{last}",
                f"1-{area}-555-0{last}",
            ]
        )

    def ssn(self) -> str:
        area = self.rng.choice([n for n in range(1, 900) if n != 666])
        digits = f"{area:03d}{self.rng.randint(1, 99):02d}{self.rng.randint(1, 9999):04d}"
        return self.rng.choice([f"{digits[:3]}-{digits[3:5]}-{digits[5:]}", digits])

    def name(self) -> tuple[str, str]:
        return self.rng.choice(FIRST), self.rng.choice(LAST)


class _NoteWriter:
    """One note: the same patient and people throughout, sections in a random order and style."""

    def __init__(self, rng: random.Random, values: _Values) -> None:
        self.rng, self.v, self.b = rng, values, _Builder(rng)
        self.first, self.last = values.name()
        self.relative = values.name()
        self.clinicians = [values.name() for _ in range(3)]
        self.city, self.state = rng.choice(CITIES), rng.choice(STATES)

    def clinician(self, i: int) -> str:
        first, last = self.clinicians[i]
        return self.rng.choice([f"{first} {last}", f"{first[0]}. {last}"])

    def header(self) -> None:
        b, rng, v = self.b, self.rng, self.v
        b.text(rng.choice(["Patient: ", "Patient Name: ", "Name: ", "Pt name: ", "PATIENT: "]))
        middle = rng.choice("ABCDEFGHJKLMNPRSTW")
        name = rng.choice(
            [f"{self.first} {self.last}", f"{self.last}, {self.first}", f"{self.first} {middle}. {self.last}"]
        )
        b.plant("PATIENT_NAME", name.upper() if rng.random() < 0.3 else name)  # EHR headers are often caps
        b.text(rng.choice(["\nMRN: ", "\nMedical record number: ", "\nMR# "]))
        b.plant("MRN", rng.choice([v.digits(7), v.digits(8), f"{v.letters(1)}{v.digits(7)}"]))
        b.text(rng.choice(["\nDOB: ", "\nDate of birth: "])).plant("DATE", v.date(1925, 2005))
        b.text(rng.choice(["\nAdmission date: ", "\nDate of service: ", "\nVisit date: "])).plant(
            "DATE", v.date()
        )
        b.text(rng.choice(["\nAccount #: ", "\nFIN: ", "\nEncounter #: "])).plant("ACCOUNT", v.digits(9))
        b.text(rng.choice(["\nMember ID: ", "\nPolicy #: ", "\nSubscriber ID: "]))
        b.plant("HEALTH_PLAN", f"{v.letters(3)}{v.digits(9)}")
        b.text(rng.choice(["\nSSN: ", "\nSocial security number: "])).plant("SSN", v.ssn())
        b.text("\n")

    def contact(self) -> None:
        b, rng, v = self.b, self.rng, self.v
        b.text(rng.choice(["Address: ", "Home address: "]))
        b.plant("STREET", f"{rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_SUFFIX)}")
        if rng.random() < 0.4:
            b.text(", ").plant("STREET", f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}")
        b.text(", ").plant("CITY", self.city).text(f", {self.state} ").plant("ZIP", v.digits(5))
        b.text(rng.choice(["\nPhone: ", "\nHome phone: ", "\nCell: "])).plant("PHONE", v.phone())
        b.text(rng.choice(["  Fax: ", "\nFax: "])).plant("FAX", v.phone())
        email = f"{self.first.lower()}.{self.last.lower().replace(chr(39), '')}{v.digits(2)}@example-mail.com"
        b.text("\nEmail: ").plant("EMAIL", email).text("\n")

    def narrative(self) -> None:
        b, rng, v = self.b, self.rng, self.v
        b.text(rng.choice(["\nHPI: ", "\nHistory of present illness: ", "\nSUBJECTIVE: "]))
        if rng.random() < 0.5:
            b.text(rng.choice(["Mr. ", "Ms. ", "Mrs. "])).plant("PATIENT_NAME", self.last)
        else:
            b.plant("PATIENT_NAME", f"{self.first} {self.last}")
        b.text(" is a ")
        if rng.random() < 0.3:
            b.plant("AGE_OVER_89", str(rng.randint(90, 104))).text(rng.choice(["-year-old", " yo", " y/o"]))
        else:
            b.text(f"{rng.randint(25, 88)}-year-old")
        b.text(" with ").look("condition").text(" who presented to ")
        b.plant("HOSPITAL", rng.choice(HOSPITALS)).text(" on ").plant("DATE", v.date()).text(
            " with symptoms "
        )
        b.look("time").text(". ")
        before, partial = v.partial_date()
        b.text(f"Symptoms worsened {before}").plant("PARTIAL_DATE", partial).text(". ")
        b.text("Vitals: ").look("vital").text(", ").look("vital").text(". Exam showed ").look("finding").text(
            ". "
        )
        b.text("Labs notable for ").look("lab").text(".\n")

    def social(self) -> None:
        b, rng, v = self.b, self.rng, self.v
        kin = rng.choice(["daughter", "son", "wife", "husband", "sister", "brother"])
        b.text("\nSocial history: Lives in ").plant("COUNTY", rng.choice(COUNTIES)).text(" County")
        b.text(f" with {rng.choice(['his', 'her'])} {kin}")
        b.text(rng.choice([" ", ", "])).plant("RELATIVE_NAME", f"{self.relative[0]} {self.relative[1]}")
        b.text(", who can be reached at ").plant("PHONE", v.phone()).text(".\n")
        # Harder: a place named only by a verb of living or moving, a relative by first name alone later.
        b.text(
            rng.choice(["Moved here from ", "Grew up in ", "Recently relocated from ", "Travels often to "])
        )
        b.plant("CITY", rng.choice([c for c in CITIES if c != self.city])).text(
            f" in {rng.randint(1990, 2024)}. "
        )
        b.plant("RELATIVE_NAME", self.relative[0]).text(" helps with medications. ")
        b.text("Family meeting held with ").plant("UNCUED_NAME", rng.choice(FIRST)).text(" today.\n")
        if rng.random() < 0.5:
            b.text("Plan discussed with Dr. ").plant("CLINICIAN_NAME", self.clinicians[2][1])
            b.text(" from cardiology.\n")

    def plan(self) -> None:
        b, rng = self.b, self.rng
        b.text("\nPlan:\n- Continue ").look("medication").text("\n- Status post ").look("procedure")
        b.text("\n- Follow up with Dr. ").plant("CLINICIAN_NAME", self.clinician(0)).text(" in 2 weeks\n")
        if rng.random() < 0.5:
            b.text("- Recheck ").look("lab").text(" in clinic\n")

    def identifiers(self) -> None:
        b, rng, v = self.b, self.rng, self.v
        b.text("\nDevices and identifiers:\n- Pacemaker serial number: ").plant(
            "DEVICE", f"{v.letters(2)}{v.digits(6)}"
        )
        b.text("\n- Driver's license: ").plant("LICENSE", f"{v.letters(1)}{v.digits(8)}")
        vin = f"1{v.letters(2)}{v.digits(2)}{v.letters(3)}{v.digits(8)}"
        b.text("\n- VIN: ").plant("VEHICLE", vin)
        b.text("\n- Patient portal: ").plant("URL", f"https://portal.example-health.org/p/{v.digits(6)}")
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        b.text("\n- Home monitor IP: ").plant("IP", ip)
        b.text("\n- Study ID: ").plant("OTHER_ID", f"ST-{v.digits(5)}").text("\n")

    def signature(self) -> None:
        b, rng, v = self.b, self.rng, self.v
        style = rng.randrange(3)
        if style == 0:
            b.text("\nElectronically signed by ").plant("CLINICIAN_NAME", self.clinician(1)).text(", MD on ")
        elif style == 1:
            b.text("\nDictated by: Dr. ").plant("CLINICIAN_NAME", self.clinician(1)).text("\nDate: ")
        else:
            b.text("\n").plant("CLINICIAN_NAME", self.clinician(1)).text(", MD\n")
        b.plant("DATE", v.date()).text("\n")

    def write(self, index: int, patient: int) -> EvalNote:
        title = self.rng.choice(["DISCHARGE SUMMARY", "PROGRESS NOTE", "CONSULTATION", "CLINIC VISIT"])
        self.b.text(f"{title}\n")
        self.header()
        middle = [self.contact, self.narrative, self.social, self.plan, self.identifiers]
        self.rng.shuffle(middle)
        for section in middle:
            section()
        self.signature()
        return self.b.build(f"eval-{index:05d}", f"p{patient:04d}")


def iter_notes(count: int, seed: int = 0) -> Iterator[EvalNote]:
    """``count`` notes (about three per patient), reproducible from ``seed``, one at a time."""
    rng = random.Random(seed)
    values = _Values(rng)
    for i in range(count):
        yield _NoteWriter(rng, values).write(i, i // 3)


def generate(count: int, seed: int = 0) -> list[EvalNote]:
    """``count`` notes (about three per patient), reproducible from ``seed``."""
    return list(iter_notes(count, seed))
