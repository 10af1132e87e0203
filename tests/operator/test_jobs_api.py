"""The Ray Jobs API runner against a real Ray head (`ray start --head`), running real medbatch jobs."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from medbatch.operator.jobs_api import (
    TERMINAL_STATUSES,
    JobInfo,
    JobsApiError,
    RayJobsClient,
    submission_id_for,
)
from medbatch.spec import Corpus, ModelProfile
from medbatch.spec.run_files import CORPUS_FILE, PROFILE_FILE, entrypoint_command, spec_files
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


def submit(client: RayJobsClient, submission: str, corpus: Corpus, **extra: dict[str, str]) -> JobInfo:
    """Submit ``corpus`` as the operator does: its spec files in the job's working directory."""
    return client.submit(
        submission,
        entrypoint_command(".", sys.executable),
        working_dir=spec_files(corpus, baseline_profile()),
        **extra,
    )


def finished(client: RayJobsClient, submission: str) -> JobInfo | None:
    info = client.status(submission)
    return info if info is not None and info.status in TERMINAL_STATUSES else None


def test_submit_runs_a_real_job_to_success_and_is_idempotent(ray_head: str, tmp_path: Path) -> None:
    client = RayJobsClient(ray_head)
    corpus = corpus_for(tmp_path, 12, 4)
    submission = submission_id_for("3f1c-uid-a")
    first = submit(client, submission, corpus, metadata={"corpus": "jobs-api"})
    again = submit(client, submission, corpus)
    assert again.submission_id == first.submission_id == submission

    info = wait_until(lambda: finished(client, submission), 300, "the job to finish")
    assert info.status == "SUCCEEDED", info.message
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["outcome"] == "Succeeded"
    assert manifest["records"]["total"] == 12
    jobs = httpx.get(f"{ray_head}/api/jobs/", timeout=5).json()
    assert sum(1 for job in jobs if job.get("submission_id") == submission) == 1, "one job, not two"
    # What the dashboard shows of the job to whoever holds the cluster's token: its entry in the job
    # list (entrypoint, runtime_env, metadata) and its logs. The spec's locations are in neither.
    (job,) = [job for job in jobs if job.get("submission_id") == submission]
    assert job["entrypoint"] == entrypoint_command(".", sys.executable), "no spec in the command"
    assert list(job["runtime_env"]) == ["working_dir"]
    assert job["runtime_env"]["working_dir"].startswith("gcs://_ray_pkg_")
    shown = json.dumps(job) + httpx.get(f"{ray_head}/api/jobs/{submission}/logs", timeout=5).json()["logs"]
    assert str(tmp_path) not in shown


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
    submit(client, submission, corpus)
    info = wait_until(lambda: finished(client, submission), 300, "the job to finish")
    assert info.status == "SUCCEEDED", info.message
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert (manifest["outcome"], manifest["records"]["failed"]) == ("Failed", 3)


def test_stop_ends_a_running_job(ray_head: str, tmp_path: Path) -> None:
    client = RayJobsClient(ray_head)
    corpus = corpus_for(tmp_path, 4000, 50)
    submission = submission_id_for("3f1c-uid-b")
    submit(client, submission, corpus)
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


def test_the_spec_travels_as_a_working_dir_package_never_in_the_submission(tmp_path: Path) -> None:
    """The Jobs API submission (shown on the dashboard) names a package, uploaded first and pinned before
    the upload; the package holds the spec files; each submission gets a fresh random package name."""
    corpus = corpus_for(tmp_path, 1, 1)
    requests: list[httpx.Request] = []
    submitted: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.method == "POST":
            submitted.add(json.loads(request.content)["submission_id"])
            return httpx.Response(200, json={})
        if request.url.path.startswith("/api/packages/"):
            return httpx.Response(404 if request.method == "GET" else 200)
        submission = request.url.path.rsplit("/", 1)[-1]
        if submission in submitted:
            return httpx.Response(200, json={"submission_id": submission, "status": "PENDING"})
        return httpx.Response(404, json={})

    client = RayJobsClient("http://head:8265", transport=httpx.MockTransport(handler))
    for submission in ("medbatch-u1", "medbatch-u2"):
        submit(client, submission, corpus)
    calls = [f"{r.method} {r.url.path.rsplit('/', 1)[0]}" for r in requests if "/packages/" in r.url.path]
    assert calls == ["GET /api/packages/gcs", "PUT /api/packages/gcs"] * 2
    uploads = [r for r in requests if r.method == "PUT"]
    names = {r.url.path.rsplit("/", 1)[-1] for r in uploads}
    assert len(names) == 2, "a fresh name per submission"
    with zipfile.ZipFile(io.BytesIO(uploads[0].content)) as archive:
        files = {name: archive.read(name).decode() for name in archive.namelist()}
    assert files == spec_files(corpus, baseline_profile())
    assert set(files) == {CORPUS_FILE, PROFILE_FILE}
    posted = [json.loads(r.content) for r in requests if r.method == "POST"]
    assert [p["runtime_env"]["working_dir"] for p in posted] == [
        f"gcs://{r.url.path.rsplit('/', 1)[-1]}" for r in uploads
    ]
    assert str(tmp_path) not in json.dumps(posted)
    assert posted[0]["entrypoint"].endswith("--corpus ./corpus.yaml --profile ./modelprofile.yaml")


def test_a_refused_upload_submits_nothing(tmp_path: Path) -> None:
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        return httpx.Response(413 if request.method == "PUT" else 404, text="too large")

    client = RayJobsClient("http://head:8265", transport=httpx.MockTransport(handler))
    with pytest.raises(JobsApiError, match=r"refused the request \(HTTP 413\)"):
        submit(client, "medbatch-u1", corpus_for(tmp_path, 1, 1))
    assert "POST" not in methods


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
