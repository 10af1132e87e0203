"""No PHI of the development notes in the project: examples in code, comments, docs and tests are made up.

The gold PHI of ../shared/data/deid-real-dev is searched for in every file git tracks (or would track):
whole strings that identify on their own (several words, or seven digits and more) and rare words (five
letters or more that no English, clinical or frequent-word list holds: surnames, odd first names, place
names). A hit means an example was copied from a note: replace it with a made-up one of the same shape.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from devtools import real_deid
from medbatch.notes.tasks.deid.lexicons import lexicons

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(not real_deid.available(), reason="the dev notes are in ../shared/data")
# Binary or generated files that hold no prose of ours.
SKIPPED = (".gz", ".parquet", ".png", ".whl")


def _source_texts() -> dict[str, str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return {
        name: (ROOT / name).read_text(errors="ignore")
        for name in listed
        if name and not name.endswith(SKIPPED) and (ROOT / name).is_file()
    }


def _gold_strings() -> set[str]:
    return {
        value for corpus in real_deid.CORPORA for note in real_deid.load(corpus) for *_, value in note.phi
    }


def _identifying(value: str) -> bool:
    words = re.findall(r"[A-Za-z]{3,}", value)
    return len(words) >= 2 or len(re.sub(r"\D", "", value)) >= 7


def _rare_words(values: set[str]) -> set[str]:
    known = lexicons()
    return {
        word.lower()
        for value in values
        for word in re.findall(r"[A-Za-z]{5,}", value)
        if not known.is_common(word.lower()) and word.lower() not in known.frequent
    }


def test_no_development_note_phi_appears_in_the_project() -> None:
    texts = _source_texts()
    gold = _gold_strings()
    assert len(gold) > 500, "the gold standard did not load"
    found: list[str] = []
    for value in sorted(v for v in gold if _identifying(v)):
        pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", re.IGNORECASE)
        found += [
            f"{name}: a PHI string of the dev notes" for name, text in texts.items() if pattern.search(text)
        ]
    words = _rare_words(gold)
    assert len(words) > 50
    for name, text in texts.items():
        present = {w.lower() for w in re.findall(r"[A-Za-z]{5,}", text)} & words
        found += [f"{name}: a rare name or place word of the dev notes" for _ in sorted(present)]
    # The message names files only: the PHI itself is not repeated in the test's output.
    assert found == [], "\n".join(sorted(set(found)))
