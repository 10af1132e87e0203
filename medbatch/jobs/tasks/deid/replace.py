"""Apply a de-identification strategy: rewrite the note with its PHI spans replaced."""

from __future__ import annotations

from collections.abc import Sequence

from medbatch.jobs.spans import PhiSpan
from medbatch.jobs.tasks.deid.surrogates import Surrogates
from medbatch.spec import DeidStrategy


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
    if strategy is DeidStrategy.SURROGATE and surrogates is None:
        raise ValueError("the surrogate strategy needs a Surrogates instance (a secret key)")
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        if strategy is DeidStrategy.MASK:
            parts.append(f"[{span.type}]")
        elif strategy is DeidStrategy.REDACT:
            parts.append("[REDACTED]")
        else:
            assert surrogates is not None
            parts.append(surrogates.replace(text[span.start : span.end], span.type, patient))
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)
