"""The operator with ``spec.ray``: real medbatch jobs on a real Ray head through its Jobs API.

The head runs on loopback; a RayCluster object in the emulator stands for it (its dashboard port is the
real head's) and the operator is told to reach heads on 127.0.0.1 instead of the cluster DNS name.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from medbatch.operator.jobs_api import TERMINAL_STATUSES
from medbatch.spec.run_files import entrypoint_command
from tests.corpora import notes, rows, write_jsonl
from tests.operator.cluster import (
    NAMESPACE,
    Cluster,
    eventually,
    free_port,
    head_service,
    running_operator,
)

pytestmark = [pytest.mark.ray, pytest.mark.asyncio(loop_scope="function"), pytest.mark.timeout(600)]

ALLOWED = {"medbatch.io/allow-corpora": "true"}
SECRET_VALUE = "db-password-do-not-leak"


@pytest.fixture(autouse=True)
def heads_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBATCH_RAY_HEAD_URL", "http://127.0.0.1:{port}")
    # The platform's allow-list (rayClusters.allowed); "rogue" is not on it.
    monkeypatch.setenv(
        "MEDBATCH_ALLOWED_RAY_CLUSTERS", json.dumps([f"{NAMESPACE}/shared", f"{NAMESPACE}/listed"])
    )


def db_secret(key: str) -> dict[str, Any]:
    """Someone else's Secret in the namespace, holding ``SECRET_VALUE`` under ``key``."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": NAMESPACE},
        "data": {key: base64.b64encode(SECRET_VALUE.encode()).decode()},
    }


def ray_cluster(name: str, dashboard: str | int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A RayCluster object as KubeRay would have it, pointing at a head's dashboard port."""
    port = urlparse(dashboard).port if isinstance(dashboard, str) else dashboard
    container = {"name": "ray-head", "image": "ray", "ports": [{"name": "dashboard", "containerPort": port}]}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": ALLOWED if labels is None else labels},
        "spec": {"headGroupSpec": {"template": {"spec": {"containers": [container]}}}},
    }


CPU_PROFILE = {
    "apiVersion": "medbatch.io/v1alpha1",
    "kind": "ModelProfile",
    "metadata": {"name": "cpu"},
    "spec": {"engine": "baseline"},
}


def corpus_on(ray_head: str, tmp_path: Path, name: str, count: int, shard_size: int) -> dict[str, Any]:
    write_jsonl(str(tmp_path / "in" / "notes.jsonl"), rows(notes(count)))
    return {
        "apiVersion": "medbatch.io/v1alpha1",
        "kind": "Corpus",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "source": {
                "uri": str(tmp_path / "in"),
                "format": "jsonl",
                "idField": "note_id",
                "textField": "note_text",
            },
            "tasks": {"deidentify": {}},
            "model": "cpu",
            "output": {"uri": str(tmp_path / "out")},
            "limits": {"shardSize": shard_size},
            "ray": {"clusterName": "shared"},
        },
    }


async def ray_job(ray_head: str, submission: str) -> dict[str, Any] | None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{ray_head}/api/jobs/{submission}")
    return dict(response.json()) if response.status_code == 200 else None


async def share_the_head(cluster: Cluster, ray_head: str) -> None:
    """The CPU profile and an allowed RayCluster ``shared`` standing for the real head."""
    await cluster.apply(CPU_PROFILE)
    created = await cluster.apply(ray_cluster("shared", ray_head))
    await cluster.apply(head_service(created))


async def long_job(cluster: Cluster, ray_head: str, tmp_path: Path, name: str) -> str:
    """Apply a Corpus long enough to be caught running; returns its submission id once it runs."""
    created = await cluster.apply(corpus_on(ray_head, tmp_path, name, 4000, 50))
    submission = f"medbatch-{created['metadata']['uid']}"
    await job_running(ray_head, submission)
    return submission


async def job_running(ray_head: str, submission: str) -> dict[str, Any]:
    """Wait until the Ray head runs ``submission``."""

    async def running() -> dict[str, Any] | None:
        job = await ray_job(ray_head, submission)
        return job if job and job["status"] == "RUNNING" else None

    return await eventually(running, f"Ray job {submission} to run", timeout_s=120)


