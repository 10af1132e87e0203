"""The operator under kopf against the emulated API server: lifecycle, status, events, failures, restarts.

KubeRay is not running here, so the tests play its part: they write the RayJob status the way KubeRay
would, and the job's ``_progress.json``/``_manifest.json`` into the output bucket (moto S3) the way the
job would.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import pytest_asyncio
import yaml

from medbatch.operator.render import LABEL_CORPUS
from tests.operator.cluster import (
    NAMESPACE,
    ROOT,
    Cluster,
    emulated_cluster,
    eventually,
    free_port,
    running_operator,
    write_kubeconfig,
)

pytestmark = pytest.mark.asyncio(loop_scope="function")

PROFILE = yaml.safe_load((ROOT / "manifests" / "profiles" / "openbiollm-70b.yaml").read_text())
BUCKET = "medbatch-operator-test"
SECRET_VALUE = "s3cr3t-do-not-leak"


@pytest.fixture
def operator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> int:
    """Operator settings for tests: fast polling, metrics on a free port. Yields the metrics port."""
    port = free_port()
    monkeypatch.setenv("MEDBATCH_POLL_INTERVAL_S", "0.2")
    monkeypatch.setenv("MEDBATCH_METRICS_PORT", str(port))
    monkeypatch.setenv("MEDBATCH_JOB_IMAGE", "registry.example/medbatch-job:test")
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=BUCKET)
    return port


@pytest_asyncio.fixture
async def cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operator_env: int
) -> AsyncIterator[Cluster]:
    async with emulated_cluster(tmp_path) as emulated:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", emulated.url)))
        yield emulated


def corpus(name: str = "cardiology", **spec: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "medbatch.io/v1alpha1",
        "kind": "Corpus",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"team": "cardio"}},
        "spec": {
            "source": {"uri": "s3://notes/cardiology/", "format": "parquet"},
            "tasks": {"deidentify": {"strategy": "surrogate"}, "ner": {}, "summarize": {}},
            "model": "openbiollm-70b",
            "replicas": 2,
            "output": {"uri": f"s3://{BUCKET}/{name}/"},
            "credentials": {"secretRef": {"name": "s3-creds"}},
        },
    }
    document["spec"].update(spec)
    return document


def secret(s3_endpoint: str, name: str = "s3-creds") -> dict[str, Any]:
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_REGION": "us-east-1",
        "MEDBATCH_SURROGATE_KEY": SECRET_VALUE,
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


async def install(cluster: Cluster, s3_endpoint: str) -> None:
    """What a platform team has before applying a Corpus: the profile and the credentials Secret."""
    await cluster.apply(copy.deepcopy(PROFILE))
    await cluster.apply(secret(s3_endpoint))


def write_run_file(s3_endpoint: str, name: str, file: str, content: dict[str, Any]) -> None:
    """Write a job file into the Corpus's output folder, as the job does."""
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=BUCKET, Key=f"{name}/{file}", Body=json.dumps(content).encode()
    )


async def phase_is(cluster: Cluster, name: str, phase: str) -> dict[str, Any] | None:
    found = await cluster.get("Corpus", name)
    status = (found or {}).get("status") or {}
    return found if status.get("phase") == phase else None


