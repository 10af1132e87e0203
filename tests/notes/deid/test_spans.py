"""Union of the rules' and the model's PHI spans, with provenance."""

from __future__ import annotations

from medbatch.notes.spans import PhiSpan, SpanSource, merge_phi
from medbatch.spec import PhiType

RULE, LLM, BOTH = SpanSource.RULE, SpanSource.LLM, SpanSource.BOTH


def test_overlapping_spans_become_their_union_found_by_both() -> None:
    # "Dr. Ann Lee-Park": the rules stop at "Lee", the model quotes "Lee-Park".
    merged = merge_phi([PhiSpan(4, 11, PhiType.NAME, RULE), PhiSpan(8, 16, PhiType.NAME, LLM)])
    assert merged == [PhiSpan(4, 16, PhiType.NAME, BOTH)]


def test_nested_spans_keep_the_outer_extent_and_the_longest_type() -> None:
    merged = merge_phi([PhiSpan(10, 40, PhiType.ADDRESS, LLM), PhiSpan(20, 25, PhiType.ZIP, RULE)])
    assert merged == [PhiSpan(10, 40, PhiType.ADDRESS, BOTH)]


def test_separate_spans_keep_their_own_source() -> None:
    spans = [
        PhiSpan(30, 35, PhiType.DATE, RULE),
        PhiSpan(0, 5, PhiType.NAME, LLM),
        PhiSpan(10, 12, PhiType.AGE, LLM),
    ]
    assert merge_phi(spans) == sorted(spans, key=lambda s: s.start)


def test_spans_of_one_layer_stay_tagged_with_it() -> None:
    assert merge_phi([PhiSpan(0, 5, PhiType.NAME, LLM), PhiSpan(3, 9, PhiType.NAME, LLM)]) == [
        PhiSpan(0, 9, PhiType.NAME, LLM)
    ]
    assert merge_phi([PhiSpan(0, 5, PhiType.DATE, RULE), PhiSpan(5, 9, PhiType.DATE, RULE)]) == [
        PhiSpan(0, 5, PhiType.DATE, RULE),
        PhiSpan(5, 9, PhiType.DATE, RULE),
    ]
