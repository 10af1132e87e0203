"""CPU clinical entity extraction: a CRF for problems and medications, vocabularies for the rest.

- PROBLEM and MEDICATION: the CRF tagger (``tagger``), trained on the BioCreative V CDR training split,
  whose features include the ICD-10-CM and drug vocabularies (``vocabulary``).
- PROCEDURE, TEST and ANATOMY: the term lists of ``data/lexicon.yaml``; ANATOMY also ICD-10-CM's body
  sites (``data/anatomy.tsv.gz``).
- DOSAGE: a dose pattern.

``annotate`` then gives every entity (from this module or from a model) its assertion, section, code and
medication attributes. docs/ner.md says how each part measures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from medbatch.notes.spans import Entity
from medbatch.notes.tasks.ner.annotate import annotate
from medbatch.notes.tasks.ner.cued import after_trigger, cued_findings
from medbatch.notes.tasks.ner.tagger import tag
from medbatch.notes.tasks.ner.tokens import tokenize
from medbatch.notes.tasks.ner.vocabulary import concepts, match_terms

TAGGED_TYPES = frozenset({"PROBLEM", "MEDICATION"})
_DOSAGE = re.compile(
    r"\b\d+(?:\.\d+)?[ \t]?(?:mg/kg|mg|mcg|g|mL|ml|units?|IU|mEq)\b"
    r"(?:[ \t]+(?:PO|IV|IM|SC|SQ|subcut|daily|BID|TID|QID|q\d{1,2}h|QHS|PRN|nightly|once daily|twice daily))*"
)


@cache
def _lexicon_only() -> frozenset[str]:
    """The entity types only the term lists find."""
    return frozenset(c.type for c in concepts().values()) - TAGGED_TYPES


def vocabulary_entities(text: str, wanted: set[str]) -> list[Entity]:
    """Entities of the wanted types that the vocabularies alone find (no statistical model); may overlap."""
    tokens = tokenize(text)
    return [
        Entity(
            tokens[m.first].start,
            tokens[m.last].end,
            m.concept.type,
            text[tokens[m.first].start : tokens[m.last].end],
        )
        for m in match_terms(tokens)
        if m.concept.type in wanted
    ]


def _without_sites_of(found: list[Entity], cued: list[Entity]) -> list[Entity]:
    """``found`` less the body sites that lie inside a longer cued finding: in "no neck stiffness" the
    finding is the phrase, and the site alone would carry no assertion."""
    claimed = bytearray(max(e.end for e in cued))
    for finding in cued:
        claimed[finding.start : finding.end] = b"\x01" * (finding.end - finding.start)
    return [
        e
        for e in found
        if e.type != "ANATOMY"
        or e.end > len(claimed)
        or not all(claimed[e.start : e.end])
        or any(c.start == e.start and c.end == e.end for c in cued)
    ]


def find_entities(text: str, types: Iterable[str]) -> list[Entity]:
    """Entity spans of the requested types in ``text``, not yet annotated, without overlaps.

    Where two types claim overlapping text, the longer span wins.
    """
    wanted = set(types)
    found: list[Entity] = []
    listed = wanted & _lexicon_only()
    if wanted & TAGGED_TYPES:
        tagged = tag(text)
        for start, end, kind in tagged.spans:
            if kind in wanted:
                start = after_trigger(text, start, end)
                found.append(Entity(start, end, kind, text[start:end]))
        # The tagger matched the vocabularies already, sentence by sentence: their terms are reused.
        found += [Entity(s, e, c.type, text[s:e]) for s, e, c in tagged.terms if c.type in listed]
    elif listed:
        found += vocabulary_entities(text, listed)
    if "DOSAGE" in wanted:
        found.extend(Entity(m.start(), m.end(), "DOSAGE", m.group()) for m in _DOSAGE.finditer(text))
    cued = cued_findings(text) if "PROBLEM" in wanted else []
    if cued:
        found = _without_sites_of(found, cued)
    found.sort(key=lambda e: (-(e.end - e.start), e.start, e.type))
    kept: list[Entity] = []
    # Characters already claimed by a longer span: a check costs the span's length, not the entity count.
    taken = bytearray(len(text))
    # Cued findings come last: they fill only text that nothing else claimed.
    for entity in [*found, *cued]:
        if not any(taken[entity.start : entity.end]):
            kept.append(entity)
            taken[entity.start : entity.end] = b"\x01" * (entity.end - entity.start)
    return sorted(kept, key=lambda e: e.start)


def extract_entities(text: str, types: Iterable[str]) -> list[Entity]:
    """``find_entities``, annotated (assertion, section, code, attributes)."""
    return annotate(text, find_entities(text, types))


__all__ = ["annotate", "extract_entities", "find_entities", "vocabulary_entities"]
