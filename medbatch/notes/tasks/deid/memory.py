"""Corpus memory: what the rules found with evidence in some notes, masked in every note of the corpus.

One institution's notes name the same clinicians, wards and places again and again, with a cue in some
mentions ("Dr. Vantosh", "transferred to Ashcombe 4") and none in most ("per Vantosh", "back to Ashcombe
4"). The rules judge each note alone and miss the bare mentions; the memory carries what a cue taught to
every other note. A batch job learns in a first pass over the notes (``MemoryLearner``: every NAME and
LOCATION the rules find, counted once per note) and masks in the second (``CorpusMemory.find``: every
occurrence, cue or no cue).

What may enter, so that a false positive cannot spread (docs/deidentification.md, "Corpus memory"):

- a NAME or LOCATION value with at least one word of ``MIN_LETTERS``+ letters that no English, clinical,
  drug or frequent-word list holds (a clinical word or an everyday word never enters); for a NAME, each
  such word alone too (the surname of "John Vantosh" is "Vantosh" on its own later);
- found in at least ``min_count`` notes.

A mention is masked where its words, compared case-insensitively, equal a remembered value's; in a note
whose letters have case, only where the mention starts with a capital (a lower-case "baker" in prose is a
word). The memory never holds the strings: it holds keyed hashes (BLAKE2b keyed with the job's key, a
MAC like HMAC), and a note is matched by hashing its word windows. So what a job keeps between runs, and
what crosses Ray's object store, holds no clear text.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from medbatch.notes.spans import PhiSpan, SpanSource
from medbatch.notes.tasks.deid.lexicons import Lexicons, lexicons
from medbatch.notes.tasks.deid.recognizers import find_phi
from medbatch.spec import PhiType

LEARNED_TYPES = frozenset({PhiType.NAME, PhiType.LOCATION})
MIN_LETTERS = 4
MAX_WORDS = 6  # longer values are rare and not worth the windows
DIGEST_BYTES = 16
_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
_LETTERS = re.compile(r"[a-z]+")

Entry = tuple[PhiType, bytes]


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]


def _distinctive(word: str, lists: Lexicons) -> bool:
    """A word long enough and in no English, clinical, drug or frequent-word list."""
    letters = "".join(_LETTERS.findall(word))
    return len(letters) >= MIN_LETTERS and not lists.is_common(letters) and not lists.is_everyday(letters)


class MemoryKey:
    """Keyed hashes of normalized values (lower-case words joined by one space)."""

    def __init__(self, key: bytes) -> None:
        # Derived, so the memory's hashes never equal another use of the same key's.
        self._key = hashlib.sha256(b"medbatch-corpus-memory:" + key).digest()

    def digest(self, words: Iterable[str]) -> bytes:
        """The keyed hash of a value's words."""
        return hashlib.blake2b(" ".join(words).encode(), key=self._key, digest_size=DIGEST_BYTES).digest()


@dataclass
class MemoryCounts:
    """Keyed hashes of learnable values by type, each counted once per note that yielded it."""

    counts: Counter[Entry] = field(default_factory=Counter)

    def add(self, other: MemoryCounts) -> None:
        """Add another pass's (another shard's) counts."""
        self.counts.update(other.counts)

    def to_json(self) -> dict[str, dict[str, int]]:
        """``{type: {hex digest: count}}``: what a shard returns and a job keeps (no clear text)."""
        out: dict[str, dict[str, int]] = {}
        for (kind, digest), count in self.counts.items():
            out.setdefault(kind.value, {})[digest.hex()] = count
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Mapping[str, int]]) -> MemoryCounts:
        """The counts ``to_json`` wrote."""
        return cls(
            Counter({(PhiType(k), bytes.fromhex(h)): n for k, by in data.items() for h, n in by.items()})
        )


def learn(text: str, spans: Sequence[PhiSpan], key: MemoryKey, lists: Lexicons | None = None) -> set[Entry]:
    """The learnable values among the rule spans of one note, as keyed hashes."""
    lists = lists or lexicons()
    found: set[Entry] = set()
    for span in spans:
        if span.type not in LEARNED_TYPES or span.source is not SpanSource.RULE:
            continue
        words = [w for _s, _e, w in _words(text[span.start : span.end])]
        if not words or len(words) > MAX_WORDS:
            continue
        distinctive = [w for w in words if _distinctive(w, lists)]
        if not distinctive:
            continue
        found.add((span.type, key.digest(words)))
        if span.type == PhiType.NAME and len(words) > 1:
            found.update((PhiType.NAME, key.digest([w])) for w in distinctive)
    return found


def note_entries(text: str, key: MemoryKey) -> set[Entry]:
    """What one note teaches: ``learn`` on the rules' spans with ``recallFirst`` off (the catch-all for
    capitalised words is no evidence)."""
    return learn(text, find_phi(text, recall_first=False), key)


def corpus_memory(texts: Iterable[str], key: MemoryKey, min_count: int) -> CorpusMemory:
    """Both of a corpus's passes' first, in one process (evaluations; a batch job spreads it over Ray)."""
    counts = MemoryCounts()
    for text in texts:
        counts.counts.update(note_entries(text, key))
    return CorpusMemory(key, counts, min_count)


class CorpusMemory:
    """The values a corpus taught, ready to be found in any of its notes."""

    def __init__(self, key: MemoryKey, counts: MemoryCounts, min_count: int = 1) -> None:
        self.key = key
        self._types: dict[bytes, PhiType] = {}
        for (kind, digest), count in counts.counts.items():
            if count >= min_count:
                # A value learned as both types is masked once, as a name (either removes it).
                self._types[digest] = PhiType.NAME if digest in self._types else kind

    def __len__(self) -> int:
        return len(self._types)

    def find(self, text: str, skip: Sequence[PhiSpan] = (), *, any_case: bool = False) -> list[PhiSpan]:
        """Spans of remembered values in ``text``, longest first at each word, none overlapping ``skip``
        (what other recognizers found already: the memory's spans are what it adds). ``any_case``: also
        where a cased note writes the value in lower case (the audit's reading, not the masking's)."""
        if not self._types:
            return []
        words = _words(text)
        cased = not any_case and any(c.isupper() for c in text) and any(c.islower() for c in text)
        taken = bytearray(len(text))
        for span in skip:
            taken[span.start : span.end] = b"\x01" * (span.end - span.start)
        found: list[PhiSpan] = []
        i = 0
        while i < len(words):
            start = words[i][0]
            if cased and not text[start].isupper():
                i += 1
                continue
            for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
                kind = self._types.get(self.key.digest(w for _s, _e, w in words[i : i + n]))
                end = words[i + n - 1][1]
                if kind is not None and not any(taken[start:end]):
                    found.append(PhiSpan(start, end, kind, SpanSource.MEMORY))
                    i += n
                    break
            else:
                i += 1
        return found
