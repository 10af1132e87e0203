"""Floors on fixed subsets of public gold (development halves, ../shared/data): BC5CDR and NegEx.

The floors sit a little under what the subsets measure today, so a change that loses real recall or
precision fails here; the full figures, with a peer beside them, are bench/ner_eval.py's.
"""

from __future__ import annotations

import pytest

from devtools import ner_scoring
from medbatch.notes.tasks.ner import extract_entities
from medbatch.notes.tasks.ner.assertion import AssertionContext

pytestmark = pytest.mark.skipif(not ner_scoring.available(), reason="the gold is in ../shared/data")
ALL_TYPES = ["PROBLEM", "MEDICATION", "PROCEDURE", "TEST", "ANATOMY"]


def test_bc5cdr_problems_and_medications() -> None:
    counts = ner_scoring.score_bc5cdr(lambda text: extract_entities(text, ["PROBLEM", "MEDICATION"]), 150)
    assert counts["PROBLEM"].f1 >= 0.85
    assert counts["MEDICATION"].f1 >= 0.87
    assert counts["PROBLEM"].exact_f1 >= 0.74
    assert counts["MEDICATION"].exact_f1 >= 0.85


def test_negex_negation() -> None:
    counts = ner_scoring.score_negex(
        lambda text: extract_entities(text, ALL_TYPES),
        lambda text, start, end: AssertionContext(text).of(start, end),
        500,
    )
    precision, recall = counts.precision_recall(counts.gold_span)
    assert precision >= 0.93
    assert recall >= 0.95
    end_precision, end_recall = counts.precision_recall(counts.end_to_end)
    assert end_precision >= 0.90
    assert end_recall >= 0.90
    assert counts.found_share >= 0.85
