"""The Ray Jobs API runner against a real Ray head (`ray start --head`), running real medbatch jobs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
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
from tests.operator.cluster import wait_until

pytestmark = pytest.mark.timeout(600)


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


def test_a_run_whose_every_record_failed_exits_cleanly(ray_head: str, tmp_path: Path) -> None:
    """Every record failing is the manifest's outcome, not a job failure: a failed Ray job would make
    KubeRay provision a new GPU cluster to retry the same records (backoffLimit)."""
    write_jsonl(
        str(tmp_path / "in" / "notes.jsonl"), [{"note_id": f"n{i}", "note_text": " "} for i in range(3)]
    )
    source = {"uri": str(tmp_path / "in"), "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    corpus = Corpus.model_validate(corpus_yaml("all-bad", source, output={"uri": str(tmp_path / "out")}))
    client = RayJobsClient(ray_head)
    submission = submission_id_for("3f1c-uid-all-bad")
    client.submit(submission, entrypoint_for(corpus, baseline_profile(), python=sys.executable))
    info = wait_until(lambda: finished(client, submission), 300, "the job to finish")
    assert info.status == "SUCCEEDED", info.message
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert (manifest["outcome"], manifest["records"]["failed"]) == ("Failed", 3)


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
    with pytest.raises(JobsApiError, match=r"refused the request \(HTTP 503\)"):
        refusing.submit("medbatch-u2", "python -m x")


def test_errors_never_quote_the_server() -> None:
    """A server's answer may hold anything (the old free URL fetched internal pages): only the status code
    and a fixed phrase travel into messages, and from there into status and Events."""
    marker = "SECRET-PAGE-CONTENT"
    for answer in (httpx.Response(500, text=marker), httpx.Response(200, text=f"<html>{marker}</html>")):
        client = RayJobsClient(
            "http://head:8265", transport=httpx.MockTransport(lambda r, a=answer: a), retry_for_s=0
        )
        with pytest.raises(JobsApiError) as info:
            client.submit("medbatch-u1", "python -m x")
        assert marker not in str(info.value)
