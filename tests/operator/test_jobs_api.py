"""The Ray Jobs API runner against a real Ray head (`ray start --head`), running real medbatch jobs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from medbatch.operator.jobs_api import (
    TERMINAL_STATUSES,
    JobInfo,
    JobsApiError,
    RayJobsClient,
    entrypoint_for,
    submission_id_for,
)
from medbatch.spec import Corpus, ModelProfile
from tests.corpora import corpus_yaml, notes, rows, write_jsonl

pytestmark = pytest.mark.timeout(600)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Any, timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy (no fixed sleeps standing in for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A Ray head with its dashboard (Jobs API) on loopback, in its own temp dir, killed afterwards."""
    temp = tempfile.mkdtemp(prefix="mb-head-")
    dashboard = free_port()
    # Nothing of the session's own Ray (RAY_ADDRESS, RAY_TMPDIR, ...) may leak into the new head.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env |= {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    ray = str(Path(sys.executable).parent / "ray")
    # Every port explicit: the session's own Ray cluster holds the defaults (agent 52365, client 10001).
    gcs_port = free_port()
    names = (
        "ray-client-server-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "runtime-env-agent-port",
        "metrics-export-port",
        "node-manager-port",
        "object-manager-port",
    )
    subprocess.run(
        [
            ray,
            "start",
            "--head",
            f"--port={gcs_port}",
            *(f"--{name}={free_port()}" for name in names),
            f"--dashboard-port={dashboard}",
            "--dashboard-host=127.0.0.1",
            "--include-dashboard=true",
            "--num-cpus=2",
            f"--temp-dir={temp}",
            "--disable-usage-stats",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    address = f"http://127.0.0.1:{dashboard}"

    def ready() -> bool:
        try:
            return httpx.get(f"{address}/api/version", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 60, "the Jobs API")
    yield address

    # The head's daemons name its temp dir or its GCS address; agents and workers are their descendants.
    def ours(process: psutil.Process) -> bool:
        return any(temp in part or part.endswith(f":{gcs_port}") for part in process.info["cmdline"] or [])

    doomed = [p for p in psutil.process_iter(["cmdline"]) if ours(p)]
    for process in list(doomed):
        with contextlib.suppress(psutil.Error):
            doomed.extend(process.children(recursive=True))
    for process in doomed:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGKILL)
    shutil.rmtree(temp, ignore_errors=True)


def baseline_profile() -> ModelProfile:
    return ModelProfile.model_validate(
        {
            "apiVersion": "medbatch.io/v1alpha1",
            "kind": "ModelProfile",
            "metadata": {"name": "cpu"},
            "spec": {"engine": "baseline"},
        }
    )


def corpus_for(tmp_path: Path, count: int, shard_size: int) -> Corpus:
    write_jsonl(str(tmp_path / "in" / "notes.jsonl"), rows(notes(count)))
    source = {"uri": str(tmp_path / "in"), "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    return Corpus.model_validate(
        corpus_yaml(
            "jobs-api", source, output={"uri": str(tmp_path / "out")}, limits={"shardSize": shard_size}
        )
    )


def finished(client: RayJobsClient, submission: str) -> JobInfo | None:
    info = client.status(submission)
    return info if info is not None and info.status in TERMINAL_STATUSES else None


def test_submit_runs_a_real_job_to_success_and_is_idempotent(ray_head: str, tmp_path: Path) -> None:
    client = RayJobsClient(ray_head)
    corpus = corpus_for(tmp_path, 12, 4)
    submission = submission_id_for("3f1c-uid-a")
    entrypoint = entrypoint_for(corpus, baseline_profile(), python=sys.executable)
    first = client.submit(submission, entrypoint, metadata={"corpus": "jobs-api"})
    again = client.submit(submission, entrypoint)
    assert again.submission_id == first.submission_id == submission

    info = wait_until(lambda: finished(client, submission), 300, "the job to finish")
    assert info.status == "SUCCEEDED", info.message
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["outcome"] == "Succeeded"
    assert manifest["records"]["total"] == 12
    jobs = httpx.get(f"{ray_head}/api/jobs/", timeout=5).json()
    assert sum(1 for job in jobs if job.get("submission_id") == submission) == 1, "one job, not two"


def test_stop_ends_a_running_job(ray_head: str, tmp_path: Path) -> None:
    client = RayJobsClient(ray_head)
    corpus = corpus_for(tmp_path, 4000, 50)
    submission = submission_id_for("3f1c-uid-b")
    client.submit(submission, entrypoint_for(corpus, baseline_profile(), python=sys.executable))
    wait_until(
        lambda: (client.status(submission) or JobInfo(submission_id="", status="")).status == "RUNNING",
        120,
        "the job to run",
    )
    assert client.stop(submission) is True
    info = wait_until(lambda: finished(client, submission), 120, "the job to stop")
    assert info.status == "STOPPED"
    assert not (tmp_path / "out" / "_manifest.json").exists()
    assert client.stop(submission) is False
    assert client.status(submission_id_for("never-submitted")) is None


def test_submission_retries_until_the_head_can_take_jobs() -> None:
    calls: list[str] = []
    state = {"submitted": False, "refusals": 2}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.method == "GET":
            if not state["submitted"]:
                return httpx.Response(404, json={})
            return httpx.Response(200, json={"submission_id": "medbatch-u1", "status": "PENDING"})
        if state["refusals"]:
            state["refusals"] -= 1
            return httpx.Response(500, text="No available agent to submit job, please try again later.")
        state["submitted"] = True
        return httpx.Response(200, json={"submission_id": "medbatch-u1"})

    client = RayJobsClient("http://head:8265", transport=httpx.MockTransport(handler), retry_for_s=10)
    info = client.submit("medbatch-u1", "python -m x")
    assert info.status == "PENDING"
    assert calls.count("POST /api/jobs/") == 3
    assert client.submit("medbatch-u1", "python -m x").status == "PENDING"
    assert calls.count("POST /api/jobs/") == 3, "an existing submission is not submitted again"

    refusing = RayJobsClient(
        "http://head:8265",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(404 if r.method == "GET" else 503, text="busy")
        ),
        retry_for_s=0,
    )
    with pytest.raises(JobsApiError, match="answered 503"):
        refusing.submit("medbatch-u2", "python -m x")
