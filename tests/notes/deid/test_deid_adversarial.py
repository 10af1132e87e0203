"""De-identification stays linear in the note's length whatever the text: no pattern may backtrack.

One quadratic pattern (the old email pattern took 175 s on a 200 KB note of "a.a.a...") stalls a batch
worker and, online, every request behind it. The bounds are generous (about 20 times today's time on this
machine) so that only super-linear growth breaks them; speed itself is a benchmark figure
(bench/deid_eval.py).
"""

from __future__ import annotations

import pytest

from medbatch.notes.tasks.deid.recognizers import find_phi
from tests.linearity import assert_linear, best_seconds

# Shapes that make regexes backtrack: long runs of what a pattern repeats, with no way to finish a match.
UNITS = {
    "dots": "a.",
    "digits": "1",
    "spaced-digits": "1 ",
    "slashes": "1/",
    "dashes": "1-",
    "capitals": "A",
    "spaced-capitals": "A ",
    "title-words": "Aaaa ",
    "hyphenated": "Aa-",
    "apostrophes": "A'",
    "at-signs": "a@",
    "www": "www.",
    "punctuation": "!?,;:",
    "titles": "Dr. ",
    "saints": "St. ",
    "initials": "J. ",
    "newlines": "A\n",
    "ids": "AB12345-",
    "mixed": "Dr. John Smith 12/12 a.b@c ",
}


@pytest.mark.parametrize("unit", list(UNITS.values()), ids=list(UNITS))
def test_adversarial_text_is_linear(unit: str) -> None:
    assert_linear(find_phi, unit, 25_000, 100_000, ceiling_s=5)


def test_200_kb_of_dots_and_a_1_mb_note_finish() -> None:
    """The case that took 175 s, and a note of 1 MB."""
    assert best_seconds(find_phi, "a." * 100_000) < 2
    assert best_seconds(find_phi, "a." * 500_000) < 10
