"""The run's progress report: throughput over a sliding window, an ETA from it, and GPU time, with the
clock under the test's control (no Ray: the metrics sink is replaced)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import medbatch.jobs.metrics
from medbatch.jobs import JobConfig
from medbatch.jobs.ledger import OutputFolder
from medbatch.jobs.planning import Shard
from medbatch.jobs.process import ShardStats
from medbatch.jobs.progress import RATE_WINDOW_S, RunProgress
from medbatch.jobs.sources.slices import Slice
from medbatch.jobs.worker import ShardReport
from medbatch.spec import Corpus
from medbatch.spec.run_files import PROGRESS_FILE, ProgressReport
from tests.corpora import corpus_yaml


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _NoMetrics:
    def __init__(self, corpus: str) -> None:
        self.corpus = corpus

    def add(self, stats: Any) -> None:
        pass

    def occupied(self, ratio: float) -> None:
        pass


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    tick = _Clock()
    monkeypatch.setattr(time, "perf_counter", tick)
    monkeypatch.setattr(medbatch.jobs.metrics, "JobMetrics", _NoMetrics)
    return tick


def _shards(count: int, rows: int) -> list[Shard]:
    return [
        Shard(id=f"s{i}", index=i, slices=[Slice(relpath=f"f{i}", version="v", start=0, stop=rows)])
        for i in range(count)
    ]


def _run(
    tmp_path: Path, shards: list[Shard], gpus: float, price: float | None = None
) -> tuple[RunProgress, OutputFolder]:
    spec = Corpus.model_validate(corpus_yaml("eta", {"uri": str(tmp_path / "in"), "format": "jsonl"})).spec
    config = JobConfig(
        price_per_gpu_hour=price,
        corpus="eta",
        spec=spec,
        source_uri=str(tmp_path / "in"),
        output_uri=str(tmp_path / "out"),
        num_workers=2,
    )
    output = OutputFolder(config.output_uri)
    return RunProgress(config, output, shards, shards, None, gpus_per_worker=gpus), output


def _report(output: OutputFolder) -> ProgressReport:
    data = output.store.read(PROGRESS_FILE)
    assert data is not None
    return ProgressReport.model_validate_json(data)


def _done(run: RunProgress, notes: int) -> None:
    run.shard_committed(ShardReport(shard="s", stats=ShardStats(records=notes)))


def test_rate_eta_and_gpu_time_follow_the_clock(tmp_path: Path, clock: _Clock) -> None:
    run, output = _run(tmp_path, _shards(10, 100), gpus=4)
    run.report(final=True)
    first = _report(output)
    assert (first.notes_per_s, first.eta_s, first.gpu_seconds) == (None, None, 0.0), "no rate before a shard"

    clock.now += 50
    _done(run, 100)
    clock.now += 50
    _done(run, 100)
    run.report(final=True)
    report = _report(output)
    assert report.notes_per_s == pytest.approx(2.0)  # 200 notes in 100 s
    assert report.eta_s == pytest.approx(800 / 2.0)
    assert report.elapsed_s == pytest.approx(100)
    assert report.gpu_seconds == pytest.approx(2 * 4 * 100), "two replicas of four GPUs for 100 s"


def test_the_rate_forgets_what_is_older_than_its_window(tmp_path: Path, clock: _Clock) -> None:
    run, output = _run(tmp_path, _shards(100, 100), gpus=0)
    for _ in range(10):  # a fast start: 100 notes every 10 s
        clock.now += 10
        _done(run, 100)
    for _ in range(int(2 * RATE_WINDOW_S / 100)):  # then 100 notes every 100 s
        clock.now += 100
        _done(run, 100)
    run.report(final=True)
    report = _report(output)
    assert report.notes_per_s == pytest.approx(1.0, rel=0.2), "the slow pace, not the average since start"
    assert report.gpu_seconds == 0.0, "a CPU run holds no GPU"


def test_a_finished_run_has_nothing_left(tmp_path: Path, clock: _Clock) -> None:
    run, output = _run(tmp_path, _shards(2, 10), gpus=1)
    clock.now += 5
    _done(run, 10)
    clock.now += 5
    _done(run, 10)
    run.report(final=True)
    assert _report(output).eta_s == 0.0


def test_the_cost_is_gpu_hours_times_the_profile_s_price(tmp_path: Path, clock: _Clock) -> None:
    run, output = _run(tmp_path, _shards(4, 10), gpus=2, price=3.5)
    clock.now += 1800
    _done(run, 10)
    run.report(final=True)
    report = _report(output)
    assert report.gpu_seconds == pytest.approx(2 * 2 * 1800)
    assert report.cost == pytest.approx(2 * 2 * 0.5 * 3.5), "two replicas of two GPUs for half an hour"
    free, free_output = _run(tmp_path / "free", _shards(1, 1), gpus=2)
    free.report(final=True)
    assert _report(free_output).cost is None, "no price, no cost"
