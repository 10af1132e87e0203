"""A medication's dose, unit, route, frequency and duration, read from the words after it on its line
("metoprolol 25 mg PO BID", "prednisone taper over 2 weeks", "albuterol 2 puffs q4-6h PRN")."""

from __future__ import annotations

import re

from medbatch.notes.spans import MedicationAttributes

WINDOW_CHARS = 80
_DOSE = re.compile(
    r"(?<![\w.])(?P<dose>\d+(?:[.,]\d+)?(?:\s*(?:-|to|/)\s*\d+(?:[.,]\d+)?)?)\s*"
    r"(?P<unit>mg/kg(?:/(?:day|hr|h))?|mg/m2|mcg/kg(?:/min)?|units?/kg|mg|mcg|µg|ug|gm?|grams?|ml|cc|"
    r"units?|iu|meq|mmol|%|tabs?|tablets?|caps?|capsules?|puffs?|drops?|gtts?|sprays?|patch(?:es)?|"
    r"l/min|liters?|l)(?![\w])",
    re.IGNORECASE,
)
_ROUTE = re.compile(
    r"(?<![\w])(?:p\.?o\.?|by mouth|orally|oral|i\.?v\.?(?:p|pb)?|intravenous(?:ly)?|i\.?m\.?|"
    r"intramuscular(?:ly)?|s\.?c\.?|s\.?q\.?|subcut(?:aneous(?:ly)?)?|s\.?l\.?|sublingual(?:ly)?|p\.?r\.?|"
    r"per rectum|rectal(?:ly)?|topical(?:ly)?|transdermal(?:ly)?|inhaled|inhalation|nebuli[sz]ed|nebs?|"
    r"intranasal(?:ly)?|nasal(?:ly)?|ophthalmic|otic|via (?:ng|peg|g-?tube|j-?tube)|per (?:ng|peg|g-?tube)|"
    r"ng|peg)(?![\w])",
    re.IGNORECASE,
)
_FREQUENCY = re.compile(
    r"(?<![\w])(?:q\.?\s?\d+(?:\s*-\s*\d+)?\s?(?:h|hr|hrs|hours?|min)\.?|q\.?\s?(?:d|h|am|pm|hs|od|wk)\.?|"
    r"qday|qdaily|daily|once (?:a )?(?:day|daily|weekly)|twice (?:a )?(?:day|daily|weekly)|"
    r"(?:one|two|three|four) times (?:a|per|each) (?:day|week)|b\.?i\.?d\.?|t\.?i\.?d\.?|q\.?i\.?d\.?|"
    r"every (?:other )?(?:\d+(?:\s*(?:-|to)\s*\d+)?\s*)?(?:hours?|days?|weeks?|months?|morning|evening|night)|"
    r"nightly|at bedtime|in the (?:morning|evening)|weekly|monthly|with meals|before meals|after meals|"
    r"a\.?c\.?|p\.?c\.?|h\.?s\.?|stat|x\s?1|once)(?![\w])",
    re.IGNORECASE,
)
# The indication after "PRN" ("for pain") is not a frequency: it is left out.
_AS_NEEDED = re.compile(r"(?<![\w])(?:p\.?r\.?n\.?|as needed)(?![\w])", re.IGNORECASE)
_DURATION = re.compile(
    r"(?<![\w])(?:(?:for|x|times|over)\s*(?:the next\s+|another\s+)?\d+\s*(?:more\s+)?"
    r"(?:days?|weeks?|months?|doses?|d|wks?|mos?)|until [a-z][a-z ]{2,30}|"
    r"taper(?:ing|ed)?(?: (?:off|down))?(?: (?:over|by) [\w ]{1,30})?)(?![\w])",
    re.IGNORECASE,
)


def _first(pattern: re.Pattern[str], window: str) -> str | None:
    found = pattern.search(window)
    return " ".join(found.group().split()) if found else None


def medication_attributes(text: str, end: int, stop: int) -> MedicationAttributes | None:
    """The attributes written between a medication ending at ``end`` and ``stop`` (the next medication
    or the end of text), on the same line and at most ``WINDOW_CHARS`` on; None when there are none."""
    line_end = text.find("\n", end)
    limit = min(stop, end + WINDOW_CHARS, line_end if line_end >= 0 else len(text))
    window = text[end:limit]
    dose = _DOSE.search(window)
    frequency = _first(_FREQUENCY, window)
    as_needed = _first(_AS_NEEDED, window)
    if as_needed:
        frequency = f"{frequency} {as_needed}" if frequency else as_needed
    attributes = MedicationAttributes(
        dose=" ".join(dose.group("dose").split()) if dose else None,
        unit=dose.group("unit") if dose else None,
        route=_first(_ROUTE, window),
        frequency=frequency,
        duration=_first(_DURATION, window),
    )
    return attributes if attributes != MedicationAttributes() else None
