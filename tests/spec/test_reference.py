"""docs/spec-reference.md is generated from the models and must not drift."""

from __future__ import annotations

from pathlib import Path

from devtools.spec_reference import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "spec-reference.md"


def test_reference_is_current() -> None:
    assert DOC.read_text() == render(), (
        "regenerate: python -m devtools.spec_reference > docs/spec-reference.md"
    )


def test_every_field_is_documented() -> None:
    rows = [line for line in render().splitlines() if line.startswith("| `")]
    assert rows
    undocumented = [
        row.split("|")[1].strip() for row in rows if not row.removesuffix("|").rsplit("|", 1)[1].strip()
    ]
    assert undocumented == []
