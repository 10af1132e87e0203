"""The de-identification front door: one object that finds a note's PHI and replaces it.

Batch jobs, the online service and the evaluation scripts all de-identify through ``NoteProcessor``, and
the processor through a ``Deidentifier`` built from the Corpus's ``tasks.deidentify``: the recognizer
registry (and the locale its patterns were built from), the corpus memory a batch job learned, and the
replacement strategy with its keyed surrogates. So a note gives the same spans and the same replacement
wherever it is processed, and a change to any of the four is made in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medbatch.notes.spans import PhiSpan, merge_phi
from medbatch.notes.tasks.deid.audit import NoteAudit, audit_note
from medbatch.notes.tasks.deid.key import check_key
from medbatch.notes.tasks.deid.memory import CorpusMemory
from medbatch.notes.tasks.deid.recognizers import REGISTRY, find_phi
from medbatch.notes.tasks.deid.registry import Registry
from medbatch.notes.tasks.deid.replace import apply_replacements, replacements
from medbatch.notes.tasks.deid.surrogates import Surrogates
from medbatch.spec import DeidentifySpec, DeidStrategy, PhiType


@dataclass(frozen=True)
class Deidentified:
    """One note de-identified: the spans replaced, those only the memory knew, and the new text."""

    phi: list[PhiSpan]  # sorted, non-overlapping; every span that was replaced
    from_memory: list[PhiSpan]  # the spans of ``phi`` no rule or model found, only the corpus memory
    text: str  # the note with every span replaced
    values: list[str]  # what each span of ``phi`` became (to scrub text derived from the note)


class Deidentifier:
    """Finds and replaces the PHI of notes as a Corpus's ``tasks.deidentify`` asks.

    Args:
        spec: the task's options (types, strategy, recall first, date shift, memory, audit).
        surrogate_key: the secret key of the surrogate strategy (required by it, ignored otherwise).
        memory: the corpus memory a batch job learned in its first pass; used when ``spec.memory`` is on.
        registry: the recognizers to run (the registered ones of the default locale unless given).
    """

    def __init__(
        self,
        spec: DeidentifySpec,
        *,
        surrogate_key: bytes | None = None,
        memory: CorpusMemory | None = None,
        registry: Registry = REGISTRY,
    ) -> None:
        self.spec, self.registry = spec, registry
        self.types: frozenset[PhiType] = frozenset(spec.types)
        self.memory = memory if spec.memory.enabled else None
        self.surrogates: Surrogates | None = None
        if spec.strategy is DeidStrategy.SURROGATE:
            self.surrogates = Surrogates(check_key(surrogate_key), spec.date_shift_max_days)

    def deidentify(self, text: str, patient: str, found: Sequence[PhiSpan] = ()) -> Deidentified:
        """``text`` with its PHI replaced; ``found``: spans a model already located (note offsets),
        merged with the rules'; ``patient`` keys the date shift of the surrogate strategy."""
        spans = find_phi(text, registry=self.registry, types=self.types, recall_first=self.spec.recall_first)
        spans += [s for s in found if s.type in self.types]
        remembered: list[PhiSpan] = []
        if self.memory is not None:
            remembered = [s for s in self.memory.find(text, spans) if s.type in self.types]
        phi = merge_phi(spans + remembered)
        values = replacements(text, phi, self.spec.strategy, self.surrogates, patient)
        return Deidentified(phi, remembered, apply_replacements(text, phi, values), values)

    def audit(self, text: str, phi: Sequence[PhiSpan]) -> NoteAudit:
        """What still looks like PHI in ``text`` once ``phi`` is replaced (counts only)."""
        return audit_note(text, phi, self.memory)
