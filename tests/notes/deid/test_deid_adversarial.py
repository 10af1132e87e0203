"""De-identification stays linear in the note's length whatever the text: no pattern may backtrack.

One quadratic pattern (the old email pattern took 175 s on a 200 KB note of "a.a.a...") stalls a batch
worker and, online, every request behind it. The bounds are generous (about 20 times today's time on this
machine) so that only super-linear growth breaks them; speed itself is a benchmark figure
(bench/deid_eval.py).
"""

from __future__ import annotations

import time

import pytest

from medbatch.notes.tasks.deid.recognizers import find_phi

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


def seconds(text: str) -> float:
    """Best of three: the least disturbed by whatever else the machine runs."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        find_phi(text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("unit", list(UNITS.values()), ids=list(UNITS))
def test_adversarial_text_is_linear(unit: str) -> None:
    small = unit * (25_000 // len(unit))
    large = unit * (100_000 // len(unit))
    per_char_small = seconds(small) / len(small)
    took = seconds(large)
    assert took < 5, f"{took:.1f} s for 100 KB"
    # Linear: 4x the text, about 4x the time; quadratic would be 16x (4x per character).
    assert took / len(large) < 2.5 * per_char_small, "time per character grows with the note's length"


def test_200_kb_of_dots_and_a_1_mb_note_finish() -> None:
    """The case that took 175 s, and a note of 1 MB."""
    assert seconds("a." * 100_000) < 2
    assert seconds("a." * 500_000) < 10
