"""Deterministic recognizers for HIPAA Safe Harbor identifiers.

They run on every note whatever the engine (defense in depth): an LLM may miss a phone number, a regex
will not. Each recognizer is precise rather than greedy; look-alikes such as blood pressure ``120/80``,
lab values, doses and eponymous diseases ("Parkinson disease") must survive, and tests pin that down.

This module holds the patterns (dates, numbers, identifiers after their cue words, addresses) and
``find_phi``, which runs them with the word-level recognizers of names (``names.py``), places
(``places.py``) and dates without a year (``partial_dates.py``). Phone numbers use Google's
``phonenumbers`` matcher on candidates a regex found. Every pattern is linear in the note's length.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass

import phonenumbers

from medbatch.notes.spans import PhiSpan, merge_phi
from medbatch.notes.tasks.deid.lexicons import lexicons
from medbatch.notes.tasks.deid.locales.en_us import EN_US
from medbatch.notes.tasks.deid.names import find_names, note_case
from medbatch.notes.tasks.deid.partial_dates import MONTH_WORDS, find_partial_dates
from medbatch.notes.tasks.deid.places import find_places
from medbatch.notes.tasks.deid.registry import NoteView, Recognizer, Registry, Stage, run_stages
from medbatch.notes.tasks.deid.tokens import words
from medbatch.spec import PhiType

_MONTH = r"(?:" + "|".join([*EN_US.months_full, *EN_US.months_abbr]) + r")\.?"

# A name token: capitalized word, allowing O'Neil and Smith-Jones; a full name is up to three tokens with
# optional middle initials, on one line (names never span a line break in notes).
# Bounded repetitions keep a run such as "Aa-Aa-Aa-..." from being one token per start position.
_TOKEN = r"(?:[A-Z]')?[A-Z][a-z]{1,30}(?:[A-Z][a-z]{1,30})?(?:['\-][A-Z]?[a-z]{1,30}){0,3}"  # noqa: S105 (a regex)
_FULLNAME = rf"(?:[A-Z]\.[ \t]*)?{_TOKEN}(?:[ \t]+(?:[A-Z]\.[ \t]*)?{_TOKEN}){{0,2}}"
_LAST_FIRST = rf"{_TOKEN},[ \t]*{_TOKEN}(?:[ \t]+[A-Z]\.)?"
# Headers of many EHRs write names in capitals: "PATIENT: OKAFOR, RAFAEL J". Only after a label.
_CAPS = r"(?:[A-Z]')?[A-Z]{2,30}(?:['\-][A-Z]{1,30}){0,3}"
_CAPS_NAME = rf"{_CAPS},[ \t]*{_CAPS}(?:[ \t]+[A-Z]\.?)?|{_CAPS}(?:[ \t]+(?:[A-Z]\.[ \t]*)?{_CAPS}){{1,2}}"


# Capitalized words that end a captured name: "Dr. Smith Cardiology" is Dr. Smith of Cardiology.
_NOT_NAME = frozenset(
    [
        "The",
        "A",
        "An",
        "And",
        "Or",
        "Of",
        "In",
        "On",
        "At",
        "To",
        "For",
        "From",
        "With",
        "By",
        "Is",
        "Was",
        "Has",
        "Had",
        "Patient",
        "Pt",
        "Hospital",
        "Clinic",
        "Center",
        "Medical",
        "Medicine",
        "Department",
        "Dept",
        "Cardiology",
        "Oncology",
        "Neurology",
        "Surgery",
        "Service",
        "Unit",
        "Team",
        "Emergency",
        "Room",
        "Today",
        "Yesterday",
        "Tomorrow",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "MD",
        "DO",
        "RN",
        "NP",
        "PA",
        "PhD",
        "Jr",
        "Sr",
        "Disease",
        "Syndrome",
        "History",
        "Assessment",
        "Plan",
        "Impression",
        "Diagnosis",
        "Note",
        "Report",
        "Signed",
        "Called",
        "Called",
        "Please",
        "He",
        "She",
        "They",
        "His",
        "Her",
        "Their",
        "Mother",
        "Father",
        "Son",
        "Daughter",
        "Wife",
        "Husband",
        "Sister",
        "Brother",
    ]
)

# An identifier after its cue word: letters, digits and dashes in any layout, at least one digit, at least
# three characters ("BCB911862527", "ACCT-0342366", "FL-MD-712768", "00123456").
# An identifier: a group with a digit, optionally after a few capitals ("AB 1234"), then more groups with
# digits separated by one space, dash or slash ("482 133 77", "XK42-7781-09"), so that no group of a
# spaced or dashed number stays behind.
_ID_VALUE = (
    r"(?P<v>(?:[A-Z]{1,4}[ \t](?=\d))?(?=[A-Za-z0-9\-]{0,30}\d)[A-Za-z0-9][A-Za-z0-9\-]{2,30}"
    r"(?:[ /\-](?=[A-Za-z]{0,3}\d)[A-Za-z0-9]{1,12}){0,5})(?![\w\-])"
)
# A user name or login: letters first, then letters, digits, dots, dashes, underscores or an @.
_HANDLE = r"(?P<v>[A-Za-z][A-Za-z0-9._@\-]{1,63})(?<![.\-])"
# What may stand between a cue and its identifier: "number", "no.", "#" or "id", then ":", "#" or "=".
_ID_LINK = r"(?:\s*(?:number|num\.?|no\.?|#|id))?[ \t]*[:#=]?[ \t]*#?[ \t]*"


@dataclass(frozen=True, slots=True)
class PatternRecognizer:
    """A regex that finds one PHI type; group ``v`` (if present) delimits the span within the match."""

    type: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None
    # Words (lower case) of which the note must hold one for the pattern to match at all: a set lookup
    # instead of a case-insensitive scan of the note, for the patterns that start with a cue word.
    cues: frozenset[str] = frozenset()

    def find(self, text: str, vocabulary: Set[str] | None = None) -> Iterator[PhiSpan]:
        """Spans of this recognizer's type in ``text``; none without a scan when ``vocabulary`` (the note's
        words in lower case) holds none of its cue words."""
        if self.cues and vocabulary is not None and self.cues.isdisjoint(vocabulary):
            return
        for match in self.pattern.finditer(text):
            group = "v" if "v" in self.pattern.groupindex and match.group("v") is not None else 0
            start, end = match.span(group)
            value = text[start:end]
            if self.accept is None or self.accept(value):
                yield PhiSpan(start, end, PhiType(self.type))


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _cued(
    kind: str,
    phrases: Sequence[str],
    *,
    value: str = _ID_VALUE,
    separator: str = _ID_LINK,
    accept: Callable[[str], bool] | None = None,
) -> PatternRecognizer:
    """PHI of ``kind`` after a cue phrase (case-insensitive regex fragments), then what may link a cue to
    its value (by default ``number``, ``no.``, ``#``, ``:``), then the value (group ``v`` when the match
    holds more). The cue words that let a note skip the scan come from the phrases, so each cue is
    written once."""
    cues = frozenset(match.group().lower() for p in phrases if (match := re.match(r"[A-Za-z]+", p)))
    pattern = _rx(rf"(?i:\b(?:{'|'.join(phrases)}){separator})" + value)
    return PatternRecognizer(kind, pattern, accept, cues=cues)


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# Leading words that make "X Clinic" a department or a kind of place, not a named institution.
_GENERIC_PLACE = frozenset(
    [
        "The",
        "A",
        "An",
        "Our",
        "This",
        "That",
        "Cardiology",
        "Oncology",
        "Neurology",
        "Surgery",
        "Surgical",
        "Medical",
        "Pediatric",
        "Urgent",
        "Care",
        "Primary",
        "Walk",
        "Emergency",
        "Outpatient",
        "Inpatient",
        "Community",
        "Local",
        "Free",
        "Dialysis",
        "Pain",
        "Sleep",
        "Memory",
        "Wound",
    ]
)


# Capitalized words after "lives in" that are not places.
_NOT_PLACE = frozenset(
    [
        "The",
        "A",
        "An",
        "His",
        "Her",
        "Their",
        "Our",
        "Assisted",
        "Independent",
        "Group",
        "Nursing",
        "Skilled",
        "Home",
        "Apartment",
    ]
)


def _institution(value: str) -> bool:
    words = value.split()
    return len(words) >= 2 and words[0] not in _GENERIC_PLACE


def _labelled_name(value: str) -> bool:
    """After a role label ("Patient:", "Nurse:"), a name, not the first words of what a speaker says in a
    transcript ("Patient: No.", "NURSE: OKAY"): words that are all everyday English and no first name are
    an answer."""
    lex = lexicons()
    words = [w.lower() for w in re.findall(r"[^\W\d_]+", value)]
    return not all(lex.is_everyday(w) and w not in lex.first_names for w in words)


def _street_address(value: str) -> bool:
    """A street address in lower case (capitalised ones have their own pattern), not a count of things
    ("2 tabs per day st"), a time ("60 minutes after ct") or a dose: the words before the street word are
    no units, no clinical words and no function words."""
    if value != value.lower():
        return False  # "3 EPISODES ST" is sinus tachycardia, "after CT" a scan
    words = re.findall(r"[^\W\d_]+", value)
    lex = lexicons()
    named = words[1:-1] if len(words) > 2 and len(words[0]) == 1 else words[:-1]
    street_words = [w for w in named if w not in ("apt", "apartment", "suite", "ste", "unit")]
    return bool(street_words) and not any(w in lex.clinical or w in _NOT_STREET for w in street_words)


_NOT_STREET = frozenset(
    "mg mcg ml units unit tabs tab tablets times per day days hours hrs min mins minutes weeks wks months "
    "years and or of the a in on at to for after before x q".split()
)


def _id_digits(value: str) -> bool:
    """A digit-group identifier, not a phone number, SSN or ISO date (their own recognizers take those)."""
    groups = [len(g) for g in value.split("-")]
    return sum(groups) >= 6 and groups not in ([3, 3, 4], [3, 2, 4], [4, 2, 2])


def _has_digit(value: str) -> bool:
    return any(ch.isdigit() for ch in value)


DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 03/14/2024, 3-14-24, 03.14.2024 (month first, as in US notes); 14/03/2024 when the day cannot be a month
    _rx(r"\b(?:0?[1-9]|1[0-2])([/.\-])(?:0?[1-9]|[12]\d|3[01])\1(?:\d{4}|\d{2})\b"),
    _rx(r"\b(?:1[3-9]|2\d|3[01])([/.\-])(?:0?[1-9]|1[0-2])\1\d{4}\b"),
    # Year first with any separator: 2024-03-14 (ISO), 2024/3/9, 2024.03.09 (a time after it stays)
    _rx(r"\b(?:1[89]|20)\d{2}([/.\-])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])\b"),
    # A month name between numbers, in any case and with any separator: 09-Jan-2024, 9/jan/24,
    # Jan-09-2024, 2024-Jan-09; and a month name or number before a year: Jan-2024, 11/2019
    _rx(rf"\b(?:0?[1-9]|[12]\d|3[01])([\-/.])(?i:{_MONTH})\1?(?:\d{{4}}|\d{{2}})\b"),
    _rx(rf"\b(?i:{_MONTH})([\-/.])(?:0?[1-9]|[12]\d|3[01])\1(?:\d{{4}}|\d{{2}})\b"),
    _rx(rf"\b(?:1[89]|20)\d{{2}}([\-/. ])(?i:{_MONTH})\1?(?:0?[1-9]|[12]\d|3[01])\b"),
    _rx(rf"\b(?i:{_MONTH})[\-/](?:1[89]|20)\d{{2}}\b"),
    _rx(r"(?<![\d/.\-])(?:0?[1-9]|1[0-2])/(?:1[89]|20)\d{2}(?![\d/])"),
    # March 14, 2024 / Mar. 14th 2024 / 14 March 2024 / March 2024 / March 14
    _rx(rf"\b{_MONTH}[ \t]+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?,?[ \t]+\d{{4}}\b"),
    _rx(rf"\b(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?[ \t]+{_MONTH},?[ \t]+\d{{4}}\b"),
    _rx(rf"\b{_MONTH}[ \t]+\d{{4}}\b"),
    _rx(rf"\b{_MONTH}[ \t]+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\b(?![ \t]*(?:mg|mcg|g|ml|mL|units?|%))"),
    # Ranges take both ends: "Jan 3-9", "March 3rd to 9th"; "1/3-1/9" (month/day to month/day)
    _rx(
        rf"\b{_MONTH}[ \t]+(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?[ \t]*(?:-|to|through)[ \t]*"
        r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?\b(?![ \t]*(?:mg|mcg|g|ml|mL|units?|%|days?|weeks?))"
    ),
    _rx(
        r"(?<![\d/.\-])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])[ \t]*-[ \t]*"
        r"(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?![\d/])"
    ),
    # Weekdays (part of a date under Safe Harbor): whole names in any case; abbreviations before a date
    _rx(r"(?i)\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b"),
    _rx(r"\b(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\b(?=\.?,?[ \t]+\d{1,2}[/\-.]\d)"),
    _rx(rf"\b(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\b(?=\.?,?[ \t]+{_MONTH}[ \t]*\d)"),
    # 3/14 without a year only after a word that makes it a date ("on 3/14", "since 3/14")
    _rx(
        r"(?i:\b(?:on|since|from|until|through|dated|by|seen)[ \t]+)(?P<v>(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01]))\b"
        r"(?!/)"
    ),
)

PATTERN_RECOGNIZERS: tuple[PatternRecognizer, ...] = (
    *(
        PatternRecognizer("DATE", p, cues=MONTH_WORDS if "January" in p.pattern else frozenset())
        for p in DATE_PATTERNS
    ),
    # Every pattern stays linear in the note's length: a match may only start where a run of its
    # characters starts (the look-behinds), and repetitions are bounded, so "a.a.a..." of 1 MB costs one
    # scan, not one per position (the email pattern before this took 175 s on 200 KB).
    PatternRecognizer("EMAIL", _rx(r"(?<![\w.+\-])[\w.+\-]{1,64}@[\w\-]{1,63}(?:\.[\w\-]{1,63}){1,8}\b")),
    PatternRecognizer("URL", _rx(r"(?<![\w./:\-])(?:https?://|www\.)[^\s<>\"'()]{0,2000}[^\s<>\"'().,;:!?]")),
    # Addresses without a scheme: "mychart.example.org/login", "example.com".
    PatternRecognizer(
        "URL",
        _rx(
            r"(?<![\w.@/\-])(?:[A-Za-z0-9\-]{1,63}\.){1,6}(?:com|org|net|edu|gov|io|us|info|health|care|biz)\b"
            r"(?:/[^\s<>\"'()]{0,500}[^\s<>\"'().,;:!?])?"
        ),
    ),
    PatternRecognizer("IP", _rx(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _valid_ip),
    PatternRecognizer(
        "IP",
        _rx(
            r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::?[0-9A-Fa-f]{1,4})(?![\w:])|"
            r"\b(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4})?\b"
        ),
        _valid_ip,
    ),
    PatternRecognizer("SSN", _rx(r"\b\d{3}-\d{2}-\d{4}\b")),
    _cued(
        "SSN",
        ["SSN", r"social security(?: number| no\.?)?"],
        separator=r"[ \t]*[:#]?[ \t]*",
        value=r"(?P<v>\d{9})\b",
    ),
    # Pagers and beepers: four to six digits after the word.
    _cued(
        "PHONE",
        ["pager", "beeper", "pgr", "pg", "bpr", "beep"],
        separator=r"(?:[ \t]*(?:number|no\.?|#))?[ \t]*[:#]?[ \t]*#?",
        value=r"(?P<v>\d{4,6})\b",
    ),
    # Local numbers without an area code ("555-0142"): after a word of calling, or alone in parentheses.
    # Elsewhere a dashed group of three and four digits may be a range.
    _cued(
        "PHONE",
        ["phone", "tel", "telephone", "cell", "mobile", "home", "work", "call", "callback", "reached at"],
        separator=r"(?:[ \t]*(?:number|no\.?|#))?[ \t]*[:#]?[ \t]*",
        value=r"(?P<v>[2-9]\d{2}-\d{4})(?![\d\-])",
    ),
    PatternRecognizer("PHONE", _rx(r"\((?P<v>[2-9]\d{2}-\d{4})\)")),
    _cued(
        "MRN",
        [
            "MRN",
            r"MR(?=\s*(?:#|no\b|number|:))",
            r"medical\s+record",
            r"med\s*rec",
            r"chart(?=\s*(?:#|no\b|number))",
        ],
    ),
    _cued("ACCOUNT", ["account", r"acct\.?", "billing", "encounter", "FIN", "visit"]),
    _cued(
        "HEALTH_PLAN",
        [
            "member",
            "subscriber",
            "policy",
            "insurance",
            "beneficiary",
            "medicare",
            "medicaid",
            "group",
            r"health\s*plan",
        ],
    ),
    _cued("LICENSE", ["license", r"lic\.?", "DEA", "NPI", "certificate", r"cert\.?"]),
    _cued(
        "VEHICLE",
        ["VIN", r"license\s*plate", "plate"],
        separator=r"(?:\s*(?:number|no\.?|#))?[ \t]*[:#]?[ \t]*",
        value=r"(?P<v>[A-Z0-9][A-Z0-9\-]{3,16})\b",
        accept=_has_digit,
    ),
    _cued("DEVICE", ["serial", r"S/N", r"device\s*id", "UDI", r"implant\s*id", "lot"]),
    _cued(
        "ID",
        ["ID", "identifier", r"subject(?:\s+id)?", r"case(?=\s*(?:#|no\b|number))", r"ref(?:erence)?"],
        separator=r"[ \t]*[:#][ \t]*#?[ \t]*",
    ),
    # Handles: the value after "username:", "login:", "user id =" is an identifier whatever it looks like.
    _cued(
        "ID",
        ["username", r"user\s*name", r"user\s*id", "userid", "login", "log-in", "handle", r"screen\s*name"],
        value=_HANDLE,
        separator=r"(?:\s*(?:id))?[ \t]*[:=][ \t]*",
    ),
    # Digits inside a file name or a handle ("scan_48213377.png", "id48213377x"): an identifier in any
    # clothing; and eight digits or more standing alone, which no measurement is written as.
    PatternRecognizer(
        "ID",
        _rx(
            r"(?<![A-Za-z0-9_])(?=[A-Za-z0-9_]{0,58}\d{6})(?=\d{0,64}[A-Za-z_])[A-Za-z0-9_]{7,64}(?![A-Za-z0-9_])"
        ),
    ),
    PatternRecognizer("ID", _rx(r"(?<![\w.,/\-])\d{8,20}(?![\w.,/\-])")),
    # A signer's dictation code after the credential: "ORSON KEELE, M.D.    OK42".
    PatternRecognizer(
        "ID",
        _rx(r"(?:M\.D\.|R\.N\.|\bMD|\bRN|\bNP)[ \t]{2,}(?P<v>[A-Z]{1,4}\d{1,4})\b"),
        cues=frozenset("m r md rn np".split()),
    ),
    # Street addresses: number, one to four capitalized words, a street suffix, optional unit.
    PatternRecognizer(
        "ADDRESS",
        _rx(
            # "42 Elm Street", "221B Baker Street", "350 5th Avenue, Unit #12"
            r"\b\d{1,6}[A-Za-z]?[ \t]+(?:[NSEW]\.?[ \t]+)?(?:(?:[A-Z][A-Za-z]{0,30}|\d{1,3}(?:st|nd|rd|th))\.?[ \t]+){1,4}"
            r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
            r"Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Square|Sq)\b\.?"
            r"(?:,?[ \t]+(?:Apt|Apartment|Suite|Ste|Unit|Room|Rm|Floor|Fl|#)\.?[ \t]*#?[\w\-]{1,10})?"
        ),
    ),
    # The same in any case, as portal messages and intake forms write it ("17 w elm st unit 3"): a number,
    # a direction letter or none, one to three words, a street word; the unit after it.
    PatternRecognizer(
        "ADDRESS",
        _rx(
            r"(?i:\b\d{1,6}[a-z]?[ \t]+(?:[nsew]\.?[ \t]+)?(?:[a-z]{2,30}[ \t]+){1,3}"
            r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|court|ct|terrace|ter|circle|cir|"
            r"highway|hwy|parkway|pkwy)\b\.?"
            r"(?:,?[ \t]+(?:apt|apartment|suite|ste|unit|#)\.?[ \t]*#?[\w\-]{1,10})?)"
        ),
        _street_address,
        cues=frozenset(
            "street st avenue ave road rd boulevard blvd lane ln drive court ct terrace ter circle cir highway hwy parkway pkwy".split()
        ),
    ),
    PatternRecognizer("ADDRESS", _rx(r"(?i:\bP\.?\s?O\.?\s+Box\s+\d+)"), cues=frozenset("box".split())),
    PatternRecognizer(
        "ADDRESS",
        _rx(r"\b(?:Apt|Apartment|Suite|Unit)\.?[ \t]*#[ \t]*[\w\-]{1,10}"),
        cues=frozenset("apartment apt suite unit".split()),
    ),
    # City, ST 12345 (the comma or not): the city and the ZIP go; the state may stay (Safe Harbor keeps
    # states).
    PatternRecognizer(
        "LOCATION",
        _rx(
            rf"\b(?P<v>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+){{0,2}}),?[ \t]+(?:{'|'.join(EN_US.regions)})[ \t]+\d{{5}}"
        ),
    ),
    # A place after a verb of living or moving ("moved here from Riverton", "grew up in Cedar Falls").
    _cued(
        "LOCATION",
        [
            *"lives living resides residing relocated born raised visiting".split(),
            r"moved(?:\s+here)?",
            r"grew\s+up",
            r"travel(?:s|ed|ing)?(?:\s+often)?",
            r"returned(?:\s+home)?",
        ],
        separator=r"\s+(?:in|from|to|near)\s+",
        value=r"(?P<v>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)",
        accept=lambda value: value.split()[0] not in _NOT_PLACE,
    ),
    # Counties, parishes, boroughs: smaller than a state.
    PatternRecognizer(
        "LOCATION",
        _rx(r"\b(?P<v>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)(?=[ \t]+(?:County|Parish|Borough)\b)"),
        cues=frozenset("borough county parish".split()),
    ),
    # Institutions (i2b2 counts hospitals as locations): capitalized words ending in an institution word.
    PatternRecognizer(
        "LOCATION",
        _rx(
            r"\b(?:St\.?[ \t]+)?[A-Z][a-z]+(?:'s)?(?:[ \t]+(?:and[ \t]+)?[A-Z][a-z]+(?:'s)?){0,3}[ \t]+"
            r"(?:Hospital|Medical[ \t]+Center|Health[ \t]+Center|Clinic|Infirmary|Health[ \t]+System|"
            r"Cancer[ \t]+Center|Nursing[ \t]+Home|Rehabilitation[ \t]+Center)\b"
        ),
        _institution,
        cues=frozenset("cancer clinic health hospital infirmary medical nursing rehabilitation".split()),
    ),
    PatternRecognizer("ZIP", _rx(rf"\b(?:{'|'.join(EN_US.regions)})[ \t]+(?P<v>\d{{5}}(?:-\d{{4}})?)\b")),
    # Postcodes of the UK ("SW1A 1AA") and Canada ("K1A 0B1"): shapes no lab code or dose has.
    PatternRecognizer("ZIP", _rx(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]\d[A-Z]\d)\b")),
    _cued("ZIP", [r"zip(?:\s*code)?"], separator=r"[ \t]*:?[ \t]*", value=r"(?P<v>\d{5}(?:-\d{4})?)\b"),
    # Ages over 89 (Safe Harbor aggregates them into "90 or older"); the number goes, "year-old" stays.
    PatternRecognizer(
        "AGE",
        _rx(r"\b(?P<v>9\d|1[0-2]\d)(?=[ \t\-]*(?:years?|yrs?|y/?o\b|y\.o\.|yo\b))"),
    ),
    _cued("AGE", ["age", "aged"], separator=r"[ \t]*:?[ \t]*", value=r"(?P<v>9\d|1[0-2]\d)\b"),
    # After a verb of ageing or before a birthday: "turned 101", "celebrates her 95th birthday".
    _cued(
        "AGE",
        ["turned", "turns", "turning", "celebrated", "celebrates", "celebrating"],
        separator=r"[ \t]+(?:her|his|their)?[ \t]*",
        value=r"(?P<v>9\d|1[0-2]\d)(?![\d/.:])",
    ),
    PatternRecognizer(
        "AGE", _rx(r"(?i)\b(?P<v>9\d|1[0-2]\d)(?:st|nd|rd|th)[ \t]+birthday\b"), cues=frozenset(["birthday"])
    ),
    # Spelled out: "ninety-two years old", "one hundred and one year old".
    PatternRecognizer(
        "AGE",
        _rx(
            r"(?i)\b(?P<v>(?:ninety|one[ \t\-]+hundred)(?:(?:[ \t\-]+and)?[ \t\-]+(?:one|two|three|four|five|"
            r"six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
            r"nineteen|twenty))?)(?=[ \t\-]*(?:years?|yrs?|y/?o\b))"
        ),
        cues=frozenset("hundred ninety".split()),
    ),
    # Names in clinical contexts.
    PatternRecognizer(
        "NAME",
        _rx(rf"\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Doctor)\.?[ \t]+(?P<v>{_FULLNAME})"),
        cues=frozenset("doctor dr miss mr mrs ms mx prof".split()),
    ),
    # Newborns are named after their sex until they have a first name: "Baby boy <Surname>".
    PatternRecognizer(
        "NAME",
        _rx(
            rf"(?i:\b(?:baby|infant|twin)[ \t]+(?:boy|girl)(?:[ \t]+[AB12])?[ \t]+)(?P<v>{_TOKEN}|{_CAPS})\b"
        ),
        cues=frozenset("baby infant twin".split()),
    ),
    _cued(
        "NAME",
        [
            *"name attending resident fellow physician provider pcp surgeon nurse guarantor cc contact".split(),
            "interpreter",
            r"patient(?:\s+name)?",
            r"pt(?:\s+name)?",
            r"referring(?:\s+physician)?",
            r"primary\s+care(?:\s+physician)?",
            r"emergency\s+contact",
        ],
        separator=r"[ \t]*:[ \t]*",
        value=rf"(?:(?:Dr|Mr|Mrs|Ms)\.?[ \t]+)?(?P<v>{_LAST_FIRST}|{_FULLNAME}|{_CAPS_NAME})(?![a-z])",
        accept=_labelled_name,
    ),
    _cued(
        "NAME",
        [
            *"signed dictated transcribed reviewed authenticated co-signed cosigned seen examined referred".split(),
            r"electronically\s+signed",
            r"discussed\s+with",
        ],
        separator=r"\s+by:?[ \t]+",
        value=rf"(?:Dr\.?[ \t]+)?(?P<v>{_FULLNAME})",
    ),
    _cued(
        "NAME",
        ["his", "her", "their", "patient's", "pt's", r"the\s+patient's"],
        separator=(
            r"\s+(?:wife|husband|spouse|partner|daughter|son|mother|father|sister|brother|aunt|uncle|niece|"
            r"nephew|grandson|granddaughter|grandmother|grandfather|friend|caregiver|guardian|neighbor|"
            r"fianc[ée]e?)\b,?[ \t]+"
        ),
        value=rf"(?P<v>{_FULLNAME})",
    ),
    PatternRecognizer(
        "NAME", _rx(rf"(?m:^)(?P<v>{_TOKEN}[ \t]+{_TOKEN})(?=[ \t]+is[ \t]+an?[ \t]+\d{{1,3}}[ \-])")
    ),
    # Transcription lines: the signer's initials, then the typists' names ("XGT:pruett", "GPP/ab/cd").
    PatternRecognizer("NAME", _rx(r"(?m:^)[ \t]*[A-Z]{2,4}(?P<v>(?:[:/][a-z]{2,20}){1,3})[ \t]*(?m:$)")),
)

# Generic shapes, used only where no specific recognizer found anything: an identifier after "ref #" is an
# ID, but after "Member ID" it is a HEALTH_PLAN number.
FALLBACK_RECOGNIZERS: tuple[PatternRecognizer, ...] = (
    # Phone numbers with a five-digit last group or spaces only, which phonenumbers does not take.
    PatternRecognizer("PHONE", _rx(r"(?<!\d)\(?\d{3}\)?[ \t.\-]\d{3}[ \t.\-]\d{4,5}(?!\d)")),
    # Identifiers of digit groups ("123-45-67-8") and letters then digits ("QZ418/20571", "KLM204518839").
    PatternRecognizer(
        "ID", _rx(r"(?<![\w\-/.])\d{2,6}(?:-\d{1,6}){2,4}(?![\w\-/])"), lambda v: _id_digits(v)
    ),
    PatternRecognizer("ID", _rx(r"\b[A-Z]{1,5}-?\d{5,}(?:[/\-][A-Z0-9]{1,12}){0,3}\b")),
    PatternRecognizer("ID", _rx(r"\b[A-Z]{1,5}\d{2,}[/\-]\d{3,}\b")),
    # Reference numbers of any layout after a cue word.
    _cued(
        "ID",
        "ref reference confirmation claim case order requisition accession badge employee policy certificate cert".split(),
        separator=r"(?:[ \t]*(?:number|no\.?|#|id))?[ \t]*[:#]?[ \t]*",
        value=r"(?P<v>(?=[A-Za-z0-9\-]*\d)[A-Za-z0-9][A-Za-z0-9\-]{1,24})\b",
    ),
)

_FAX_CONTEXT = re.compile(r"(?i)\bfax\b")
_PHONE_CONTEXT = re.compile(r"(?i)\b(?:tel|phone|ph|cell|mobile|home|work|pager|call|contact|fax|#)\b")


# What a phone number can look like before phonenumbers judges it: the matcher costs about 100 times a
# regex scan on digit-rich text, so it only sees these candidates (with a little context).
_PHONE_SHAPE = re.compile(
    r"(?<![\d\-])(?:\+?\d{1,3}[ \t.\-]?)?\(?\d{3}\)?[ \t.\-]{0,2}\d{3}[ \t.\-]{0,2}\d{4}(?![\d\-])|"
    r"(?<![\d\-])\+\d[\d \t.\-()]{6,18}\d(?!\d)"
)


def find_phones(text: str) -> Iterator[PhiSpan]:
    """Phone and fax numbers, via ``phonenumbers``.

    Leniency POSSIBLE (so that fictional 555 numbers count), but only numbers written like phone numbers
    (separators or parentheses) or introduced by a phone word, so a long lab accession number does not.
    """
    for candidate in _PHONE_SHAPE.finditer(text):
        start = max(0, candidate.start() - 2)
        window = text[start : candidate.end() + 2]
        for match in phonenumbers.PhoneNumberMatcher(window, "US", leniency=phonenumbers.Leniency.POSSIBLE):
            begin, end = start + match.start, start + match.end
            raw = match.raw_string
            digits = sum(ch.isdigit() for ch in raw)
            before = text[max(0, begin - 24) : begin]
            formatted = any(ch in raw for ch in "()-. +")
            if digits < 10 or not (formatted or _PHONE_CONTEXT.search(before)):
                continue
            yield PhiSpan(begin, end, PhiType.FAX if _FAX_CONTEXT.search(before) else PhiType.PHONE)


def _trim_name(text: str, span: PhiSpan) -> PhiSpan | None:
    """Drop trailing capitalized words that are not names ("Smith Cardiology" -> "Smith")."""
    words = list(re.finditer(r"[^ \t,]+", text[span.start : span.end]))
    while words and words[-1].group().title() in _NOT_NAME:
        words.pop()
    if not words or words[0].group().title() in _NOT_NAME:
        return None
    if len(words) == 1 and words[0].group().isupper() and len(words[0].group()) <= 4:
        return None  # an acronym left over ("ICU" of "ICU TEAM"), not a name
    return PhiSpan(span.start, span.start + words[-1].end(), span.type, span.source)


def _patterns(patterns: Sequence[PatternRecognizer]) -> Callable[[NoteView], Iterator[PhiSpan]]:
    def find(view: NoteView) -> Iterator[PhiSpan]:
        for pattern in patterns:
            for span in pattern.find(view.text, view.vocabulary):
                if span.type != PhiType.NAME:
                    yield span
                elif (trimmed := _trim_name(view.text, span)) is not None:
                    yield trimmed

    return find


def _by_type(patterns: Sequence[PatternRecognizer], stage: Stage, kind: str) -> list[Recognizer]:
    """One registered recognizer per PHI type of ``patterns``: "date-patterns", "id-shapes" ..."""
    types = dict.fromkeys(PhiType(p.type) for p in patterns)
    # Order decides which of two equally long overlapping spans names the type, so each type's patterns
    # stay together in the order written.
    runs = [PhiType(t) for t, _ in itertools.groupby(p.type for p in patterns)]
    if len(runs) != len(types):
        raise ValueError(f"the patterns of a type must be listed together: {[str(t) for t in runs]}")
    return [
        Recognizer(
            f"{t.lower()}-{kind}", frozenset([t]), stage, _patterns([p for p in patterns if p.type == t])
        )
        for t in types
    ]


def _names(view: NoteView) -> Iterator[PhiSpan]:
    phones = [s for s in view.spans if s.type in (PhiType.PHONE, PhiType.FAX)]
    return find_names(view.text, view.words, view.case, view.seeds, phones, view.recall_first)


RECOGNIZERS: tuple[Recognizer, ...] = (
    *_by_type(PATTERN_RECOGNIZERS, Stage.PATTERNS, "patterns"),
    Recognizer(
        "phone-numbers",
        frozenset([PhiType.PHONE, PhiType.FAX]),
        Stage.PATTERNS,
        lambda v: find_phones(v.text),
    ),
    Recognizer(
        "dates-without-year",
        frozenset([PhiType.DATE]),
        Stage.PATTERNS,
        lambda v: find_partial_dates(v.text, v.vocabulary),
    ),
    *_by_type(FALLBACK_RECOGNIZERS, Stage.FALLBACK, "shapes"),
    Recognizer("names", frozenset([PhiType.NAME]), Stage.WORDS, _names),
    Recognizer(
        "places",
        frozenset([PhiType.LOCATION]),
        Stage.WORDS,
        lambda v: find_places(v.text, v.words, lexicons(), cased=v.case[0]),
    ),
)


REGISTRY = Registry(EN_US, RECOGNIZERS)


def find_phi(
    text: str,
    *,
    registry: Registry = REGISTRY,
    types: frozenset[PhiType] | None = None,
    recall_first: bool = True,
) -> list[PhiSpan]:
    """All PHI spans the registry's recognizers find in ``text``, merged and sorted.

    Args:
        text: a note (or a chunk of one).
        registry: the recognizers to run (those of the default locale unless given).
        types: PHI types to report; all when None.
        recall_first: also remove capitalised words in no vocabulary (``tasks.deidentify.recallFirst``,
            on by default there and here).
    """
    note_words = words(text, lexicons())
    vocabulary = {part for w in note_words for part in w.low.split("-")}
    view = NoteView(text, note_words, vocabulary, note_case(text), recall_first)
    spans = run_stages(registry.recognizers, view)
    if types is not None:
        spans = [s for s in spans if s.type in types]
    return merge_phi(spans)
