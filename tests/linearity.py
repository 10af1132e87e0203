"""One check for "time grows linearly with the text", shared by the tasks' adversarial tests.

The bounds are generous (only super-linear growth breaks them); speed itself is a benchmark figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(work: Callable[[str], object], text: str, tries: int = 3) -> float:
    """Best of a few runs: the least disturbed by whatever else the machine runs."""
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        work(text)
        best = min(best, time.perf_counter() - started)
    return best


def assert_linear(work: Callable[[str], object], unit: str, small: int, large: int, ceiling_s: float) -> None:
    """`work` on `unit` repeated to `large` characters takes about large/small times as long as on `small`.

    Linear: 4x the text, about 4x the time; quadratic would be 16x (4x per character).
    """
    short = unit * (small // len(unit))
    long = unit * (large // len(unit))
    per_char_short = best_seconds(work, short) / len(short)
    took = best_seconds(work, long)
    assert took < ceiling_s, f"{took:.1f} s for {len(long) // 1000} KB"
    assert took / len(long) < 2.5 * per_char_short, "time per character grows with the note's length"
