"""The lexicons: shipped in the package, each file's source recorded, and the word classes they give."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from medbatch.notes.tasks.deid.lexicons import lexicons
from medbatch.notes.tasks.deid.tokens import words

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "medbatch" / "notes" / "tasks" / "deid" / "data"


def test_every_data_file_is_packaged_and_its_source_recorded() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "medbatch"
    ]
    sources = (DATA / "SOURCES.md").read_text()
    for path in DATA.iterdir():
        relative = path.relative_to(ROOT / "medbatch").as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs), f"{relative} is not in package-data"
        if path.name != "SOURCES.md":
            assert f"`{path.name}`" in sources, f"{path.name} has no source and license in SOURCES.md"


@pytest.mark.parametrize(
    ("word", "name", "common"),
    [
        ("kowalski", True, False),  # a surname, no English word: masked wherever it is capitalised
        ("smith", True, True),  # a surname and a word ("smith"): needs a cue
        ("foley", True, True),  # a surname and a catheter: clinical vocabulary keeps it
        ("parkinson", True, True),
        ("heparin", False, True),
        ("rivers", True, True),  # an inflection of a common word
        ("fax", False, False),  # in the 2010 Census list, but a frequent English word first: dropped
    ],
)
def test_word_classes(word: str, name: bool, common: bool) -> None:
    lex = lexicons()
    assert (lex.is_name(word), lex.is_common(word)) == (name, common)


def test_places_of_several_words_are_phrases() -> None:
    lex = lexicons()
    assert ("san", "diego") in lex.place_phrases.phrases
    assert 2 in lex.place_phrases["san"]


def test_words_carry_their_flags_and_lines() -> None:
    found = words("Dr. Kowalski\nsaw the pt.", lexicons())
    assert [(w.text, w.line) for w in found] == [
        ("Dr", 0),
        ("Kowalski", 0),
        ("saw", 1),
        ("the", 1),
        ("pt", 1),
    ]
    assert found[1].name
    assert not found[1].common
