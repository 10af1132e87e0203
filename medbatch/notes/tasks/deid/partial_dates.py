"""Dates without a year: ``7/22``, ``3/80``, ``since November``, ``21 Apr``, ``the 11th``, ``Christmas``.

Notes write most dates this way ("extubated 10/21", "MI 7/81"), and so do the look-alikes: fractions
(``1/2 NS``), grades (``2/6 murmur``, ``5/5 strength``), scales (``pain 4/10``), ventilator settings
(``PS 10/5``), blood pressure (``120/80``) and ratios. A slash number is a date when it is a valid
month/day or month/two-digit-year and none of those readings fits its neighbourhood.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Set

from medbatch.notes.spans import PhiSpan
from medbatch.notes.tasks.deid.locales.en_us import MONTHS_ABBR, MONTHS_FULL
from medbatch.spec import PhiType

MONTH_WORDS = frozenset(m.lower() for m in MONTHS_FULL + MONTHS_ABBR)
MONTH_NAMES = "|".join(dict.fromkeys(m.lower() for m in MONTHS_FULL + MONTHS_ABBR))
_SLASH = re.compile(r"(?<![\d/.])(?P<m>\d{1,2})(?P<sep>[/-])(?P<d>\d{2}|\d)(?![\d/]|\.\d|-\d|:\d)")
# Words after which a number pair is a setting, a score or a dose, not a date.
_BEFORE_NOT = re.compile(
    r"(?i)\b(?:peep|ps|psv|cpap|bipap|ipap|epap|simv|imv|vent|fio2|settings?|strength|strengths|murmur|"
    r"grade|pain|motor|pulses?|score|apgar|gcs|ratio|x|bp|abp|nbp|cvp|pap|pa|ra|rr|hr|bpm|map|mmhg|"
    r"cuff|tab|tabs|sbp|dbp|i:e|ie|rate|ic|over|of|level|at|day|dose|cycle|course)\W{0,3}$"
)
_AFTER_NOT = re.compile(
    r"(?i)^\W{0,2}(?:ns|d5|lr|mg|mcg|g|gm|ml|cc|l|units?|u|tabs?|tablets?|caps?|mm|mmhg|cm|kg|strength|"
    r"murmur|sem|hsm|pulses?|peep|ps|cpap|bipap|x|%|normal|saline|str|pain|fio2|ratio|hrs?|min|"
    r"assist|liters?|lpm|days?|doses?|weeks?|cycles?)\b"
    # a grade before a murmur with its adjectives: "3/6 systolic ejection murmur"
    r"|^\W{0,2}(?:[a-z]+[ \t]+){1,2}(?:murmur|sem|hsm)\b"
)
# Words that make the next number pair a date whatever its values.
_BEFORE_DATE = re.compile(
    r"(?i)(?:\b(?:on|since|from|until|till|thru|through|dated|date|due|as\s+of|admitted|admit|extubated|"
    r"intubated|placed|started|seen|last|next|s/p|cath|echo|mri|ct|done|or|and|to)|\d/\d{1,2}[ \t]*-)\W{0,3}$"
)
_MONTH_WORD = re.compile(
    rf"(?i)\b(?P<v>(?:{MONTH_NAMES})\.?)(?=[ \t]*(?:\d|,|\bof\b))|"
    rf"(?i:\b(?:in|since|of|early|late|mid|last|this|next|until|through|from|by|on|during|before|after)[ \t]+)"
    rf"(?P<w>(?:{MONTH_NAMES}))\b\.?"
)
_DAY_MONTH = re.compile(
    rf"(?i)\b(?P<v>(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?(?:[ \t]+of)?[ \t]+(?:{MONTH_NAMES})\b\.?"
    r"(?:,?[ \t]+'?\d{2}(?![\d:]))?)"
)
_ORDINAL = re.compile(r"(?i)\b(?:the|on|of)[ \t]+(?P<v>(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th))\b")
_HOLIDAY = re.compile(
    r"\b(?:Christmas(?:[ \t]+(?:Eve|Day))?|Thanksgiving(?:[ \t]+Day)?|New[ \t]+Year's(?:[ \t]+(?:Eve|Day))?|"
    r"Easter(?:[ \t]+Sunday)?|Halloween|Independence[ \t]+Day|Labor[ \t]+Day|Memorial[ \t]+Day|"
    r"Valentine's[ \t]+Day|Fourth[ \t]+of[ \t]+July)(?:,?[ \t]+\d{4})?"
)
# "88'" (a typo of a year) and "'88" ("CABG x3 '88", "stent '04"): a two-digit year in a history.
_YEAR_APOSTROPHE = re.compile(r"(?<![\d'])(?P<v>[1-9]\d)'(?![\d'])|(?<![\w'])(?P<w>'\d{2})(?![\d'])")
_CASE_SENSITIVE_MONTHS = frozenset(["may", "march", "mar", "dec", "jan", "sep"])


def _slash_date(text: str, match: re.Match[str]) -> bool:
    month, day = int(match.group("m")), int(match.group("d"))
    if not 1 <= month <= 12:
        return False
    before = text[max(0, match.start() - 14) : match.start()]
    after = text[match.end() : match.end() + 40]
    if _BEFORE_DATE.search(before):
        return 1 <= day <= 31 or len(match.group("d")) == 2
    if match.group("sep") == "-" or _BEFORE_NOT.search(before) or _AFTER_NOT.search(after):
        return False
    if len(match.group("d")) == 2 and day > 31:
        return True  # month/two-digit year: "MI 3/80"
    if not 1 <= day <= 31:
        return False
    # fractions (1/2, 2/3, 3/4; eighths are rare in notes) and full scores (5/5 strength, 4/4)
    return not ((month < day and day in (2, 3, 4)) or month == day <= 5)


def find_partial_dates(text: str, vocabulary: Set[str] | None = None) -> Iterator[PhiSpan]:
    """DATE spans for dates written without a year.

    Args:
        text: a note.
        vocabulary: the note's words in lower case, when known: the month patterns run only if it holds
            a month name.
    """
    for match in _SLASH.finditer(text):
        if _slash_date(text, match):
            yield PhiSpan(match.start(), match.end(), PhiType.DATE)
    months = vocabulary is None or not MONTH_WORDS.isdisjoint(vocabulary)
    for match in _MONTH_WORD.finditer(text) if months else ():
        group = "v" if match.group("v") else "w"
        word = match.group(group)
        if word.rstrip(".").lower() in _CASE_SENSITIVE_MONTHS and word.islower() and group == "w":
            continue  # "may", "mar", "dec" in lower case are mostly verbs and abbreviations
        yield PhiSpan(*match.span(group), PhiType.DATE)
    for pattern in (_DAY_MONTH, _ORDINAL, _YEAR_APOSTROPHE) if months else (_ORDINAL, _YEAR_APOSTROPHE):
        for match in pattern.finditer(text):
            group = "v" if match.group("v") else "w"
            yield PhiSpan(*match.span(group), PhiType.DATE)
    for match in _HOLIDAY.finditer(text):
        yield PhiSpan(match.start(), match.end(), PhiType.DATE)
