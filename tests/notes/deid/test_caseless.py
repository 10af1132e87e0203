"""Names, initials, titles and partial dates in notes written without case (all capitals or all lower
case), where a capital says nothing: made-up sentences, each with what must go and what must stay."""

from __future__ import annotations

import pytest

from medbatch.notes.tasks.deid.recognizers import find_phi


def _removed(text: str) -> list[str]:
    return [text[s.start : s.end] for s in find_phi(text, recall_first=True)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # an initial, a surname that is an English word, a verb of clinical work
        ("T BAKER ORDERED REPEAT LYTES.", "BAKER"),
        ("t baker ordered repeat lytes.", "baker"),
        ("Q. VANTOSH AWARE OF K 3.1.", "VANTOSH"),
        ("q. vantosh aware of k 3.1.", "vantosh"),
        # a role before it
        ("HO BAKER PAGED RE: HR 140S.", "BAKER"),
        ("ho lane paged re hr 140s.", "lane"),
        ("HO JOY AWARE OF BP.", "JOY"),
        ("RESIDENT MASON NOTIFIED OF K.", "MASON"),
        # per and an initial
        ("per k lane, continue lasix.", "lane"),
        ("PER T. HUNTER, HOLD LASIX.", "HUNTER"),
        # titles in any case
        ("PER DR QUENBY WILL DIURESE TONIGHT.", "QUENBY"),
        ("d/w dr. hunter re plan.", "hunter"),
        ("np hunter aware of bp.", "hunter"),
        # relatives by first name once introduced
        ("DAUGHTER ELSPETH AT BEDSIDE. ELSPETH UPDATED BY MD.", "ELSPETH"),
        ("daughter mavis here today. mavis to call in am.", "mavis"),
        # two-digit years and months alone in histories
        ("S/P CABG X3 '88, STENT '04.", "'88"),
        ("s/p cabg x3 '88, stent '04.", "'04"),
        ("s/p appy in june of this year.", "june"),
        ("PT SEEN ON 4 JUNE, NO CHANGE.", "4 JUNE"),
    ],
)
def test_a_name_or_date_without_case_is_removed(text: str, value: str) -> None:
    spans = find_phi(text, recall_first=True)
    kept = "".join(ch if not any(s.start <= k < s.end for s in spans) else "#" for k, ch in enumerate(text))
    assert value not in kept, _removed(text)


@pytest.mark.parametrize(
    "text",
    [
        "T MAX 38.5. L HAND SWOLLEN.",
        "t max 38.5. l hand swollen.",
        "1 TAB PER DAY. PER PROTOCOL.",
        "per protocol k repleted.",
        "per q day dosing, x 2 doses.",
        "K LYTES ORDERED. MD AWARE.",
        "A LINE CALLED IN. CXR ORDERED.",
        "RN CHANGE ORDERED.",
        "HEIGHT 5'10\", WEIGHT 80 KG.",
        "seen by PA this am, plan per team.",
    ],
)
def test_clinical_text_without_case_stays(text: str) -> None:
    assert _removed(text) == []