async def wait_phase(cluster: Cluster, name: str, phase: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        return await phase_is(cluster, name, phase)

    return await eventually(check, f"Corpus {name} to reach {phase}")


async def rayjob(cluster: Cluster, name: str = "cardiology") -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        return await cluster.get("RayJob", f"medbatch-{name}")

    return await eventually(check, f"RayJob medbatch-{name}")


async def event_reasons(cluster: Cluster, name: str) -> list[str]:
    return [e["reason"] for e in await cluster.events(name)]


async def wait_event(cluster: Cluster, name: str, reason: str) -> list[str]:
    async def check() -> list[str] | None:
        reasons = await event_reasons(cluster, name)
        return reasons if reason in reasons else None

    return await eventually(check, f"event {reason} on {name}")


def conditions(corpus_object: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in corpus_object["status"]["conditions"]}


async def test_create_runs_to_success_with_progress_status_and_events(
    cluster: Cluster, s3_endpoint: str, operator_env: int
) -> None:
    await install(cluster, s3_endpoint)
    async with running_operator():
        created = await cluster.apply(corpus())
        job = await rayjob(cluster)

        # The RayJob: owned by the Corpus, the profile's GPUs per replica, the chart's image.
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "Corpus",
            "cardiology",
            created["metadata"]["uid"],
        )
        assert owner["controller"] is True
        assert owner["blockOwnerDeletion"] is True
        assert job["metadata"]["labels"][LABEL_CORPUS] == "cardiology"
        workers = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
        assert workers["replicas"] == 2
        container = workers["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == str(PROFILE["spec"]["gpu"]["count"])
        assert container["image"] == "registry.example/medbatch-job:test"
        assert container["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
        configmap = await cluster.get("ConfigMap", "medbatch-cardiology-config")
        assert configmap is not None
        assert configmap["metadata"]["ownerReferences"][0]["uid"] == owner["uid"]
        assert SECRET_VALUE not in json.dumps([configmap, job])

        pending = await wait_phase(cluster, "cardiology", "Pending")
        assert pending["status"]["rayJob"] == "medbatch-cardiology"
        assert pending["status"]["outputUri"] == f"s3://{BUCKET}/cardiology/"

        # KubeRay reports the job running; the job reports progress.
        write_run_file(
            s3_endpoint,
            "cardiology",
            "_progress.json",
            {
                "shards_total": 4,
                "shards_done": 1,
                "records_total": 400,
                "records_done": 100,
                "records_failed_this_run": 3,
                "tokens_in": 5000,
                "tokens_out": 700,
            },
        )
        await cluster.patch(
            "RayJob",
            "medbatch-cardiology",
            {
                "status": {
                    "jobDeploymentStatus": "Running",
                    "jobStatus": "RUNNING",
                    "dashboardURL": "medbatch-cardiology-head-svc.team-a.svc:8265",
                    "startTime": "2026-11-22T10:00:00Z",
                }
            },
            status=True,
        )

        async def progressed() -> dict[str, Any] | None:
            found = await phase_is(cluster, "cardiology", "Running")
            return found if found and found["status"].get("records", {}).get("done") == 100 else None

        running = await eventually(progressed, "progress in the status")
        status = running["status"]
        assert status["progress"] == "25% (100/400)"
        assert status["records"] == {"total": 400, "done": 100, "failed": 3}
        assert status["shards"] == {"total": 4, "done": 1}
        assert status["tokens"] == {"in": 5000, "out": 700}
        assert status["dashboardUrl"] == "http://medbatch-cardiology-head-svc.team-a.svc:8265"
        assert status["startTime"] == "2026-11-22T10:00:00Z"
        assert conditions(running) == {
            "Running": "True",
            "Complete": "False",
            "Failed": "False",
            "Suspended": "False",
        }
        assert all(c["observedGeneration"] == 1 for c in status["conditions"])

        # The job finishes: manifest first, then KubeRay's Complete.
        write_run_file(
            s3_endpoint,
            "cardiology",
            "_manifest.json",
            {"outcome": "Succeeded", "tokens_in": 20000, "tokens_out": 2800},
        )
        await cluster.patch(
            "RayJob",
            "medbatch-cardiology",
            {"status": {"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}},
            status=True,
        )
        done = await wait_phase(cluster, "cardiology", "Succeeded")
        assert done["status"]["tokens"] == {"in": 20000, "out": 2800}
        assert done["status"]["completionTime"]
        assert conditions(done) == {
            "Running": "False",
            "Complete": "True",
            "Failed": "False",
            "Suspended": "False",
        }
        reasons = await wait_event(cluster, "cardiology", "Completed")
        assert reasons.index("RayJobCreated") < reasons.index("Running") < reasons.index("Completed")

        # Metrics endpoint, with phase labels only.
        metrics = httpx.get(f"http://127.0.0.1:{operator_env}/metrics").text
        assert 'medbatch_operator_launches_total{runner="rayjob"}' in metrics
        assert 'medbatch_operator_phase_transitions_total{phase="Succeeded"}' in metrics

    everything = json.dumps([await cluster.list_all(k) for k in ("Event", "Corpus", "RayJob", "ConfigMap")])
    assert SECRET_VALUE not in everything
    assert len(await cluster.list_all("RayJob")) == 1
