"""Parse a date the recognizers found and write it back shifted, in the same format.

Surrogate de-identification shifts every date of a patient by one keyed offset, so intervals (days from
admission to discharge) survive while the calendar dates do not.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

from medbatch.notes.tasks.deid.locales.en_us import MONTHS_FULL, WEEKDAYS

_MONTH_NAMES = (
    {name.lower(): i + 1 for i, name in enumerate(MONTHS_FULL)}
    | {name[:3].lower(): i + 1 for i, name in enumerate(MONTHS_FULL)}
    | {"sept": 9}
)
_MONTH = r"(?P<month>[A-Za-z]+)(?P<dot>\.?)"
_ORD = r"(?P<ord>st|nd|rd|th)?"

# A year is needed to shift: a date written without one is shifted within the year the note's other
# dates give, so it lands on the same day as its dated twin; within a leap year when the note has none.
_NO_YEAR = 2000


def _ordinal(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _month_name(month: int, original: str) -> str:
    full = MONTHS_FULL[month - 1]
    if len(original) > 3 and original.lower() != "sept":
        return full
    return full[:3]


def _pad(value: int, like: str) -> str:
    return f"{value:0{len(like)}d}" if like.startswith("0") or len(like) == 2 else str(value)


def _full_year(text: str) -> int:
    """A year as written: "2024", or two digits read in 1931-2030 ("93" -> 1993, "24" -> 2024)."""
    year = int(text)
    if len(text) == 2:
        year += 1900 if year > 30 else 2000
    return year


def _year(value: int, like: str) -> str:
    return f"{value % 100:02d}" if len(like) == 2 else f"{value:04d}"


class Shift:
    """Moves a date by the patient's offset; ``year`` is where a date without one is placed."""

    def __init__(self, days: int, year: int | None) -> None:
        self.days = days
        self.year = year if year is not None else _NO_YEAR

    def __call__(self, value: date) -> date:
        return value + timedelta(days=self.days)

    def year_for(self, month: int, day: int) -> int:
        """The year a month and day without one are read in (Feb 29 needs a leap year)."""
        return _NO_YEAR if (month, day) == (2, 29) and not calendar.isleap(self.year) else self.year


def _numeric(m: re.Match[str], shift: Shift) -> str | None:
    a, b, year_text, sep = m["a"], m["b"], m["year"], m["sep"]
    month_first = int(a) <= 12
    month_text, day_text = (a, b) if month_first else (b, a)
    new = shift(date(_full_year(year_text), int(month_text), int(day_text)))
    month_out, day_out = _pad(new.month, month_text), _pad(new.day, day_text)
    first, second = (month_out, day_out) if month_first else (day_out, month_out)
    return f"{first}{sep}{second}{sep}{_year(new.year, year_text)}"


def _iso(m: re.Match[str], shift: Shift) -> str | None:
    new = shift(date(int(m["year"]), int(m["mon"]), int(m["day"])))
    return new.isoformat()


_ANCHOR = date(2001, 1, 15)


