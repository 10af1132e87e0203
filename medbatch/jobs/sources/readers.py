"""Read the records of one shard slice. Every source row becomes exactly one record, good or bad.

A record that cannot be used (no text, invalid UTF-8, not JSON, wrong type) carries an error instead of
text; it is written as an error row, never dropped. Error messages name fields and rows, never content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from medbatch.jobs.sources.compression import read_bytes, without_compression
from medbatch.jobs.sources.listing import BOM, csv_rows
from medbatch.jobs.sources.slices import Slice
from medbatch.spec import SourceFormat, SourceSpec


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One source row: its id and text, or an error saying why it has no usable text."""

    id: str
    text: str | None
    patient: str | None
    relpath: str
    row: int
    error: str | None = None
    unread: bool = False  # the file could not be read this run: not the record's fault, retried


def derived_id(relpath: str, row: int, source_format: SourceFormat) -> str:
    """The id of a record whose source has no id field: its file and row (text files: the path sans .txt)."""
    if source_format is SourceFormat.TEXT:
        return without_compression(relpath).rsplit(".", 1)[0]
    return f"{relpath}:{row}"


def _describe(value: object) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


class _Fields:
    """Turns one decoded row (a mapping) into a RawRecord, checking the configured fields."""

    def __init__(self, spec: SourceSpec, slice_: Slice) -> None:
        self.spec = spec
        self.slice = slice_

    def _text_problem(self, values: dict[str, Any], text: object) -> str | None:
        field = self.spec.text_field
        if field not in values:
            return f"text field '{field}' is missing"
        if text is None or (isinstance(text, str) and not text.strip()):
            return "text is empty"
        if not isinstance(text, str):
            return f"text field '{field}' is {_describe(text)}, not a string"
        if _has_surrogates(text):
            return "text is not valid UTF-8"
        return None

    def failed(self, row: int, error: str) -> RawRecord:
        """A row that could not be decoded at all: derived id, no text, ``error``."""
        relpath = self.slice.relpath
        return RawRecord(derived_id(relpath, row, self.spec.format), None, None, relpath, row, error)

    def _id(self, row: int, values: dict[str, Any]) -> tuple[str, str | None]:
        """The record's id and, when the id field is unusable, why (the id is then derived)."""
        spec = self.spec
        derived = derived_id(self.slice.relpath, row, spec.format)
        if spec.id_field is None:
            return derived, None
        raw_id = values.get(spec.id_field)
        field, fallback = spec.id_field, "(id derived from file and row)"
        if isinstance(raw_id, bytes):
            try:
                raw_id = raw_id.decode("utf-8")
            except UnicodeDecodeError:
                return derived, f"id field '{field}' is not valid UTF-8 {fallback}"
        if raw_id is None or raw_id == "":
            return derived, f"id field '{field}' is missing or empty {fallback}"
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            return derived, f"id field '{field}' is {_describe(raw_id)}, not a string or integer {fallback}"
        if isinstance(raw_id, str) and _has_surrogates(raw_id):
            return derived, f"id field '{field}' is not valid UTF-8 {fallback}"
        if isinstance(raw_id, str) and len(raw_id) > MAX_ID_CHARS:
            return derived, f"id field '{field}' is over {MAX_ID_CHARS} characters {fallback}"
        return str(raw_id), None

    def record(self, row: int, values: dict[str, Any]) -> RawRecord:
        """A decoded row, with an error if its id or text field is unusable."""
        spec, relpath = self.spec, self.slice.relpath
        record_id, id_error = self._id(row, values)
        patient = values.get(spec.patient_field) if spec.patient_field else None
        if patient is not None and (not isinstance(patient, str | int) or _has_surrogates(str(patient))):
            patient = None  # an unusable patient id: the note is shifted on its own, as without the field
        text = values.get(spec.text_field)
        error = None
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                text, error = None, f"text is not valid UTF-8 (at byte {exc.start})"
        if error is None:
            error = self._text_problem(values, text)
        error = error or id_error
        return RawRecord(
            record_id,
            text if error is None else None,
            None if patient is None else str(patient),
            relpath,
            row,
            error,
        )


