"""The recognizer registry: each recognizer's name, the PHI types it finds and the stage it runs in.

As in Presidio's ``RecognizerRegistry``, ``find_phi`` knows no recognizer by name: it runs the registered
ones stage by stage. Adding a recognizer is adding a ``Recognizer`` to ``recognizers.RECOGNIZERS``; adding
a locale is adding its word lists under ``locales/`` (docs/deidentification.md, "Extending").

The stages exist because some evidence needs other evidence first:

1. ``PATTERNS``: regexes and matchers over the text, independent of each other. Names they find are
   *seeds*: the word-level name recognizer grows them ("Dr. Ana" + "Lucía Reyes") and finds their other
   mentions, so they are not final spans yet.
2. ``FALLBACK``: generic shapes (a digit-group identifier) that count only where no span of stage 1
   stands, so that "Member ID 123-45" stays a health-plan number, not an anonymous ID.
3. ``WORDS``: recognizers over the note's words, which read what stages 1-2 found (a contact's name
   comes before the phone number found in stage 1).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass, field
from enum import IntEnum

from medbatch.notes.spans import PhiSpan, merge_phi
from medbatch.notes.tasks.deid.locales import Locale
from medbatch.notes.tasks.deid.tokens import Word
from medbatch.spec import PhiType


class Stage(IntEnum):
    """When a recognizer runs (see the module docstring)."""

    PATTERNS = 1
    FALLBACK = 2
    WORDS = 3


@dataclass
class NoteView:
    """What recognizers read: the note, its words, and what earlier stages found."""

    text: str
    words: Sequence[Word]
    vocabulary: Set[str]  # the note's words in lower case (hyphenated parts too): cue-word lookups
    case: tuple[bool, bool]  # names.note_case: (capitals mean something, written all in lower case)
    recall_first: bool = False
    spans: list[PhiSpan] = field(default_factory=list)
    seeds: list[PhiSpan] = field(default_factory=list)  # names found by stage 1, for the name recognizer


@dataclass(frozen=True)
class Recognizer:
    """One recognizer: ``find`` yields spans of ``types`` (and only those) for a note."""

    name: str
    types: frozenset[PhiType]
    stage: Stage
    find: Callable[[NoteView], Iterable[PhiSpan]]


@dataclass(frozen=True)
class Registry:
    """The recognizers ``find_phi`` runs, and the locale whose data their patterns were built from."""

    locale: Locale
    recognizers: tuple[Recognizer, ...]


def _overlaps(taken: list[PhiSpan], starts: list[int], span: PhiSpan) -> bool:
    """Whether ``span`` overlaps one of ``taken`` (sorted, disjoint; ``starts`` their starts)."""
    i = bisect.bisect_left(starts, span.end)
    return i > 0 and taken[i - 1].end > span.start


def run_stages(recognizers: Sequence[Recognizer], view: NoteView) -> list[PhiSpan]:
    """Every span the ``recognizers`` find in ``view``, stage by stage (unmerged)."""
    for stage in Stage:
        taken = merge_phi(view.spans)
        starts = [t.start for t in taken]
        for recognizer in recognizers:
            if recognizer.stage is not stage:
                continue
            for span in recognizer.find(view):
                if span.type not in recognizer.types:
                    raise ValueError(f"recognizer {recognizer.name} found {span.type}, not one of its types")
                if stage is Stage.FALLBACK and _overlaps(taken, starts, span):
                    continue
                if stage is Stage.PATTERNS and span.type == PhiType.NAME:
                    view.seeds.append(span)
                else:
                    view.spans.append(span)
    return view.spans
