"""The operator's metrics and medbatch's alert rules on a real Prometheus (Debian's ``prometheus`` and
``promtool``): the rules load, the metrics pass Prometheus's lint, and every alert whose metrics the
operator exports returns series with the labels its runbook uses."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import start_http_server

from devtools.dashboard import PANELS, dashboard
from medbatch.jobs import JobConfig
from medbatch.notes.engines.fake import FakeEngineConfig
from medbatch.operator import metrics
from medbatch.spec import Corpus
from medbatch.spec.run_files import ProgressReport
from tests.corpora import corpus_yaml, notes, rows, write_jsonl
from tests.operator.cluster import free_port
from tests.processes import kill_processes

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "charts" / "medbatch" / "files" / "prometheus" / "alerts.yaml"
PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")

pytestmark = [
    pytest.mark.skipif(not (PROMETHEUS and PROMTOOL), reason="needs Debian's prometheus package"),
    pytest.mark.ray,  # a sample job runs on a local Ray cluster: the slow lane
]


def _rules() -> list[dict[str, Any]]:
    return list(yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"])


def test_the_alert_rules_pass_promtool() -> None:
    result = subprocess.run([str(PROMTOOL), "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def _wait(check: Any, what: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)  # poll interval of the wait above
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    """The operator's metrics endpoint, in this process, with two Corpora observed."""
    server, thread = start_http_server(0, addr="127.0.0.1")
    progress = ProgressReport(
        records_total=1000, records_done=400, notes_per_s=2.0, eta_s=300, gpu_seconds=3600
    )
    running = {"phase": "Running", "records": {"total": 1000, "done": 400, "failed": 40}}
    metrics.observe_corpus("team-a", "cardiology", running, progress)
    metrics.observe_corpus("team-a", "broken", {"phase": "Failed", "records": {}}, None)
    # The counters' series exist from the first scrape on (at 0), as an operator's would after its start.
    metrics.LAUNCH_PROBLEMS.labels("SecretNotFound")
    metrics.OBSERVE_ERRORS.labels("job")
    metrics.LAUNCHES.labels("rayjob").inc()
    metrics.TRANSITIONS.labels("Running").inc()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        metrics.forget_corpus("team-a", "cardiology")
        metrics.forget_corpus("team-a", "broken")
        server.shutdown()
        thread.join(timeout=5)


