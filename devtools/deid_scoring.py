"""Score de-identification against the planted spans of ``deid_corpus``.

A planted identifier counts as caught only when every letter and digit of it is removed: half a phone
number is a leak. A look-alike counts as kept only when none of its letters or digits is removed. Scoring
is by character coverage, so it is fair to systems whose span boundaries differ from ours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from devtools.deid_corpus import CATEGORIES, EvalNote, Planted


def removed_mask(length: int, spans: Iterable[tuple[int, int]]) -> list[bool]:
    """Which characters of a text of ``length`` the predicted spans remove."""
    mask = [False] * length
    for start, end in spans:
        for i in range(max(0, start), min(length, end)):
            mask[i] = True
    return mask


def _alnum(text: str, span: Planted) -> list[int]:
    return [i for i in range(span.start, span.end) if text[i].isalnum()]


@dataclass
class Scores:
    """Counts of one system over a corpus."""

    caught: Counter[str] = field(default_factory=Counter)
    planted: Counter[str] = field(default_factory=Counter)
    lookalikes_kept: int = 0
    lookalikes: int = 0
    summary_leaks: int = 0
    entity_leaks: int = 0
    summary_missed: int = 0
    missed_examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, note: EvalNote, predicted: Iterable[tuple[int, int]]) -> None:
        """Score one note given the character spans a system removed."""
        mask = removed_mask(len(note.text), predicted)
        for span in note.phi:
            self.planted[span.category] += 1
            if all(mask[i] for i in _alnum(note.text, span)):
                self.caught[span.category] += 1
            else:
                self.missed_examples.setdefault(span.category, []).append(span.value)
        for span in note.lookalikes:
            self.lookalikes += 1
            self.lookalikes_kept += not any(mask[i] for i in _alnum(note.text, span))

    def add_outputs(
        self, note: EvalNote, text_deid: str, summary: str | None, entity_texts: Sequence[str]
    ) -> None:
        """Count planted identifiers in a summary or in entities computed from the de-identified text.

        A leak is an identifier that de-identification removed and the summary or an entity brings back.
        One that de-identification missed is already a recall miss; ``summary_missed`` counts those that
        reach the summary.
        """
        values = {p.value for p in note.phi if len(p.value) >= 4}
        removed = {v for v in values if v not in text_deid}
        self.summary_leaks += sum(1 for v in removed if summary and v in summary)
        self.entity_leaks += sum(1 for v in removed for e in entity_texts if v in e)
        self.summary_missed += sum(1 for v in values - removed if summary and v in summary)

    def recall(self, category: str) -> float:
        """Share of planted identifiers of ``category`` fully removed."""
        return self.caught[category] / self.planted[category] if self.planted[category] else 1.0

    def group_recall(self, group: str) -> float:
        """Recall over every category of a group (``structured`` or ``names_addresses``)."""
        members = [c for c, g in CATEGORIES.items() if g == group]
        planted = sum(self.planted[c] for c in members)
        return sum(self.caught[c] for c in members) / planted if planted else 1.0

    def retention(self) -> float:
        """Share of clinical look-alikes left untouched."""
        return self.lookalikes_kept / self.lookalikes if self.lookalikes else 1.0


def score_medbatch(notes: Sequence[EvalNote], strategy: str = "mask") -> Scores:
    """medbatch with the CPU baseline engine: de-identification, then NER and a summary of the result."""
    from medbatch.notes import Note, process_notes
    from medbatch.notes.engines.baseline import BaselineEngine
    from medbatch.spec import LimitsSpec, TasksSpec

    tasks = TasksSpec.model_validate(
        {"deidentify": {"strategy": strategy}, "ner": {}, "summarize": {"maxWords": 60}}
    )
    outputs = process_notes(
        tasks,
        LimitsSpec(),
        BaselineEngine(),
        [Note(n.id, n.text, n.patient_id) for n in notes],
        surrogate_key=b"deid-eval-key-0123456789",
        include_phi_spans=True,
    )
    scores = Scores()
    for note, output in zip(notes, outputs, strict=True):
        scores.add(note, [(p.start, p.end) for p in output.phi or []])
        scores.add_outputs(
            note, output.text_deid or "", output.summary, [e.text for e in output.entities or []]
        )
    return scores