def _month_shift(shift: Shift, year: int, month: int) -> date:
    """A month-year date moved by the patient's offset rounded to whole months, never by zero months.

    Shifting its middle day would leave the month unchanged whenever the offset is under two weeks,
    revealing the month; whole months always change it and keep month intervals.
    """
    days = (shift(_ANCHOR) - _ANCHOR).days
    months = round(days / 30.44) or (1 if days > 0 else -1)
    index = year * 12 + (month - 1) + months
    return date(index // 12, index % 12 + 1, 15)


def _named(m: re.Match[str], shift: Shift) -> str | None:
    month = _MONTH_NAMES.get(m["month"].lower())
    if month is None:
        return None
    groups = m.groupdict()
    has_day = groups.get("day") is not None
    has_year = groups.get("year") is not None
    day_given = int(m["day"]) if has_day else 15
    year = int(m["year"]) if has_year else shift.year_for(month, day_given)
    if has_day:
        new = shift(date(year, month, min(int(m["day"]), calendar.monthrange(year, month)[1])))
    else:
        new = _month_shift(shift, year, month)
    name = _month_name(new.month, m["month"]) + m["dot"]
    ordinal = _ordinal(new.day) if groups.get("ord") else ""
    day_out = _pad(new.day, m["day"]) + ordinal if has_day else ""
    template = m.re.pattern
    if template.startswith("^(?P<day>"):
        return f"{day_out}{m['sp1']}{name}{m['comma']}{m['sp2']}{new.year}"
    if not has_day:
        return f"{name}{m['sp1']}{new.year}"
    if not has_year:
        return f"{name}{m['sp1']}{day_out}"
    return f"{name}{m['sp1']}{day_out}{m['comma']}{m['sp2']}{new.year}"


def _month_day(m: re.Match[str], shift: Shift) -> str | None:
    month, day = int(m["a"]), int(m["b"])
    new = shift(date(shift.year_for(month, day), month, day))
    return f"{_pad(new.month, m['a'])}/{_pad(new.day, m['b'])}"


def _year_first(m: re.Match[str], shift: Shift) -> str | None:
    new = shift(date(int(m["year"]), int(m["mon"]), int(m["day"])))
    sep = m["sep"]
    return f"{new.year:04d}{sep}{_pad(new.month, m['mon'])}{sep}{_pad(new.day, m['day'])}"


def _month_number_year(m: re.Match[str], shift: Shift) -> str | None:
    """ "11/2019": the month moves by whole months, as a month name with a year does."""
    new = _month_shift(shift, int(m["year"]), int(m["mon"]))
    return f"{_pad(new.month, m['mon'])}{m['sep']}{new.year:04d}"


def _letter_case(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    return word.lower() if like.islower() else word


def _dashed(m: re.Match[str], shift: Shift) -> str | None:
    """ "09-Jan-2024", "Jan-09-2024", "2024-Jan-09", "Jan-2023": a month name joined by one separator."""
    month = _MONTH_NAMES.get(m["month"].lower())
    if month is None:
        return None
    sep, year_text, day_text = m["sep"], m["year"], m.groupdict().get("day")
    year = _full_year(year_text)
    new = _month_shift(shift, year, month) if day_text is None else shift(date(year, month, int(day_text)))
    name = _letter_case(_month_name(new.month, m["month"]), m["month"])
    year_out = _year(new.year, year_text)
    if day_text is None:
        return f"{name}{sep}{year_out}"
    day_out = _pad(new.day, day_text)
    order = m.re.groupindex
    if order["year"] < order["month"]:
        return f"{year_out}{sep}{name}{sep}{day_out}"
    if order["day"] < order["month"]:
        return f"{day_out}{sep}{name}{sep}{year_out}"
    return f"{name}{sep}{day_out}{sep}{year_out}"


_WEEKDAYS = tuple(day.lower() for day in WEEKDAYS)
_WEEKDAY_ABBREVIATIONS = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3}
_WEEKDAY_ABBREVIATIONS |= {"fri": 4, "sat": 5, "sun": 6}


def _weekday(m: re.Match[str], shift: Shift) -> str | None:
    """A weekday moves with its patient's dates: the shifted twin of a Monday is Monday + offset, so a
    weekday next to its date names the shifted date's weekday, and one alone gives nothing away."""
    word = m["weekday"]
    low = word.lower()
    plural = low.endswith("days")
    stem = low[:-1] if plural else low
    index = _WEEKDAYS.index(stem) if stem in _WEEKDAYS else _WEEKDAY_ABBREVIATIONS[low]
    moved = _WEEKDAYS[(index + (shift(_ANCHOR) - _ANCHOR).days) % 7]
    if stem in _WEEKDAYS:
        out = moved + ("s" if plural else "")
    else:
        out = moved[:3] if len(low) == 3 else {"tuesday": "tues", "thursday": "thurs"}.get(moved, moved[:3])
    return _letter_case(out.capitalize(), word)


_DASHED_MONTH = r"(?P<month>[A-Za-z]{3,9})"
_FORMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], Shift], str | None]], ...] = (
    (
        re.compile(
            r"^(?P<weekday>(?i:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|mon|tues?|wed|thu|thurs?|fri|sat|sun))$"
        ),
        _weekday,
    ),
    (re.compile(r"^(?P<year>\d{4})(?P<sep>[/.\-])(?P<mon>\d{1,2})(?P=sep)(?P<day>\d{1,2})$"), _year_first),
    (re.compile(r"^(?P<mon>\d{1,2})(?P<sep>[/\-])(?P<year>\d{4})$"), _month_number_year),
    (
        re.compile(rf"^(?P<day>\d{{1,2}})(?P<sep>[\-/ .]){_DASHED_MONTH}(?P=sep)(?P<year>\d{{4}}|\d{{2}})$"),
        _dashed,
    ),
    (re.compile(rf"^{_DASHED_MONTH}(?P<sep>[\-/.])(?P<day>\d{{1,2}})(?P=sep)(?P<year>\d{{4}})$"), _dashed),
    (re.compile(rf"^(?P<year>\d{{4}})(?P<sep>[\-/.]){_DASHED_MONTH}(?P=sep)(?P<day>\d{{1,2}})$"), _dashed),
    (re.compile(rf"^{_DASHED_MONTH}(?P<sep>[\-/])(?P<year>\d{{4}}|\d{{2}})$"), _dashed),
    (re.compile(r"^(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})$"), _numeric),
    (re.compile(r"^(?P<year>\d{4})-(?P<mon>\d{2})-(?P<day>\d{2})$"), _iso),
    (
        re.compile(
            rf"^{_MONTH}(?P<sp1>\s+)(?P<day>\d{{1,2}}){_ORD}(?P<comma>,?)(?P<sp2>\s+)(?P<year>\d{{4}})$"
        ),
        _named,
    ),
    (
        re.compile(
            rf"^(?P<day>\d{{1,2}}){_ORD}(?P<sp1>\s+){_MONTH}(?P<comma>,?)(?P<sp2>\s+)(?P<year>\d{{4}})$"
        ),
        _named,
    ),
    (re.compile(rf"^{_MONTH}(?P<sp1>\s+)(?P<year>\d{{4}})$"), _named),
    (re.compile(rf"^{_MONTH}(?P<sp1>\s+)(?P<day>\d{{1,2}}){_ORD}$"), _named),
    (re.compile(r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})$"), _month_day),
)


def shift_date_text(text: str, days: int, year: int | None = None) -> str | None:
    """``text`` (a date as found by the recognizers) moved by ``days``, in its original format; a date
    without a year is read in ``year`` (the note's), so it moves like its dated twin.

    Returns None when the text is not a valid calendar date (e.g. 02/30/2024); callers then mask it.
    """
    shift = Shift(days, year)

    for pattern, render in _FORMS:
        match = pattern.match(text)
        if match is None:
            continue
        try:
            return render(match, shift)
        except (ValueError, OverflowError, KeyError):
            return None
    # A range ("1/3-1/9", "1/3 - 1/9", "March 3 to March 9"): both ends shifted, or the whole masked.
    for match in _RANGE.finditer(text):
        first, second = text[: match.start()], text[match.end() :]
        ends = shift_date_text(first, days, year), shift_date_text(second, days, year)
        if ends[0] is not None and ends[1] is not None:
            return f"{ends[0]}{match.group()}{ends[1]}"
    return None


_RANGE = re.compile(r"[ \t]*(?:-|\u2013|to|through)[ \t]*")
