"""Keep what de-identification found out of the summary and the entities too.

Analysis runs on the de-identified text by default, so a summary can only repeat PHI that
de-identification missed. But an extractive summary of the raw text (``analyzeRawText``), a model that
restates a name from the chunk it saw, or the reduce step of a long note can bring back a value the
recognizers or the model did find in the source. Every such value is replaced in the summary and in each
entity's text the way it was replaced in ``text_deid``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import fields, replace

from medbatch.notes.spans import Entity, MedicationAttributes, PhiSpan

# Values shorter than this are replaced only as whole words: "KW" must not take the "kw" of "awkward".
_SHORT = 4


class Scrubber:
    """Replaces the PHI values of one note wherever they appear in text derived from it."""

    def __init__(self, text: str, spans: Sequence[PhiSpan], replacements: Sequence[str]) -> None:
        """``replacements[i]`` is what ``spans[i]`` became in ``text_deid``."""
        self._by_value: dict[str, str] = {}
        for span, replacement in zip(spans, replacements, strict=True):
            value = text[span.start : span.end].strip()
            if value and any(ch.isalnum() for ch in value):
                self._by_value.setdefault(value.lower(), replacement)
        alternatives = [
            re.escape(v) if len(v) >= _SHORT else rf"(?<!\w){re.escape(v)}(?!\w)"
            for v in sorted(self._by_value, key=len, reverse=True)
        ]
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    def __call__(self, derived: str) -> str:
        """``derived`` with every PHI value of the note replaced."""
        if self._pattern is None:
            return derived
        return self._pattern.sub(lambda m: self._by_value[m.group(0).lower()], derived)

    def entities(self, entities: Sequence[Entity]) -> list[Entity]:
        """The entities with PHI values replaced in their text (offsets still point into the analyzed
        text, which is ``text_deid`` unless ``analyzeRawText`` is set)."""
        return [replace(e, text=self(e.text), attributes=self._attributes(e.attributes)) for e in entities]

    def _attributes(self, attributes: MedicationAttributes | None) -> MedicationAttributes | None:
        # Attributes are note text too ("until <date>"): scrubbed like the entity's own text.
        if attributes is None:
            return None
        values = {f.name: getattr(attributes, f.name) for f in fields(attributes)}
        return MedicationAttributes(**{k: self(v) if v is not None else None for k, v in values.items()})