async def test_a_corpus_on_an_existing_cluster_runs_to_success(
    cluster: Cluster, ray_head: str, tmp_path: Path
) -> None:
    await share_the_head(cluster, ray_head)
    async with running_operator():
        created = await cluster.apply(corpus_on(ray_head, tmp_path, "on-ray", 12, 4))

        async def done() -> dict[str, Any] | None:
            found = await cluster.get("Corpus", "on-ray")
            phase = ((found or {}).get("status") or {}).get("phase")
            return found if phase in ("Succeeded", "PartiallySucceeded", "Failed") else None

        finished = await eventually(done, "the job to finish", timeout_s=300)
        status = finished["status"]
        assert status["phase"] == "Succeeded", status
        assert status["submissionId"] == f"medbatch-{created['metadata']['uid']}"
        assert status["records"]["total"] == 12
        assert status["dashboardUrl"] == ray_head
        manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
        assert manifest["records"]["total"] == 12
        job = await ray_job(ray_head, status["submissionId"])
        assert job is not None
        assert job["status"] == "SUCCEEDED"
        # What the dashboard shows of the job: no spec in the command, only the package's name.
        assert job["entrypoint"] == entrypoint_command(".")
        assert list(job["runtime_env"]) == ["working_dir"]
        assert str(tmp_path) not in json.dumps(job)
        assert ("ray.io", "rayjobs", "create") not in cluster.requests()


async def test_deleting_a_corpus_stops_its_running_job(
    cluster: Cluster, ray_head: str, tmp_path: Path
) -> None:
    await share_the_head(cluster, ray_head)
    async with running_operator():
        submission = await long_job(cluster, ray_head, tmp_path, "stop-me")
        found = await cluster.get("Corpus", "stop-me")
        assert found is not None
        assert found["metadata"].get("finalizers"), "a Jobs API Corpus needs a finalizer to stop its job"
        await cluster.delete("Corpus", "stop-me")

        async def stopped() -> dict[str, Any] | None:
            job = await ray_job(ray_head, submission)
            return job if job and job["status"] in TERMINAL_STATUSES else None

        job = await eventually(stopped, "the Ray job to stop", timeout_s=120)
        assert job["status"] == "STOPPED"

        async def gone() -> bool:
            return await cluster.get("Corpus", "stop-me") is None

        await eventually(gone, "the Corpus to be deleted")
    assert not (tmp_path / "out" / "_manifest.json").exists()