def test_the_operator_metrics_pass_prometheus_lint(exporter: str) -> None:
    text = httpx.get(f"http://{exporter}/metrics").text
    assert 'medbatch_corpus_records{corpus="cardiology",namespace="team-a",state="done"} 400.0' in text
    lint = subprocess.run([str(PROMTOOL), "check", "metrics"], input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.fixture(scope="module")
def ray_job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sample Corpus ("cardiology", fake engine) run on a local Ray cluster that exports the job's metrics;
    the cluster stays up (and its series exported) until the tests are done. Returns the export address."""
    work = tmp_path_factory.mktemp("metrics-job")
    # Forty notes and one record without text: an error row, so the error panels have a series too.
    write_jsonl(str(work / "in" / "notes.jsonl"), [*rows(notes(40)), {"note_id": "blank", "note_text": ""}])
    spec = Corpus.model_validate(
        corpus_yaml(
            "cardiology",
            {"uri": str(work / "in"), "format": "jsonl", "idField": "note_id", "textField": "note_text"},
            limits={"shardSize": 10},
        )
    ).spec
    config = JobConfig(
        corpus="cardiology",
        spec=spec,
        source_uri=str(work / "in"),
        output_uri=str(work / "out"),
        engine=FakeEngineConfig(),
        num_workers=1,
    )
    port = free_port()
    ray_tmp = tempfile.mkdtemp(prefix="mb-metrics-")  # short: Ray's socket paths are limited
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MEDBATCH_SURROGATE_KEY": "test-surrogate-key-0123456789"}
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.drivers.metrics_job", config.model_dump_json(), str(port), ray_tmp],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert driver.stdout is not None
        assert driver.stdout.readline().strip() == "finished", "the sample job did not finish"
        yield f"127.0.0.1:{port}"
    finally:
        if driver.stdin:
            driver.stdin.close()
        try:
            driver.wait(timeout=60)
        finally:
            kill_processes(lambda cmdline: any(ray_tmp in part for part in cmdline), roots=[driver.pid])
            shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def prometheus(exporter: str, ray_job: str) -> Iterator[httpx.Client]:
    """Prometheus on a free loopback port, scraping the operator's endpoint and the Ray cluster's metrics
    export every second, with the alert rules."""
    work = Path(tempfile.mkdtemp(prefix="mb-prometheus-"))
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {"job_name": "medbatch-operator", "static_configs": [{"targets": [exporter]}]},
            {"job_name": "ray", "static_configs": [{"targets": [ray_job]}]},
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            def ready() -> bool:
                try:
                    return client.get("/-/ready").status_code == 200
                except httpx.TransportError:
                    return False

            _wait(ready, "Prometheus to start")
            yield client
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def _query(client: httpx.Client, expr: str) -> list[dict[str, Any]]:
    body = client.get("/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def test_every_alert_loads_and_returns_the_series_its_runbook_names(prometheus: httpx.Client) -> None:
    _wait(lambda: _query(prometheus, 'up{job="medbatch-operator"} == 1'), "a first scrape")
    # Counters that move between two scrapes, as a failing launch and failing polls would.
    metrics.LAUNCH_PROBLEMS.labels("SecretNotFound").inc()
    for _ in range(10):
        metrics.OBSERVE_ERRORS.labels("job").inc()
    _wait(
        lambda: _query(prometheus, "increase(medbatch_operator_observe_errors_total[1m]) > 5"),
        "a scrape after the errors",
    )

    loaded = prometheus.get("/api/v1/rules").json()["data"]["groups"][0]["rules"]
    assert {r["name"] for r in loaded} == {r["alert"] for r in _rules()}
    assert {r["health"] for r in loaded} == {"ok"}

    _wait(lambda: _query(prometheus, "ray_medbatch_records_total"), "the job's metrics from Ray's export")
    expected_labels: dict[str, dict[str, str]] = {
        "MedbatchCorpusStalled": {"namespace": "team-a", "corpus": "cardiology"},
        "MedbatchCorpusErrorRate": {"namespace": "team-a", "corpus": "cardiology"},
        "MedbatchCorpusFailed": {"namespace": "team-a", "corpus": "broken"},
        "MedbatchOperatorLaunchProblems": {"reason": "SecretNotFound"},
        "MedbatchOperatorCannotObserve": {"what": "job"},
    }
    for rule in _rules():
        if rule["alert"] == "MedbatchGpusIdle":  # the fake engine's occupancy is low: the rule fires
            expected_labels[rule["alert"]] = {"corpus": "cardiology"}
        series = _query(prometheus, rule["expr"].replace("[30m]", "[5m]"))
        assert series, f"{rule['alert']} returned nothing"
        assert series[0]["metric"].items() >= expected_labels[rule["alert"]].items(), rule["alert"]


def test_every_dashboard_panel_returns_series_for_the_corpus(prometheus: httpx.Client) -> None:
    """Each query of the shipped dashboard, with Grafana's variables set as "All", against the operator's
    and the job's metrics: each returns series, labelled by the Corpus where it is per Corpus."""
    _wait(lambda: _query(prometheus, "ray_medbatch_records_total"), "the job's metrics from Ray's export")
    _wait(lambda: _query(prometheus, "count_over_time(ray_medbatch_records_total[1m]) >= 2"), "two scrapes")
    shipped = json.loads((ROOT / "charts" / "medbatch" / "files" / "grafana" / "medbatch.json").read_text())
    assert shipped == dashboard(), "the chart's dashboard is the one defined in devtools/dashboard.py"
    grafana = {"$namespace": ".*", "$corpus": ".*", "$__rate_interval": "1m", "$__range": "10m"}
    for panel in PANELS:
        for expr, legend in panel.queries:
            for variable, value in grafana.items():
                expr = expr.replace(variable, value)
            series = _query(prometheus, expr)
            assert series, f"{panel.title}: {expr} returned nothing"
            for label in re.findall(r"\{\{(\w+)\}\}", legend):  # what the legend shows is on every series
                assert all(s["metric"].get(label) for s in series), f"{panel.title}: no {label} label"
            if "{{corpus}}" in legend:
                assert {s["metric"].get("corpus") for s in series} == {"cardiology"}, panel.title


def test_the_job_metrics_pass_prometheus_lint(ray_job: str) -> None:
    """The job's families in Ray's export (what Prometheus scrapes) follow Prometheus's conventions."""
    text = httpx.get(f"http://{ray_job}/metrics").text
    families = _wait(
        lambda: [line for line in text.splitlines() if "ray_medbatch_" in line], "the job's families"
    )
    names = {line.split()[2] for line in families if line.startswith("# TYPE")}
    assert {"ray_medbatch_records_total", "ray_medbatch_replica_occupancy"} <= names
    lint = subprocess.run(
        [str(PROMTOOL), "check", "metrics"], input="\n".join(families) + "\n", capture_output=True, text=True
    )
    # Ray adds its own camelCase labels (WorkerId, SessionName, ...) to every series it exports; ours are
    # snake_case. Every other finding is ours.
    problems = [
        line
        for line in (lint.stdout + lint.stderr).splitlines()
        if line.strip() and "label names should be written in 'snake_case'" not in line
    ]
    assert problems == []
