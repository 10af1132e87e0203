"""The pure rules of which rows stay: one per current note, the first part by name that holds it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from medbatch.jobs.ledger.index import DEPARTED, RECORD_SCHEMA
from medbatch.jobs.ledger.keys import KEY_BYTES, note_key, text_hash
from medbatch.jobs.ledger.plan import RunPlan
from medbatch.jobs.ledger.reconcile import CONTENTS_SCHEMA, departed, reconcile


def key(note_id: str, text: str) -> bytes:
    return note_key(note_id, text_hash(text))


def records(*notes: tuple[str, str]) -> pa.Table:
    """The source as it is now: one record per (id, text), rows in order, all in one file."""
    return pa.table(
        {
            "source_file": ["a.jsonl"] * len(notes),
            "source_version": ["v2"] * len(notes),
            "source_row": list(range(len(notes))),
            "id": [i for i, _ in notes],
            "key": [key(i, t) for i, t in notes],
        },
        schema=RECORD_SCHEMA,
    )


def contents(*rows: tuple[str, str, str], retry: frozenset[str] = frozenset()) -> pa.Table:
    """What the parts hold: (id, text, part); the parts in ``retry`` hold rows with a retryable error."""
    return pa.table(
        {
            "key": [key(i, t) for i, t, _ in rows],
            "part": [p for _, _, p in rows],
            "retry": [p in retry for _, _, p in rows],
        },
        schema=CONTENTS_SCHEMA,
    )


def dropped(result_drop: pa.Table) -> set[tuple[bytes, str]]:
    return set(zip(result_drop["key"].to_pylist(), result_drop["part"].to_pylist(), strict=True))


def test_edited_departed_and_duplicate_rows_go_and_each_note_keeps_one() -> None:
    source = records(("n1", "same"), ("n2", "edited"), ("n4", "new"), ("n4", "new"))
    held = contents(
        ("n1", "same", "part-b"),
        ("n1", "same", "part-a"),  # computed twice (a retried task): the first part by name keeps it
        ("n2", "original", "part-a"),  # edited since: its old row goes
        ("n2", "edited", "part-c"),
        ("n3", "left", "part-a"),  # no longer in the source
        ("n4", "new", "part-c"),
        ("n4", "new", "part-c"),  # a repeated note lists its part twice; still one row
    )
    result = reconcile(source, held)
    assert result.index["part"].to_pylist() == ["part-a", "part-c", "part-c", "part-c"]
    assert dropped(result.drop) == {
        (key("n1", "same"), "part-b"),
        (key("n2", "original"), "part-a"),
        (key("n3", "left"), "part-a"),
    }


def test_reconcile_is_idempotent() -> None:
    source = records(("n1", "x"), ("n2", "y"))
    first = reconcile(source, contents(("n1", "x", "p1"), ("n1", "x", "p2"), ("n2", "y", "p2")))
    kept = first.index.select(CONTENTS_SCHEMA.names).cast(CONTENTS_SCHEMA)
    again = reconcile(source, kept)
    assert again.drop.num_rows == 0
    assert again.index.equals(first.index)


def test_a_row_without_a_retryable_error_beats_the_first_part() -> None:
    source = records(("n1", "x"), ("n2", "y"))
    held = contents(("n1", "x", "p1"), ("n1", "x", "p2"), ("n2", "y", "p1"), retry=frozenset({"p1"}))
    result = reconcile(source, held)
    # n1 was retried into p2 and succeeded: p2 wins over the earlier, failed p1; n2's only row stays.
    assert result.index["part"].to_pylist() == ["p2", "p1"]
    assert result.index["retry"].to_pylist() == [False, True]
    assert dropped(result.drop) == {(key("n1", "x"), "p1")}


def test_a_note_without_a_row_is_indexed_with_no_part() -> None:
    result = reconcile(records(("n1", "x")), contents())
    assert result.index["part"].to_pylist() == [None]


def test_departed_notes_are_those_whose_id_left_one_record_each() -> None:
    previous = records(("n1", "old"), ("n2", "x"), ("n3", "gone"), ("n3", "gone"), ("n4", "no row"))
    previous = previous.append_column("part", pa.array(["p1", "p1", "p1", "p2", None]))
    now = records(("n1", "new"), ("n2", "x"))
    kept = departed(previous, now)
    # n1 was edited (its id is still there): its old text is not "departed"; n4 never had a row.
    assert kept["id"].to_pylist() == ["n3"]
    assert kept["source_version"].to_pylist() == [DEPARTED]
    assert kept.schema == RECORD_SCHEMA


@pytest.mark.parametrize(
    "chunks",
    [[(5, 30), (20, 50)], [(5, 50)]],
    ids=["chunks-overlapping", "one-sliced-chunk"],
)
def test_committed_keys_are_unique_sorted_and_exact(chunks: list[tuple[int, int]]) -> None:
    keys = [key(f"n{i}", "t") for i in range(50)]
    # Sliced arrays, as filtered and concatenated tables hold: the offset into the key buffer counts.
    everything = pa.array(keys, pa.binary(KEY_BYTES))
    column = pa.chunked_array([everything.slice(start, stop - start) for start, stop in chunks])
    table = pa.table({"key": column, "part": ["p"] * len(column), "retry": [False] * len(column)})
    plan = RunPlan(
        files=[],
        unchanged=0,
        carried=records(),
        previous=records().append_column("part", pa.array([], pa.string())),
        contents=table,
        parts=set(),
        shards=[],
        pending=[],
        bytes_read=0,
        index_version=None,
    )
    got = plan.committed_keys()
    assert [bytes(k).ljust(KEY_BYTES, b"\0") for k in got] == sorted(keys[5:])
    assert np.all(got[:-1] < got[1:])
