"""De-identification floors on real notes (../shared/data/deid-real-dev), scored by the workplace's scorer.

The whole dev set runs through the same note core a batch job uses (mask strategy, CPU baseline engine)
in a few seconds. The floors sit just under today's figures, per PHI type, so a change that loses names,
dates or places on real text fails here even when the synthetic corpus still scores perfectly. Held-out
real notes decide the product's figures (docs/deidentification.md); these guard against regressions.
"""

from __future__ import annotations

import pytest

from devtools import real_deid
from devtools.real_deid import GoldNote, RealScores
from medbatch.notes import Note, process_notes
from medbatch.notes.engines.baseline import BaselineEngine
from medbatch.spec import LimitsSpec, TasksSpec

pytestmark = pytest.mark.skipif(not real_deid.available(), reason="real dev notes are in ../shared/data")


def run(notes: list[GoldNote]) -> RealScores:
    tasks = TasksSpec.model_validate({"deidentify": {}})
    outputs = process_notes(
        tasks, LimitsSpec(), BaselineEngine(), [Note(n.id, n.text, n.patient) for n in notes]
    )
    assert [o.error for o in outputs if o.error] == []
    return real_deid.score(notes, [o.text_deid or "" for o in outputs])


@pytest.fixture(scope="module")
def physionet() -> RealScores:
    return run(real_deid.load("physionet"))


def test_physionet_recall_and_retention(physionet: RealScores) -> None:
    assert sum(physionet.total.values()) == 970, "the dev set is the one documented"
    assert physionet.recall() >= 0.94
    assert physionet.retention() >= 0.99


@pytest.mark.parametrize("half", real_deid.HALVES)
def test_physionet_halves_each_hold_the_floor(half: str) -> None:
    """Both halves of the patient split: the working half (read by developers) and the check half (read as
    figures only). A gap between them is memorisation."""
    scores = run(real_deid.split(real_deid.load("physionet"))[half])
    assert scores.recall() >= 0.94
    assert scores.retention() >= 0.99


def test_the_split_is_by_patient_and_stable() -> None:
    notes = real_deid.load("physionet")
    halves = real_deid.split(notes)
    patients = {half: {n.patient for n in halves[half]} for half in real_deid.HALVES}
    assert patients["working"].isdisjoint(patients["check"])
    assert sum(len(h) for h in halves.values()) == len(notes)
    assert all(len(h) > len(notes) // 3 for h in halves.values())
    assert real_deid.half_of("patient-1") == real_deid.half_of("patient-1")


@pytest.mark.skipif(
    not real_deid.available("mtsamples"), reason="MTSamples dev reports are in ../shared/data"
)
def test_mtsamples_words_kept() -> None:
    """Over-redaction on real reports of 30 specialties (almost no PHI: nearly every word should stay).
    The floor sits under today's figure (0.997 on both halves); the target is 0.997 (docs/deidentification.md)."""
    notes = real_deid.load("mtsamples")
    assert len(notes) == 629
    scores = run(notes[::3])  # a fixed third of the reports, every specialty: a few seconds
    assert scores.retention() >= 0.995


@pytest.mark.parametrize(
    ("kind", "floor"),
    [
        ("DATE", 0.97),
        ("HCPNAME", 0.96),
        ("PTNAME", 0.93),
        ("RELATIVEPROXYNAME", 0.95),
        ("LOCATION", 0.80),
        ("PHONE", 0.96),
    ],
)
def test_physionet_recall_by_type(physionet: RealScores, kind: str, floor: float) -> None:
    assert physionet.recall(kind) >= floor, f"{kind}: {physionet.leaked[kind]}/{physionet.total[kind]} leaked"


def test_i2b2_sample() -> None:
    scores = run(real_deid.load("i2b2"))
    assert sum(scores.total.values()) == 46
    assert scores.recall() >= 0.97  # one leaked span of 46 fails
    assert scores.retention() >= 0.99


def test_the_scorer_counts_leaks() -> None:
    """The scoring is live: an untouched note leaks every span, a blanked one none."""
    notes = [n for n in real_deid.load("physionet") if n.phi][:20]
    untouched = real_deid.score(notes, [n.text for n in notes])
    blanked = real_deid.score(notes, ["" for _ in notes])
    assert untouched.recall() < 0.05
    assert blanked.recall() == 1.0
    assert blanked.retention() == 0.0
