"""Parse a date the recognizers found and write it back shifted, in the same format.

Surrogate de-identification shifts every date of a patient by one keyed offset, so intervals (days from
admission to discharge) survive while the calendar dates do not.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, timedelta

from medbatch.notes.tasks.deid.partial_dates import MONTHS_FULL

_MONTH_NAMES = (
    {name.lower(): i + 1 for i, name in enumerate(MONTHS_FULL)}
    | {name[:3].lower(): i + 1 for i, name in enumerate(MONTHS_FULL)}
    | {"sept": 9}
)
_MONTH = r"(?P<month>[A-Za-z]+)(?P<dot>\.?)"
_ORD = r"(?P<ord>st|nd|rd|th)?"

# A year is needed to shift; dates written without one are shifted within a leap year.
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


def _year(value: int, like: str) -> str:
    return f"{value % 100:02d}" if len(like) == 2 else f"{value:04d}"


Shift = Callable[[date], date]


def _numeric(m: re.Match[str], shift: Shift) -> str | None:
    a, b, year_text, sep = m["a"], m["b"], m["year"], m["sep"]
    month_first = int(a) <= 12
    month_text, day_text = (a, b) if month_first else (b, a)
    year = int(year_text)
    if len(year_text) == 2:
        year += 1900 if year > 30 else 2000
    new = shift(date(year, int(month_text), int(day_text)))
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
    year = int(m["year"]) if has_year else _NO_YEAR
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
    new = shift(date(_NO_YEAR, int(m["a"]), int(m["b"])))
    return f"{_pad(new.month, m['a'])}/{_pad(new.day, m['b'])}"


_FORMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], Shift], str | None]], ...] = (
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


def shift_date_text(text: str, days: int) -> str | None:
    """``text`` (a date as found by the recognizers) moved by ``days``, in its original format.

    Returns None when the text is not a valid calendar date (e.g. 02/30/2024); callers then mask it.
    """

    def shift(value: date) -> date:
        return value + timedelta(days=days)

    for pattern, render in _FORMS:
        match = pattern.match(text)
        if match is None:
            continue
        try:
            return render(match, shift)
        except (ValueError, OverflowError):
            return None
    return None
