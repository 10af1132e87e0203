"""Write test corpora in every source format, locally or to S3, from plain dicts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from devtools.synthetic import SyntheticNote, synthetic_note
from medbatch.storage import filesystem


def notes(count: int, start: int = 0) -> list[SyntheticNote]:
    """Synthetic notes ``start``..``start + count``."""
    return [synthetic_note(i) for i in range(start, start + count)]


def rows(items: Sequence[SyntheticNote]) -> list[dict[str, Any]]:
    """Notes as source rows with the usual column names."""
    return [{"note_id": n.id, "patient_id": n.patient_id, "note_text": n.text} for n in items]


def write_bytes(uri: str, data: bytes) -> None:
    """Write raw bytes to a local path or s3:// URI."""
    fs, path = filesystem(uri)
    parent = path.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "wb") as handle:
        handle.write(data)


def write_parquet(uri: str, records: Sequence[dict[str, Any]], row_group_size: int | None = None) -> None:
    """Records as one Parquet file."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(list(records)), sink, row_group_size=row_group_size)
    write_bytes(uri, sink.getvalue())


def write_jsonl(uri: str, records: Sequence[dict[str, Any]]) -> None:
    """Records as one JSON Lines file."""
    write_bytes(uri, "".join(json.dumps(r) + "\n" for r in records).encode())


def write_csv(uri: str, records: Sequence[dict[str, Any]]) -> None:
    """Records as one CSV file with a header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    write_bytes(uri, out.getvalue().encode())


def read_output(uri: str) -> list[dict[str, Any]]:
    """All rows of all committed parts under an output URI."""
    fs, path = filesystem(uri)
    out: list[dict[str, Any]] = []
    for part in sorted(fs.glob(path.rstrip("/") + "/parts/part-*.parquet")):
        with fs.open(part, "rb") as handle:
            out.extend(pq.read_table(handle).to_pylist())
    return out


def corpus_yaml(name: str, source: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A Corpus document with all tasks on by default."""
    body: dict[str, Any] = {
        "source": source,
        "tasks": {"deidentify": {"strategy": "mask"}, "ner": {}, "summarize": {"maxWords": 40}},
        **spec,
    }
    return {"apiVersion": "medbatch.io/v1alpha1", "kind": "Corpus", "metadata": {"name": name}, "spec": body}


def yaml_bomb() -> str:
    """A "billion laughs" document: nine levels of nine aliases each would expand to 10^9 strings."""
    lines = ['a0: &a0 "lol"']
    lines += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(9))}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"
