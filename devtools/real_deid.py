"""De-identification measured on real clinical notes with gold PHI, by the workplace's own scorer.

The notes live outside the project (``../shared/data/deid-real-dev``: half of the PhysioNet deid gold
standard and an i2b2 2014 sample; ``../shared/data/mtsamples-dev``: real transcription reports of 30
specialties, nearly free of PHI, for over-redaction) and are never copied into it.

Development works as statisticians do: ``split`` cuts a corpus by patient into a *working* half, the
only one whose notes anyone reads or tunes on, and a *check* half, whose figures alone are read. A change
that lifts the working half and not the check half learned notes, not the task. The split hashes the
patient id with a fixed salt chosen before any figure was seen; never change it to move a note. Scoring calls the leak rule of
``../shared/tools/deid_score.py`` itself, so the figures here are the scorer's figures: a PHI span leaks
when its text, its digits, or any of its words of 4+ letters survive; ``nonphi_word_retention`` is the
share of words outside every PHI span that survive (the over-masking proxy).
"""

from __future__ import annotations

import hashlib
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
MTSAMPLES = SHARED / "data" / "mtsamples-dev" / "notes.jsonl"
HALVES = ("working", "check")
_SPLIT_SALT = b"medbatch-dev-split-v1:"
_WORD = re.compile(r"[A-Za-z]{3,}")


@dataclass(frozen=True)
class GoldNote:
    """A real note and its gold PHI spans (start, end, type, text)."""

    id: str
    text: str
    patient: str
    phi: tuple[tuple[int, int, str, str], ...]


def available(corpus: str = "physionet") -> bool:
    """Whether the corpus's notes and the scorer are beside the checkout."""
    data = MTSAMPLES if corpus == "mtsamples" else DATA
    return data.exists() and SCORER.is_file()


def load(corpus: str) -> list[GoldNote]:
    """The notes of ``corpus`` ("physionet", "i2b2" or "mtsamples") with their gold spans, in file order.

    MTSamples has no gold: its reports carry almost no PHI, so every word is one that should survive.
    """
    if corpus == "mtsamples":
        return [GoldNote(id=n["id"], text=n["text"], patient=n["id"], phi=()) for n in _jsonl(MTSAMPLES)]
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


def half_of(patient: str) -> str:
    """``working`` or ``check``: a patient's half, the same in every run and on every machine."""
    return HALVES[hashlib.sha256(_SPLIT_SALT + patient.encode()).digest()[0] % 2]


def split(notes: Sequence[GoldNote]) -> dict[str, list[GoldNote]]:
    """The notes by half (all notes of a patient in one half), in file order."""
    halves: dict[str, list[GoldNote]] = {half: [] for half in HALVES}
    for note in notes:
        halves[half_of(note.patient)].append(note)
    return halves


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
    lost: Counter[str] = field(default_factory=Counter)

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
        self.lost.update({w: n - have[w] for w, n in need.items() if n > have[w]})

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
