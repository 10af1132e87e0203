"""requirements/lock.txt is what CI, the images and the docs' install lines use: it must satisfy every
range of pyproject.toml, and every install line in the docs must name an extra that exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devtools.smoke import LOCK_OPTION, doc_blocks

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# bench/deid_eval.py's peers are installed on demand, beside the lock (docs/deidentification.md).
NOT_LOCKED = {"eval"}


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _requirements() -> list[tuple[str, Requirement]]:
    found = [("core", Requirement(r)) for r in PROJECT["dependencies"]]
    for extra, items in PROJECT["optional-dependencies"].items():
        if extra not in NOT_LOCKED:
            found += [(extra, Requirement(r)) for r in items]
    return [(extra, r) for extra, r in found if canonicalize_name(r.name) != "medbatch"]


def test_the_lock_satisfies_every_range() -> None:
    locked = _locked()
    wrong = []
    for extra, requirement in _requirements():
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        version = locked.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            wrong.append(f"[{extra}] {requirement} (locked: {version})")
    assert wrong == [], "run `make lock` after changing pyproject.toml: " + "; ".join(wrong)


def test_the_lock_pins_every_package_exactly() -> None:
    lines = [
        line
        for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    ]
    assert lines, "empty lock"
    assert [line for line in lines if "==" not in line] == []


def test_every_install_line_in_the_docs_names_an_extra_that_exists() -> None:
    extras = set(PROJECT["optional-dependencies"])
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted(ROOT.glob("*.md"))]
    named = [
        (doc.name, extra.strip())
        for doc in docs
        for match in re.finditer(r"pip install[^\n`]*?\.\[([\w,\- ]+)\]", doc.read_text())
        for extra in match.group(1).split(",")
    ]
    assert named, "no install line found"
    assert [(doc, extra) for doc, extra in named if extra not in extras] == []


def test_every_user_facing_extra_has_its_documented_smoke_test() -> None:
    """jobs, serve and operator each have documented commands, and each group starts with the docs' own
    install line, from the lock, of that very extra."""
    blocks = doc_blocks(ROOT)
    for extra in ("jobs", "serve", "operator"):
        mine = [b for b in blocks if b.extra == extra]
        assert mine, f"no documented smoke block for [{extra}]"
        assert f'{LOCK_OPTION}-e ".[{extra}]"' in mine[0].body, mine[0].where
    served = [b for b in blocks if b.background]
    assert served
    assert all(b.ready for b in served)
