"""Union of the rules' and the model's PHI spans, with provenance."""

from __future__ import annotations

from medbatch.notes.spans import PhiSpan, SpanSource, merge_phi

RULE, LLM, BOTH = SpanSource.RULE, SpanSource.LLM, SpanSource.BOTH


def test_overlapping_spans_become_their_union_found_by_both() -> None:
    # "Dr. Ann Lee-Park": the rules stop at "Lee", the model quotes "Lee-Park".
    merged = merge_phi([PhiSpan(4, 11, "NAME", RULE), PhiSpan(8, 16, "NAME", LLM)])
    assert merged == [PhiSpan(4, 16, "NAME", BOTH)]


def test_nested_spans_keep_the_outer_extent_and_the_longest_type() -> None:
    merged = merge_phi([PhiSpan(10, 40, "ADDRESS", LLM), PhiSpan(20, 25, "ZIP", RULE)])
    assert merged == [PhiSpan(10, 40, "ADDRESS", BOTH)]


def test_separate_spans_keep_their_own_source() -> None:
    spans = [PhiSpan(30, 35, "DATE", RULE), PhiSpan(0, 5, "NAME", LLM), PhiSpan(10, 12, "AGE", LLM)]
    assert merge_phi(spans) == sorted(spans, key=lambda s: s.start)


def test_spans_of_one_layer_stay_tagged_with_it() -> None:
    assert merge_phi([PhiSpan(0, 5, "NAME", LLM), PhiSpan(3, 9, "NAME", LLM)]) == [PhiSpan(0, 9, "NAME", LLM)]
    assert merge_phi([PhiSpan(0, 5, "DATE", RULE), PhiSpan(5, 9, "DATE", RULE)]) == [
        PhiSpan(0, 5, "DATE", RULE),
        PhiSpan(5, 9, "DATE", RULE),
    ]
