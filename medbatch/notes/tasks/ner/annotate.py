"""What each entity means in its note: assertion, section, vocabulary code and medication attributes.

Run on the whole analyzed text after any engine (the CPU tagger or a model) has found the spans, so
every engine's entities carry the same fields and a span cut by a chunk boundary still sees its section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace

from medbatch.notes.spans import Assertion, Entity, MedicationAttributes, Section
from medbatch.notes.tasks.ner.assertion import AssertionContext
from medbatch.notes.tasks.ner.medication import medication_attributes
from medbatch.notes.tasks.ner.sections import SectionMap
from medbatch.notes.tasks.ner.vocabulary import lookup

# Sections that say whose or when a finding is, where the sentence itself does not.
_SECTION_ASSERTION = {Section.FAMILY_HISTORY: Assertion.FAMILY, Section.PAST_HISTORY: Assertion.HISTORICAL}
# Entity types whose assertion is meaningful (a dose or an organ is neither present nor absent).
ASSERTED_TYPES = frozenset({"PROBLEM", "MEDICATION", "PROCEDURE", "TEST"})


def annotate(text: str, entities: Sequence[Entity]) -> list[Entity]:
    """``entities`` (offsets into ``text``) with assertion, section, code and attributes filled in."""
    if not entities:
        return list(entities)
    ordered = sorted(entities, key=lambda e: (e.start, e.end))
    sections, context = SectionMap(text), AssertionContext(text)
    medication_starts = [e.start for e in ordered if e.type == "MEDICATION"]
    annotated: list[Entity] = []
    next_medication = 0
    for entity in ordered:
        section = sections.at(entity.start)
        assertion = Assertion.PRESENT
        if entity.type in ASSERTED_TYPES:
            assertion = entity.assertion or context.of(entity.start, entity.end)
            if assertion is Assertion.PRESENT and section in _SECTION_ASSERTION:
                assertion = _SECTION_ASSERTION[section]
        code, system = entity.code, entity.code_system
        if code is None:
            concept = lookup(entity.text)
            if concept is not None and concept.type == entity.type and concept.code:
                code, system = concept.code, concept.code_system
        attributes = entity.attributes if entity.type == "MEDICATION" else None
        if entity.type == "MEDICATION":
            while (
                next_medication < len(medication_starts)
                and medication_starts[next_medication] <= entity.start
            ):
                next_medication += 1
            stop = (
                medication_starts[next_medication] if next_medication < len(medication_starts) else len(text)
            )
            attributes = _filled(attributes, medication_attributes(text, entity.end, stop))
        annotated.append(
            replace(
                entity,
                assertion=assertion,
                section=section,
                code=code,
                code_system=system,
                attributes=attributes,
            )
        )
    return annotated


def _filled(
    stated: MedicationAttributes | None, read: MedicationAttributes | None
) -> MedicationAttributes | None:
    """What a model stated, each attribute it left out read from the note."""
    if stated is None or read is None:
        return stated or read
    return MedicationAttributes(
        **{f.name: getattr(stated, f.name) or getattr(read, f.name) for f in fields(MedicationAttributes)}
    )