async def corpus_status(cluster: Cluster, name: str, **want: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await cluster.get("Corpus", name)
        status = (found or {}).get("status") or {}
        return status if all(status.get(k) == v for k, v in want.items()) else None

    return await eventually(check, f"Corpus {name} status {want}", timeout_s=120)


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback that records every request it gets (an attacker's endpoint)."""
    seen: list[str] = []

    class Record(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"GET {self.path} {self.headers.get('Authorization')}")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"submission_id": "x", "status": "RUNNING", "message": "leaked page"}')

        do_POST = do_GET  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


async def test_the_old_secret_exfiltration_fails(
    cluster: Cluster, tmp_path: Path, listener: tuple[str, list[str]]
) -> None:
    """The attack medbatch 0.1 allowed: a Corpus naming any URL and any Secret key made the operator send
    the Secret to that URL and copy the answer into the status. Now the fields do not exist, and a Corpus
    can only name a RayCluster the platform team has labelled; a cluster it made itself is refused."""
    url, seen = listener
    await cluster.apply(CPU_PROFILE)
    await cluster.apply(db_secret("token"))
    # A RayCluster the Corpus author made, pointing at the attacker's listener, with KubeRay's token
    # Secret option aimed at someone else's Secret.
    rogue = ray_cluster("rogue", urlparse(url).port or 0, labels={})
    rogue["spec"]["authOptions"] = {"mode": "token", "secretName": "db"}
    await cluster.apply(rogue)
    async with running_operator() as operator:
        old = corpus_on(url, tmp_path, "old-attack", 2, 2)
        old["spec"]["ray"] = {"address": url, "authTokenSecretRef": {"name": "db", "key": "token"}}
        await cluster.apply(old)
        new = corpus_on(url, tmp_path, "new-attack", 2, 2)
        new["spec"]["ray"] = {"clusterName": "rogue"}
        await cluster.apply(new)
        failed = await corpus_status(cluster, "old-attack", phase="Failed", reason="InvalidSpec")
        assert "spec.ray.address: unknown field" in failed["message"]
        waiting = await corpus_status(cluster, "new-attack", phase="Pending", reason="RayClusterNotAllowed")
        assert f"listing it as {NAMESPACE}/rogue in rayClusters.allowed" in waiting["message"]
        everything = json.dumps([await cluster.list_all(kind) for kind in ("Corpus", "Event")])
    assert seen == [], "the operator sent a request to the attacker"
    assert "db" not in cluster.names_requested("secrets"), "the operator read a Secret it was pointed at"
    assert SECRET_VALUE not in everything
    assert "leaked page" not in everything
    assert SECRET_VALUE not in operator.output, "the operator's log"


@pytest.mark.parametrize(
    ("setup", "reason", "says"),
    [
        ("external", "RayHeadServiceExternal", "is an ExternalName Service"),
        ("unowned-service", "RayHeadServiceNotOwned", "is not owned by RayCluster 'listed'"),
        ("unowned-token", "RayTokenNotOwned", "Secret 'db' (Ray token of RayCluster 'listed') is not owned"),
    ],
)
async def test_an_allowed_cluster_is_trusted_by_ownership_not_by_names(
    cluster: Cluster, tmp_path: Path, listener: tuple[str, list[str]], setup: str, reason: str, says: str
) -> None:
    """Even on the allow-list, the operator talks only to the head Service KubeRay made for the cluster
    (owned by it, not an ExternalName) and reads only the token Secret KubeRay made: a namespace user who
    edits the RayCluster cannot point it at their own Service or another Secret."""
    url, seen = listener
    await cluster.apply(CPU_PROFILE)
    await cluster.apply(db_secret("auth_token"))
    listed = ray_cluster("listed", urlparse(url).port or 0)
    if setup == "unowned-token":
        listed["spec"]["authOptions"] = {"mode": "token", "secretName": "db"}
    created = await cluster.apply(listed)
    await cluster.apply(
        head_service(
            created,
            kind="ExternalName" if setup == "external" else "ClusterIP",
            owned=setup != "unowned-service",
        )
    )
    async with running_operator() as operator:
        document = corpus_on(url, tmp_path, "borrower", 2, 2)
        document["spec"]["ray"] = {"clusterName": "listed"}
        await cluster.apply(document)
        waiting = await corpus_status(cluster, "borrower", phase="Pending", reason=reason)
        assert says in waiting["message"]
        everything = json.dumps([await cluster.list_all(kind) for kind in ("Corpus", "Event")])
    assert seen == [], "the operator sent a request to the cluster"
    assert SECRET_VALUE not in everything
    assert SECRET_VALUE not in operator.output


async def test_a_corpus_created_suspended_submits_nothing_until_resumed(
    cluster: Cluster, ray_head: str, tmp_path: Path
) -> None:
    await share_the_head(cluster, ray_head)
    async with running_operator():
        document = corpus_on(ray_head, tmp_path, "held", 8, 4)
        document["spec"]["suspend"] = True
        created = await cluster.apply(document)
        held = await corpus_status(cluster, "held", phase="Suspended")
        assert "submissionId" not in held
        assert await ray_job(ray_head, f"medbatch-{created['metadata']['uid']}") is None
        await cluster.patch("Corpus", "held", {"spec": {"suspend": False}})
        done = await corpus_status(cluster, "held", phase="Succeeded")
        assert done["records"]["total"] == 8


async def test_resume_stops_the_earlier_submission_before_starting_a_new_one(
    cluster: Cluster, ray_head: str, tmp_path: Path
) -> None:
    await share_the_head(cluster, ray_head)
    async with running_operator():
        first = await long_job(cluster, ray_head, tmp_path, "pause-me")
        await cluster.patch("Corpus", "pause-me", {"spec": {"suspend": True}})
        await cluster.patch("Corpus", "pause-me", {"spec": {"suspend": False}})
        status = await corpus_status(cluster, "pause-me", submissionId=f"{first}-r1")
        assert status["resumes"] == 1
        earlier, later = await ray_job(ray_head, first), await ray_job(ray_head, f"{first}-r1")
        assert earlier is not None
        assert later is not None
        assert earlier["status"] in TERMINAL_STATUSES
        assert earlier["end_time"] <= later["start_time"], "two submissions ran at once"
        await cluster.delete("Corpus", "pause-me")

        async def gone() -> bool:
            return await cluster.get("Corpus", "pause-me") is None

        await eventually(gone, "the Corpus to be deleted", timeout_s=120)


async def test_deleting_a_corpus_whose_cluster_is_unreachable_finishes_with_a_warning(
    cluster: Cluster, ray_head: str, tmp_path: Path
) -> None:
    await share_the_head(cluster, ray_head)
    async with running_operator():
        await cluster.apply(corpus_on(ray_head, tmp_path, "orphan", 4000, 50))
        await corpus_status(cluster, "orphan", phase="Running")
        # The head becomes unreachable: its dashboard moves to a port nobody listens on.
        dead = ray_cluster("shared", free_port())
        await cluster.patch("RayCluster", "shared", {"spec": dead["spec"]})
        await cluster.delete("Corpus", "orphan")

        async def gone() -> bool:
            return await cluster.get("Corpus", "orphan") is None

        await eventually(gone, "the Corpus to be deleted despite the unreachable cluster", timeout_s=60)
        warnings = [e for e in await cluster.events("orphan") if e["reason"] == "RayJobMayStillRun"]
    assert warnings
    assert warnings[0]["type"] == "Warning"
    assert "may still run" in warnings[0]["message"]
    # Let the real head stop the orphaned job so it does not slow the next tests.
    async with httpx.AsyncClient() as client:
        for job in (await client.get(f"{ray_head}/api/jobs/")).json():
            if job["status"] not in TERMINAL_STATUSES:
                await client.post(f"{ray_head}/api/jobs/{job['submission_id']}/stop")
