"""Planning an incremental run at scale: 1M notes already processed, 1% new.

Builds, in a temporary folder, a JSONL corpus of N short notes over F files and the output folder a
completed run leaves (one part per file in the output schema, ``_index.parquet`` naming every record's
part), written with medbatch's own writers because a real 1M-note run does not fit a benchmark. Then it
adds a file with ``new_fraction`` x N new notes and times, alternating, ``plan_run`` for:

- the full run: the same corpus into an empty output (every file counted, every note to do);
- the incremental run: the grown corpus against the finished folder.

Printed: planning seconds (median and range over the rounds), bytes planning read, notes to process;
and the cost of the ledger's conditional commit of the 1M-record index against an unconditional atomic
write of the same bytes (local disk, and moto's S3 server when moto is installed), alternated.
Used by ``bench/pipeline_overhead.py --incremental-notes``.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa


def _write_corpus(
    folder: Path, files: int, per_file: int, prefix: str
) -> list[tuple[str, list[str], list[str]]]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for f in range(files):
        ids = [f"{prefix}{f}-{i}" for i in range(per_file)]
        texts = [
            f"Patient seen on day {i} of file {f}; BP stable, plan unchanged. {prefix}"
            for i in range(per_file)
        ]
        name = f"{prefix}{f:04d}.jsonl"
        with (folder / name).open("w") as handle:
            for note_id, text in zip(ids, texts, strict=True):
                handle.write(json.dumps({"note_id": note_id, "note_text": text}) + "\n")
        written.append((name, ids, texts))
    return written


def _finished_output(out: Path, source: Path, corpus: list[tuple[str, list[str], list[str]]]) -> None:
    """The folder a completed run over ``corpus`` leaves: parts, index, job file."""
    from medbatch.jobs.ledger.index import commit_index
    from medbatch.jobs.ledger.keys import KEY_BYTES, note_key, text_hash
    from medbatch.jobs.ledger.parts import new_part_name, output_schema, write_part
    from medbatch.jobs.ledger.store import Store
    from medbatch.jobs.sources.listing import file_version

    store = Store.at_uri(str(out))
    schema = output_schema()
    index_parts = []
    for name, ids, texts in corpus:
        hashes = [text_hash(t) for t in texts]
        part = new_part_name(name.removesuffix(".jsonl"))
        n = len(ids)
        columns: dict[str, Any] = {field.name: pa.nulls(n, field.type) for field in schema}
        columns.update(
            id=ids,
            text_deid=texts,
            text_hash=hashes,
            model=["fake"] * n,
            prompt_version=["fake-v1"] * n,
            tokens_in=[0] * n,
            tokens_out=[0] * n,
            phi_counts=[[] for _ in range(n)],
            source_file=[name] * n,
            source_row=list(range(n)),
            shard=[part] * n,
        )
        write_part(store, part, pa.table(columns, schema=schema))
        version = file_version(store.fs.info(str(source / name)))
        index_parts.append(
            pa.table(
                {
                    "source_file": [name] * n,
                    "source_version": [version] * n,
                    "source_row": list(range(n)),
                    "id": ids,
                    "key": pa.array(
                        [note_key(i, h) for i, h in zip(ids, hashes, strict=True)], pa.binary(KEY_BYTES)
                    ),
                    "part": [part] * n,
                    "retry": [False] * n,
                }
            )
        )
    assert commit_index(store, pa.concat_tables(index_parts), None)


def _plan(config: Any, out: str) -> dict[str, Any]:
    from medbatch.jobs.ledger import OutputFolder
    from medbatch.jobs.sources.listing import list_source_files

    started = time.perf_counter()
    fs_in, base, listed = list_source_files(config.source_uri, config.spec.source.format)
    plan = OutputFolder(out).plan(config, fs_in, base, listed)
    keys = plan.committed_keys()  # what the workers receive: part of the planning cost
    return {
        "seconds": time.perf_counter() - started,
        "bytes_read": plan.bytes_read,
        "records_to_read": sum(s.rows for s in plan.pending),
        "committed_keys": len(keys),
    }


def _commit_cost(uri: str, index: pa.Table, rounds: int) -> dict[str, Any]:
    """Seconds to commit ``index`` by compare-and-swap vs to write it unconditionally, alternated."""
    from medbatch.jobs.ledger.index import commit_index, read_index, table_bytes
    from medbatch.jobs.ledger.store import Store

    store = Store.at_uri(uri)
    conditional, plain = [], []
    for _ in range(rounds):
        version = read_index(store).version
        started = time.perf_counter()
        assert commit_index(store, index, version)
        conditional.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.write("_index_unconditional.parquet", table_bytes(index))
        plain.append(time.perf_counter() - started)
    return {
        "conditional_s_median": round(statistics.median(conditional), 4),
        "conditional_s_range": [round(min(conditional), 4), round(max(conditional), 4)],
        "unconditional_s_median": round(statistics.median(plain), 4),
        "unconditional_s_range": [round(min(plain), 4), round(max(plain), 4)],
        "index_bytes": len(table_bytes(index)),
    }


def _s3_commit_cost(index: pa.Table, rounds: int) -> dict[str, Any] | None:
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError:
        return None
    import os

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
        return _commit_cost("s3://bench/out", index, rounds)
    finally:
        server.stop()


def measure(
    notes: int = 1_000_000, files: int = 100, new_fraction: float = 0.01, rounds: int = 3
) -> dict[str, Any]:
    """Full vs incremental planning figures (see the module docstring)."""
    from medbatch.jobs import JobConfig
    from medbatch.spec import CorpusSpec

    root = Path(tempfile.mkdtemp(prefix="mb-incr-"))
    try:
        source, finished, empty = root / "in", root / "out", root / "empty"
        started = time.perf_counter()
        corpus = _write_corpus(source, files, notes // files, "n")
        _finished_output(finished, source, corpus)
        new = int(notes * new_fraction)
        _write_corpus(source, 1, new, "new")
        setup_s = time.perf_counter() - started
        spec = CorpusSpec.model_validate(
            {
                "source": {
                    "uri": str(source),
                    "format": "jsonl",
                    "idField": "note_id",
                    "textField": "note_text",
                },
                "tasks": {"deidentify": {}},
            }
        )
        config = JobConfig(corpus="bench", spec=spec, source_uri=str(source), output_uri=str(finished))
        full, incremental = [], []
        for _ in range(rounds):  # alternate, so that drift on a noisy machine hits both alike
            full.append(_plan(config, str(empty)))
            incremental.append(_plan(config, str(finished)))

        def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
            times = [r["seconds"] for r in runs]
            return {
                "planning_s_median": round(statistics.median(times), 3),
                "planning_s_range": [round(min(times), 3), round(max(times), 3)],
                "bytes_read": runs[0]["bytes_read"],
                "records_to_read": runs[0]["records_to_read"],
                "committed_keys": runs[0]["committed_keys"],
            }

        full_s, incr_s = summary(full), summary(incremental)
        from medbatch.jobs.ledger.index import read_index
        from medbatch.jobs.ledger.store import Store

        index = read_index(Store.at_uri(str(finished))).table
        assert index is not None
        return {
            "notes_committed": notes,
            "notes_new": new,
            "files": files + 1,
            "setup_s": round(setup_s, 1),
            "full_run_planning": full_s,
            "incremental_planning": incr_s,
            "bytes_read_ratio": round(incr_s["bytes_read"] / full_s["bytes_read"], 4),
            "time_ratio_median": round(incr_s["planning_s_median"] / full_s["planning_s_median"], 3),
            "index_commit_local": _commit_cost(str(root / "commits"), index, rounds * 3),
            "index_commit_s3_moto": _s3_commit_cost(index, rounds * 3),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
