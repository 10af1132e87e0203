"""Apply a de-identification strategy: rewrite the note with its PHI spans replaced."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from medbatch.notes.spans import PhiSpan
from medbatch.notes.tasks.deid.surrogates import Surrogates
from medbatch.spec import DeidStrategy, PhiType


def replacements(
    text: str,
    spans: Sequence[PhiSpan],
    strategy: DeidStrategy,
    surrogates: Surrogates | None = None,
    patient: str = "",
) -> list[str]:
    """What each span of ``text`` becomes under ``strategy`` (see ``deidentify_text``)."""
    if strategy is DeidStrategy.SURROGATE and surrogates is None:
        raise ValueError("the surrogate strategy needs a Surrogates instance (a secret key)")
    if strategy is DeidStrategy.MASK:
        return [f"[{span.type}]" for span in spans]
    if strategy is DeidStrategy.REDACT:
        return ["[REDACTED]"] * len(spans)
    assert surrogates is not None
    year = note_year(text, spans)
    return [surrogates.replace(text[span.start : span.end], span.type, patient, year) for span in spans]


_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def note_year(text: str, spans: Sequence[PhiSpan]) -> int | None:
    """The year most of the note's full dates carry: where its dates without a year are read."""
    years = Counter(
        int(found)
        for span in spans
        if span.type == PhiType.DATE
        for found in _YEAR.findall(text[span.start : span.end])
    )
    return years.most_common(1)[0][0] if years else None


def apply_replacements(text: str, spans: Sequence[PhiSpan], values: Sequence[str]) -> str:
    """``text`` with ``spans[i]`` (sorted, non-overlapping) replaced by ``values[i]``."""
    parts: list[str] = []
    cursor = 0
    for span, value in zip(spans, values, strict=True):
        parts.append(text[cursor : span.start])
        parts.append(value)
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


def deidentify_text(
    text: str,
    spans: Sequence[PhiSpan],
    strategy: DeidStrategy,
    surrogates: Surrogates | None = None,
    patient: str = "",
) -> str:
    """``text`` with every span replaced according to ``strategy``.

    Args:
        text: the source note.
        spans: sorted, non-overlapping spans (as returned by ``merge_phi``).
        strategy: mask -> ``[TYPE]``, redact -> ``[REDACTED]``, surrogate -> a keyed fake value.
        surrogates: required for the surrogate strategy.
        patient: key for the per-patient date shift (surrogate strategy).
    """
    return apply_replacements(text, spans, replacements(text, spans, strategy, surrogates, patient))
