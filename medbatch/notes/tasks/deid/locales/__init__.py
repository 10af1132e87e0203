"""Language and country data the patterns are built from, one module per locale (``en_us``).

A locale holds what a reader of its notes would call a date or an address: month and weekday names, the
states or regions postcodes follow. The word lists of names, places and vocabulary live in ``data/``
with their sources. Adding a locale is adding a module here and building patterns from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Locale:
    """What the patterns of one language and country are built from."""

    name: str  # BCP 47, e.g. "en-US"
    months_full: Sequence[str]
    months_abbr: Sequence[str]
    weekdays: Sequence[str]
    regions: Sequence[str]  # what stands before a postcode (US: the states' USPS abbreviations)
