"""De-identification measured on real clinical notes with gold PHI, by the workplace's own scorer.

The notes live outside the project (``../shared/data/deid-real-dev``: half of the PhysioNet deid gold
standard and an i2b2 2014 sample) and are never copied into it. Scoring calls the leak rule of
``../shared/tools/deid_score.py`` itself, so the figures here are the scorer's figures: a PHI span leaks
when its text, its digits, or any of its words of 4+ letters survive; ``nonphi_word_retention`` is the
share of words outside every PHI span that survive (the over-masking proxy).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("MEDBATCH_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
DATA = SHARED / "data" / "deid-real-dev"
SCORER = SHARED / "tools" / "deid_score.py"
CORPORA = {"physionet": "physionet", "i2b2": "i2b2-sample"}
_WORD = re.compile(r"[A-Za-z]{3,}")


@dataclass(frozen=True)
class GoldNote:
    """A real note and its gold PHI spans (start, end, type, text)."""

    id: str
    text: str
    patient: str
    phi: tuple[tuple[int, int, str, str], ...]


def available() -> bool:
    """Whether the real notes and the scorer are beside the checkout."""
    return DATA.is_dir() and SCORER.is_file()


def load(corpus: str) -> list[GoldNote]:
    """The notes of ``corpus`` ("physionet" or "i2b2") with their gold spans, in file order."""
    stem = CORPORA[corpus]
    gold = {g["id"]: g for g in _jsonl(DATA / f"{stem}-gold.jsonl")}
    return [
        GoldNote(
            id=n["id"],
            text=n["text"],
            patient=n.get("patient") or n["id"],
            phi=tuple((p["start"], p["end"], p["type"], p["text"]) for p in gold[n["id"]]["phi"]),
        )
        for n in _jsonl(DATA / f"{stem}-notes.jsonl")
    ]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


@cache
def _leaked() -> Callable[..., bool]:
    spec = importlib.util.spec_from_file_location("deid_score", SCORER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    leaked: Callable[..., bool] = module.leaked
    return leaked


@dataclass
class RealScores:
    """The scorer's counts for one system over one corpus."""

    total: Counter[str] = field(default_factory=Counter)
    leaked: Counter[str] = field(default_factory=Counter)
    words: int = 0
    words_kept: int = 0

    def add(self, note: GoldNote, output: str) -> None:
        """Score one note's de-identified ``output``."""
        leaked = _leaked()
        for start, end, kind, value in note.phi:
            self.total[kind] += 1
            left, right = note.text[max(0, start - 6) : start], note.text[end : end + 6]
            self.leaked[kind] += leaked(value, output, left, right)
        outside = [
            m.group(0)
            for m in _WORD.finditer(note.text)
            if not any(s <= m.start() < e for s, e, _, _ in note.phi)
        ]
        have = Counter(_WORD.findall(output))
        need = Counter(outside)
        self.words += sum(need.values())
        self.words_kept += sum(min(n, have[w]) for w, n in need.items())

    def recall(self, kind: str | None = None) -> float:
        """Share of PHI spans (of ``kind``, or all) that did not leak."""
        total = self.total[kind] if kind else sum(self.total.values())
        leaked = self.leaked[kind] if kind else sum(self.leaked.values())
        return 1 - leaked / total if total else 1.0

    def retention(self) -> float:
        """Share of words outside PHI that survive."""
        return self.words_kept / self.words if self.words else 1.0


def score(notes: Sequence[GoldNote], outputs: Sequence[str]) -> RealScores:
    """The scorer's figures for ``outputs``, the de-identified texts of ``notes`` in the same order."""
    scores = RealScores()
    for note, output in zip(notes, outputs, strict=True):
        scores.add(note, output)
    return scores
