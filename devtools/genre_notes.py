"""Multi-genre notes of our own (``data/genre_notes.md``): 18 genres with marked PHI and clinical strings.

The PhysioNet halves share one hospital's clinicians, wards and places, so the gap between them says
little (docs/deidentification.md); these notes are another development set, written from public
descriptions of document genres rather than from any dev note. They are the authors' own, so like every
development set they bound nothing: held-back text decides.

Measured as the held-back multi-genre set is: the share of PHI strings left whole in the output, and the
share of marked clinical strings that did not survive.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.real_deid import GoldNote
from medbatch.spec import PhiType

SOURCE = Path(__file__).resolve().parent / "data" / "genre_notes.md"
_HEADING = re.compile(r"^## (?P<id>\w+): (?P<genre>.+)$", re.MULTILINE)
SHORT = 5
_MARK = re.compile(r"\[\[(?P<type>[A-Z_]+)\|(?P<phi>[^\]]+)\]\]|<<(?P<keep>[^>]+)>>")


@dataclass(frozen=True)
class GenreNote:
    """A note of one genre: its text with gold PHI spans, and the clinical strings that must survive."""

    gold: GoldNote
    genre: str
    keep: tuple[str, ...]


def parse(marked: str, note_id: str, genre: str) -> GenreNote:
    """The note written in ``marked`` (see the file's header for the markup), offsets into the clear text."""
    text: list[str] = []
    phi: list[tuple[int, int, str, str]] = []
    keep: list[str] = []
    at = cursor = 0
    for match in _MARK.finditer(marked):
        text.append(marked[cursor : match.start()])
        at += match.start() - cursor
        value = match.group("phi") or match.group("keep")
        if match.group("type"):
            phi.append((at, at + len(value), PhiType(match.group("type")).value, value))
        else:
            keep.append(value)
        text.append(value)
        at += len(value)
        cursor = match.end()
    text.append(marked[cursor:])
    return GenreNote(
        GoldNote(id=note_id, text="".join(text), patient=note_id, phi=tuple(phi)), genre, tuple(keep)
    )


def load(path: Path = SOURCE) -> list[GenreNote]:
    """Every note of the file, in order."""
    source = path.read_text("utf-8")
    headings = list(_HEADING.finditer(source))
    notes = []
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        body = source[heading.end() : following.start() if following else len(source)].strip("\n")
        notes.append(parse(body, heading.group("id"), heading.group("genre")))
    return notes


@dataclass(frozen=True)
class GenreScores:
    """PHI strings left whole and clinical strings lost, over a set of notes."""

    phi: int
    left_whole: int
    clinical: int
    clinical_lost: int

    @property
    def left_whole_share(self) -> float:
        """Share of PHI strings whose whole text is still in the output."""
        return self.left_whole / self.phi if self.phi else 0.0

    @property
    def clinical_lost_share(self) -> float:
        """Share of marked clinical strings that are not in the output."""
        return self.clinical_lost / self.clinical if self.clinical else 0.0


def score(notes: Sequence[GenreNote], outputs: Sequence[str]) -> GenreScores:
    """Left-whole and lost counts of ``outputs``, the de-identified texts of ``notes`` in order.

    Each mention counts; one is left whole when its text is still in the output (a string shorter than
    ``SHORT`` characters, an age or a two-digit year, only with a neighbour it had in the note, as the
    workplace's scorer judges short spans).
    """
    phi = whole = clinical = lost = 0
    for note, output in zip(notes, outputs, strict=True):
        for start, end, _type, value in note.gold.phi:
            phi += 1
            if len(value) >= SHORT:
                whole += value in output
            else:
                before, after = note.gold.text[max(0, start - 6) : start], note.gold.text[end : end + 6]
                whole += (before + value) in output or (value + after) in output
        clinical += len(note.keep)
        lost += sum(value not in output for value in note.keep)
    return GenreScores(phi, whole, clinical, lost)