# Ids longer than this are not ids (a text column named as the id field, say).
MAX_ID_CHARS = 1024


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_slice(fs: fsspec.AbstractFileSystem, base: str, spec: SourceSpec, slice_: Slice) -> list[RawRecord]:
    """Records ``slice_.start``..``slice_.stop`` of one file, one per source row."""
    path = base + slice_.relpath
    fields = _Fields(spec, slice_)
    rows = range(slice_.start, slice_.stop)
    if spec.format is SourceFormat.TEXT:
        data = read_bytes(fs, path)
        return [fields.record(0, {spec.text_field: data})]
    if spec.format is SourceFormat.PARQUET:
        return _read_parquet(fs, path, spec, fields, rows)
    data = read_bytes(fs, path)
    if spec.format is SourceFormat.JSONL:
        lines = [line for line in data.removeprefix(BOM).split(b"\n") if line.strip()]
        return [_jsonl_record(fields, row, lines[row]) for row in rows]
    reader = csv_rows(data)
    out = []
    for row, values in enumerate(reader):
        if row >= slice_.stop:
            break
        if row >= slice_.start:
            if None in values or any(v is None for v in values.values()):
                out.append(fields.failed(row, "row has a different number of columns than the header"))
            else:
                out.append(fields.record(row, dict(values)))
    return out


def _jsonl_record(fields: _Fields, row: int, line: bytes) -> RawRecord:
    try:
        decoded = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return fields.failed(row, f"line is not valid UTF-8 (at byte {exc.start})")
    try:
        value = json.loads(decoded)
    except json.JSONDecodeError as exc:
        return fields.failed(row, f"line is not valid JSON (at column {exc.colno})")
    except RecursionError:
        return fields.failed(row, "line is nested too deeply to read")
    except ValueError:  # an integer past Python's 4,300-digit limit for int/str conversions
        return fields.failed(row, "line holds a number too long to read")
    if not isinstance(value, dict):
        return fields.failed(row, f"line is {_describe(value)}, not a JSON object")
    return fields.record(row, value)


def _read_parquet(
    fs: fsspec.AbstractFileSystem, path: str, spec: SourceSpec, fields: _Fields, rows: range
) -> list[RawRecord]:
    with fs.open(path, "rb") as handle:
        parquet = pq.ParquetFile(handle)
        names = set(parquet.schema_arrow.names)
        wanted = [c for c in (spec.id_field, spec.text_field, spec.patient_field) if c and c in names]
        # Read only the row groups that cover the slice.
        groups, first_row, offset = [], None, 0
        for index in range(parquet.metadata.num_row_groups):
            count = parquet.metadata.row_group(index).num_rows
            if offset + count > rows.start and offset < rows.stop:
                groups.append(index)
                first_row = offset if first_row is None else first_row
            offset += count
        table = parquet.read_row_groups(groups, columns=wanted) if groups else pa.table({})
    assert first_row is not None or not groups
    window = table.slice(rows.start - (first_row or 0), len(rows))
    columns = {name: window.column(name).to_pylist() for name in window.column_names}
    text_type = parquet.schema_arrow.field(spec.text_field).type if spec.text_field in names else None
    records = []
    for i, row in enumerate(rows):
        values = {name: column[i] for name, column in columns.items()}
        if text_type is not None and pa.types.is_dictionary(text_type):
            text_type = text_type.value_type  # dictionary-encoded strings read as strings
        if text_type is not None and not (
            pa.types.is_string(text_type)
            or pa.types.is_large_string(text_type)
            or pa.types.is_binary(text_type)
            or pa.types.is_large_binary(text_type)
        ):
            records.append(
                fields.failed(row, f"text column '{spec.text_field}' has type {text_type}, not string")
            )
            continue
        records.append(fields.record(row, values))
    return records
