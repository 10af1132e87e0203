"""The operator with ``spec.ray.address``: real medbatch jobs on a real Ray head through its Jobs API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from medbatch.operator.jobs_api import TERMINAL_STATUSES
from tests.corpora import notes, rows, write_jsonl
from tests.operator.cluster import NAMESPACE, Cluster, eventually, running_operator

pytestmark = [pytest.mark.asyncio(loop_scope="function"), pytest.mark.timeout(600)]

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
            "ray": {"address": ray_head},
        },
    }


async def ray_job(ray_head: str, submission: str) -> dict[str, Any] | None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{ray_head}/api/jobs/{submission}")
    return dict(response.json()) if response.status_code == 200 else None


async def test_a_corpus_on_an_existing_cluster_runs_to_success(
    cluster: Cluster, ray_head: str, tmp_path: Path
) -> None:
    await cluster.apply(CPU_PROFILE)
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
        assert ("ray.io", "rayjobs", "create") not in cluster.requests()


async def test_deleting_a_corpus_stops_its_running_job(
    cluster: Cluster, ray_head: str, tmp_path: Path
) -> None:
    await cluster.apply(CPU_PROFILE)
    async with running_operator():
        created = await cluster.apply(corpus_on(ray_head, tmp_path, "stop-me", 4000, 50))
        submission = f"medbatch-{created['metadata']['uid']}"

        async def running() -> dict[str, Any] | None:
            job = await ray_job(ray_head, submission)
            return job if job and job["status"] == "RUNNING" else None

        await eventually(running, "the Ray job to run", timeout_s=120)
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
