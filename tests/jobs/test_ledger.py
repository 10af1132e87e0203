"""The ledger's commits on local disk and on a real S3 server (moto): compare-and-swap holds, and of two
runs that planned on the same index exactly one commits, leaving a folder the next run reads whole.

These run the ledger and the shard worker in this process (no Ray): the protocol is what is under test.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from medbatch.jobs import JobConfig
from medbatch.jobs.ledger import OutputFolder, finish
from medbatch.jobs.ledger.index import INDEX_FILE, INDEX_SCHEMA, commit_index, read_index
from medbatch.jobs.ledger.lease import RUN_FILE
from medbatch.jobs.ledger.store import Store
from medbatch.jobs.sources.listing import list_source_files
from medbatch.jobs.worker import ShardWorker
from medbatch.notes.engines.fake import FakeEngineConfig
from medbatch.spec import Corpus
from tests.corpora import corpus_yaml, notes, rows, write_jsonl


@pytest.fixture(params=["local", "s3"])
def output_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty output folder on local disk, or in a fresh bucket of the moto S3 server."""
    if request.param == "local":
        return str(tmp_path / "out")
    bucket: str = request.getfixturevalue("bucket")
    return f"s3://{bucket}/out"


def test_put_if_replaces_only_the_version_it_was_given(output_uri: str) -> None:
    store = Store.at_uri(output_uri)
    assert store.conditional
    assert store.read_versioned("f.json") == (None, None)
    assert store.put_if("f.json", b"1", None), "creates a file that does not exist"
    assert not store.put_if("f.json", b"x", None), "does not create over an existing file"
    data, first = store.read_versioned("f.json")
    assert (data, first is not None) == (b"1", True)

    assert store.put_if("f.json", b"2", first)
    data, second = store.read_versioned("f.json")
    assert (data, second != first) == (b"2", True)
    assert not store.put_if("f.json", b"3", first), "a stale version loses"
    assert store.read("f.json") == b"2", "and writes nothing"


def test_take_overs_each_get_a_generation_and_the_last_owns(output_uri: str) -> None:
    output = OutputFolder(output_uri)
    leases = [output.take_over() for _ in range(3)]
    assert [lease.generation for lease in leases] == [1, 2, 3]
    assert [output.owns(lease) for lease in leases] == [False, False, True]
    output.store.write(RUN_FILE, b"{damaged")
    assert output.take_over().generation == 1, "a damaged run file is taken over like a missing one"


def test_concurrent_commits_on_local_disk_have_one_winner_each_round(tmp_path: Path) -> None:
    """Threads racing the same compare-and-swap, released together: the lock makes it exactly one."""
    store = Store.at_uri(str(tmp_path / "out"))
    store.put_if("f", b"0", None)
    for round_ in range(20):
        _, version = store.read_versioned("f")
        start = threading.Barrier(4)
        won: list[str] = []

        def commit(tag: str, version: str | None, start: threading.Barrier, won: list[str]) -> None:
            start.wait()
            if store.put_if("f", tag.encode(), version):
                won.append(tag)

        threads = [
            threading.Thread(target=commit, args=(f"{round_}-{w}", version, start, won)) for w in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1, f"round {round_}: {len(won)} writers committed"
        assert store.read("f") == won[0].encode()


def _config(source: str, output_uri: str, calls: Path) -> JobConfig:
    spec = Corpus.model_validate(
        corpus_yaml(
            "race",
            {"uri": source, "format": "jsonl", "idField": "note_id", "textField": "note_text"},
            limits={"shardSize": 4},
        )
    ).spec
    return JobConfig(
        corpus="race",
        spec=spec,
        source_uri=source,
        output_uri=output_uri,
        engine=FakeEngineConfig(call_log=str(calls)),
        num_workers=1,
    )


class _Run:
    """One run driven by hand through the ledger: claim, take over, plan; then process and finish."""

    def __init__(self, config: JobConfig) -> None:
        self.config = config
        self.output = OutputFolder(config.output_uri)
        self.output.claim(config)
        self.lease = self.output.take_over()
        fs_in, self.base, listed = list_source_files(config.source_uri, config.spec.source.format)
        self.plan = self.output.plan(config, fs_in, self.base, listed)

    def process(self) -> None:
        worker = ShardWorker(self.config.model_dump_json(), self.base, lease=None)
        worker.committed = self.plan.committed_keys()  # what the pipeline hands over through Ray
        for shard in self.plan.pending:
            assert not worker.run_shard(shard).superseded

    def finish(self) -> Any:
        return self.output.finish(self.plan, keep_departed=False)


def test_two_runs_racing_the_index_commit_have_exactly_one_winner(
    output_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs that planned on the same index both get to finishing (a driver that passed its lease
    check just before the other took over): the index commit lets one through, and the loser writes no
    index and removes nothing; the next run finds every note done."""
    monkeypatch.setenv("MEDBATCH_SURROGATE_KEY", "test-surrogate-key-0123456789")
    source = tmp_path / "in"
    records = rows(notes(8))
    write_jsonl(str(source / "a.jsonl"), records)
    config = _config(str(source), output_uri, tmp_path / "calls.log")
    first = _Run(config)
    first.process()
    assert first.finish().committed
    write_jsonl(str(source / "b.jsonl"), rows(notes(4, start=8)))
    records[3]["note_text"] += " Edited."  # so that finishing rewrites a part
    write_jsonl(str(source / "a.jsonl"), records)

    older, newer = _Run(config), _Run(config)
    assert older.plan.index_version == newer.plan.index_version is not None
    newer.process()
    older.process()
    # Both finish at once: the newer run folds and commits while the older one is about to commit.
    real_commit = commit_index
    outcome: dict[str, Any] = {}

    def newer_commits_first(*args: Any) -> bool:
        if "won" not in outcome:
            monkeypatch.setattr(finish, "commit_index", real_commit)
            outcome["won"] = newer.finish()
        return real_commit(*args)

    monkeypatch.setattr(finish, "commit_index", newer_commits_first)
    lost = older.finish()
    won = outcome["won"]
    assert (won.committed, lost.committed) == (True, False)
    assert lost.rows_removed == 0

    store = Store.at_uri(output_uri)
    index = read_index(store).table
    assert index is not None
    assert index.equals(won.index), "the index on disk is the winner's"
    parts = {n for n in store.listing("parts") if n.startswith("part-")}
    assert set(index["part"].drop_null().to_pylist()) <= parts, "every part the index names exists"

    after = _Run(config)
    assert (after.plan.pending, after.plan.unchanged) == ([], 2), "the next run finds every note done"
    folded = after.finish()
    assert folded.committed
    table = pq.read_table(store.path("parts"), filesystem=store.fs, columns=["id", "text_hash"])
    held = list(zip(table["id"].to_pylist(), table["text_hash"].to_pylist(), strict=True))
    assert len(held) == len(set(held)) == 12, "one row per note"


def test_the_index_commit_refuses_a_plan_made_before_another_commit(output_uri: str) -> None:
    store = Store.at_uri(output_uri)
    empty = INDEX_SCHEMA.empty_table()
    assert commit_index(store, empty, None)
    planned = read_index(store)
    assert commit_index(store, empty, planned.version)
    assert not commit_index(store, empty, planned.version), "the version planned on is gone"
    assert store.read(INDEX_FILE) is not None
