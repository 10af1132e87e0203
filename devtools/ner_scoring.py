"""Score entity extraction and assertion on public gold: BioCreative V CDR and the NegEx test set.

The corpora live outside the project (``../shared/data/ner-dev``, ``../shared/data/assertion-dev``; only
development halves: the other halves judge). Used by ``bench/ner_eval.py`` for the figures and by the
floor tests on fixed subsets.

- BC5CDR: Disease gold as PROBLEM, Chemical as MEDICATION. A gold mention is found when a predicted entity
  of its type overlaps it (any overlap); a prediction is correct when it overlaps a gold mention of its
  type. Exact-boundary figures count identical (start, end) only.
- NegEx: each sentence has one annotated concept, Affirmed or Negated. *Found*: an extracted entity
  overlaps the concept. *Negated* predictions, end to end: the concept is found and an overlapping entity
  is ``absent``; on the gold span: the assertion of the concept's own span (what NegEx itself is scored on).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medbatch.notes.spans import Assertion, Entity

SHARED = Path(os.environ.get("MEDBATCH_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
BC5CDR = SHARED / "data" / "ner-dev" / "bc5cdr-devel"
NEGEX = SHARED / "data" / "assertion-dev" / "negex-reports-1-60.jsonl"
GOLD_TYPES = {"Disease": "PROBLEM", "Chemical": "MEDICATION"}

Extractor = Callable[[str], list[Entity]]
SpanAssertion = Callable[[str, int, int], Assertion]


def available() -> bool:
    """Whether the development halves are here (they are outside the repository)."""
    return BC5CDR.is_dir() and NEGEX.is_file()


@dataclass
class Counts:
    """Gold mentions, gold found (overlap), predictions, predictions correct (overlap), exact matches."""

    gold: int = 0
    found: int = 0
    predicted: int = 0
    correct: int = 0
    exact: int = 0

    @staticmethod
    def _f1(recall: float, precision: float) -> float:
        return 2 * recall * precision / (recall + precision) if recall + precision else 0.0

    @property
    def recall(self) -> float:
        """Share of gold mentions some prediction overlaps."""
        return self.found / self.gold if self.gold else 0.0

    @property
    def precision(self) -> float:
        """Share of predictions that overlap a gold mention."""
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def f1(self) -> float:
        """Any-overlap F1."""
        return self._f1(self.recall, self.precision)

    @property
    def exact_f1(self) -> float:
        """F1 on identical boundaries."""
        recall = self.exact / self.gold if self.gold else 0.0
        precision = self.exact / self.predicted if self.predicted else 0.0
        return self._f1(recall, precision)


def bc5cdr_records(limit: int | None = None) -> Iterator[tuple[str, list[tuple[int, int, str]]]]:
    """(text, [(start, end, type)]) of the development split, in file order."""
    notes = {r["id"]: r["text"] for r in map(json.loads, (BC5CDR / "notes.jsonl").open())}
    with (BC5CDR / "gold.jsonl").open() as lines:
        for index, line in enumerate(lines):
            if limit is not None and index >= limit:
                return
            record = json.loads(line)
            gold = [(e["start"], e["end"], GOLD_TYPES[e["type"]]) for e in record["entities"]]
            yield notes[record["id"]], gold


def score_bc5cdr(extract: Extractor, limit: int | None = None) -> dict[str, Counts]:
    """Counts per type (PROBLEM, MEDICATION) of ``extract`` on the development split."""
    counts = {kind: Counts() for kind in GOLD_TYPES.values()}
    for text, gold in bc5cdr_records(limit):
        predicted = extract(text)
        for kind, count in counts.items():
            mine = [(e.start, e.end) for e in predicted if e.type == kind]
            theirs = [(s, e) for s, e, k in gold if k == kind]
            count.gold += len(theirs)
            count.predicted += len(mine)
            count.found += sum(any(ps < ge and pe > gs for ps, pe in mine) for gs, ge in theirs)
            count.correct += sum(any(ps < ge and pe > gs for gs, ge in theirs) for ps, pe in mine)
            count.exact += len(set(mine) & set(theirs))
    return counts


@dataclass
class NegexCounts:
    """Concept rows, rows whose concept could be located, found, and the Negated confusion counts."""

    rows: int = 0
    located: int = 0
    found: int = 0
    negated_gold: int = 0
    end_to_end: dict[str, int] = field(default_factory=lambda: {"tp": 0, "fp": 0, "fn": 0})
    gold_span: dict[str, int] = field(default_factory=lambda: {"tp": 0, "fp": 0, "fn": 0})

    @staticmethod
    def precision_recall(confusion: dict[str, int]) -> tuple[float, float]:
        """(precision, recall) of Negated."""
        tp, fp, fn = confusion["tp"], confusion["fp"], confusion["fn"]
        return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)

    @property
    def found_share(self) -> float:
        """Share of located concepts an extracted entity overlaps."""
        return self.found / self.located if self.located else 0.0


def negex_rows(limit: int | None = None) -> Iterator[tuple[str, int, int, bool]]:
    """(sentence, concept start, concept end, negated) of each row whose concept occurs in its sentence."""
    with NEGEX.open() as lines:
        for index, line in enumerate(lines):
            if limit is not None and index >= limit:
                return
            row = json.loads(line)
            sentence, concept = row["sentence"], row["concept"]
            start = sentence.lower().find(concept.lower())
            yield sentence, start, start + len(concept) if start >= 0 else -1, row["label"] == "Negated"


def _tally(confusion: dict[str, int], predicted: bool, gold: bool) -> None:
    if predicted and gold:
        confusion["tp"] += 1
    elif predicted:
        confusion["fp"] += 1
    elif gold:
        confusion["fn"] += 1


def score_negex(extract: Extractor, span_assertion: SpanAssertion, limit: int | None = None) -> NegexCounts:
    """Concepts found and Negated precision/recall, end to end and on the gold span."""
    counts = NegexCounts()
    for sentence, start, end, negated in negex_rows(limit):
        counts.rows += 1
        if start < 0:
            continue
        counts.located += 1
        counts.negated_gold += negated
        overlapping = [e for e in extract(sentence) if e.start < end and e.end > start]
        counts.found += bool(overlapping)
        _tally(counts.end_to_end, any(e.assertion is Assertion.ABSENT for e in overlapping), negated)
        _tally(counts.gold_span, span_assertion(sentence, start, end) is Assertion.ABSENT, negated)
    return counts
