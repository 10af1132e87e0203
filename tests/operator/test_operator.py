"""The operator under kopf against the emulated API server: lifecycle, status, events, failures, restarts.

KubeRay is not running here, so the tests play its part: they write the RayJob status the way KubeRay
would, and the job's ``_progress.json``/``_manifest.json`` into the output bucket (moto S3) the way the
job would.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from typing import Any

import boto3
import prometheus_client
import pytest
import yaml

from medbatch.operator import admission
from medbatch.operator.kube import NAMESPACED_MODE, PERMISSIONS
from medbatch.operator.render import LABEL_CORPUS
from tests.operator.cluster import (
    NAMESPACE,
    OUTPUT_BUCKET,
    ROOT,
    Cluster,
    eventually,
    owner_reference,
    rayjob_crd,
    running_operator,
)

pytestmark = pytest.mark.asyncio(loop_scope="function")

PROFILE = yaml.safe_load((ROOT / "manifests" / "profiles" / "openbiollm-70b.yaml").read_text())

SECRET_VALUE = "s3cr3t-do-not-leak"


def corpus(name: str = "cardiology", **spec: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "medbatch.io/v1alpha1",
        "kind": "Corpus",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {"team": "cardio", "kueue.x-k8s.io/queue-name": "cardio-batch"},
        },
        "spec": {
            "source": {"uri": "s3://notes/cardiology/", "format": "parquet"},
            "tasks": {"deidentify": {"strategy": "surrogate"}, "ner": {}, "summarize": {}},
            "model": "openbiollm-70b",
            "replicas": 2,
            "output": {"uri": f"s3://{OUTPUT_BUCKET}/{name}/"},
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
        # The platform's mark that Corpora may use this Secret (the chart's tenancy.credentialsSecretLabel).
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"medbatch.io/credentials": "true"}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }


async def install(cluster: Cluster, s3_endpoint: str, *, auth_options: bool = True) -> None:
    """What a platform team has before applying a Corpus: the profile and the credentials Secret (and
    KubeRay, whose RayJob CRD ``auth_options=False`` makes an older one's)."""
    if not auth_options:
        old = rayjob_crd(auth_options=False)
        await cluster.patch(
            "CustomResourceDefinition", "rayjobs.ray.io", {"spec": old["spec"]}, namespace=None
        )
    await cluster.apply(copy.deepcopy(PROFILE))
    await cluster.apply(secret(s3_endpoint))


def write_run_file(s3_endpoint: str, name: str, file: str, content: dict[str, Any]) -> None:
    """Write a job file into the Corpus's output folder, as the job does."""
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=OUTPUT_BUCKET, Key=f"{name}/{file}", Body=json.dumps(content).encode()
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


def _recording() -> tuple[list[str], logging.Handler]:
    """A log handler that keeps each record's message, and the list it keeps them in."""
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    return records, handler


async def test_create_runs_to_success_with_progress_status_and_events(
    cluster: Cluster, s3_endpoint: str
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
        assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "cardio-batch", (
            "Kueue's queue passes on"
        )
        assert "team" not in job["metadata"]["labels"], "labels off the platform's list do not"
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
        assert pending["status"]["outputUri"] == f"s3://{OUTPUT_BUCKET}/cardiology/"

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
            "Started": "True",
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
            "Started": "True",
            "Running": "False",
            "Complete": "True",
            "Failed": "False",
            "Suspended": "False",
        }
        reasons = await wait_event(cluster, "cardiology", "Completed")
        assert reasons.index("RayJobCreated") < reasons.index("Running") < reasons.index("Completed")

        # Metrics, with phase labels only (the process-wide registry the endpoint serves).
        metrics = prometheus_client.generate_latest().decode()
        assert 'medbatch_operator_launches_total{runner="rayjob"}' in metrics
        assert 'medbatch_operator_phase_transitions_total{phase="Succeeded"}' in metrics

    everything = json.dumps([await cluster.list_all(k) for k in ("Event", "Corpus", "RayJob", "ConfigMap")])
    assert SECRET_VALUE not in everything
    assert len(await cluster.list_all("RayJob")) == 1


async def set_rayjob_status(cluster: Cluster, name: str, **status: Any) -> None:
    """Write the RayJob's status as KubeRay would."""
    await cluster.patch("RayJob", f"medbatch-{name}", {"status": status}, status=True)


async def test_failed_job_fails_the_corpus_with_a_short_message_and_a_warning(
    cluster: Cluster, s3_endpoint: str
) -> None:
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("oncology"))
        await rayjob(cluster, "oncology")
        await set_rayjob_status(cluster, "oncology", jobDeploymentStatus="Running", jobStatus="RUNNING")
        await wait_phase(cluster, "oncology", "Running")
        driver_log = "Traceback (most recent call last):\n  ... " + "x" * 5000
        await set_rayjob_status(
            cluster,
            "oncology",
            jobDeploymentStatus="Failed",
            jobStatus="FAILED",
            reason="AppFailed",
            message=f"Job failed due to an application error, last available logs: {driver_log}",
        )
        failed = await wait_phase(cluster, "oncology", "Failed")
        assert failed["status"]["reason"] == "AppFailed"
        assert failed["status"]["message"] == "Job failed due to an application error"
        assert {c["type"]: c["status"] for c in failed["status"]["conditions"]}["Failed"] == "True"
        await wait_event(cluster, "oncology", "AppFailed")
        warning = next(e for e in await cluster.events("oncology") if e["reason"] == "AppFailed")
        assert warning["type"] == "Warning"
        assert "Traceback" not in json.dumps(await cluster.events("oncology"))


def token_secret(name: str, owner: dict[str, Any] | None) -> dict[str, Any]:
    """A Secret holding a Ray token under KubeRay's key; owned by ``owner`` (a RayCluster) if given."""
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if owner is not None:
        metadata["ownerReferences"] = [owner_reference(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "stringData": {"auth_token": "t" * 32},
    }


async def test_a_rayjob_whose_cluster_kuberay_made_no_token_for_is_stopped(
    cluster: Cluster, s3_endpoint: str
) -> None:
    """The RayJob CRD keeping authOptions does not show that KubeRay's controller honours it: an older
    controller ignores it and starts a head that takes requests without a token. A RayJob that runs on a
    cluster without KubeRay's token Secret (none, or one KubeRay did not make) is suspended and fails."""
    await install(cluster, s3_endpoint)
    async with running_operator():
        for name in ("guarded", "unguarded", "forged"):
            await cluster.apply(corpus(name))
            await rayjob(cluster, name)
        made = await cluster.apply(
            {
                "apiVersion": "ray.io/v1",
                "kind": "RayCluster",
                "metadata": {"name": "guarded-x1", "namespace": NAMESPACE},
            }
        )
        await cluster.apply(token_secret("guarded-x1", made))
        await cluster.apply(token_secret("forged-x3", None))  # a namespace user's, named like the cluster
        for name, ray_cluster in (
            ("guarded", "guarded-x1"),
            ("unguarded", "unguarded-x2"),
            ("forged", "forged-x3"),
        ):
            await set_rayjob_status(
                cluster, name, jobDeploymentStatus="Running", jobStatus="RUNNING", rayClusterName=ray_cluster
            )
        for name, ray_cluster in (("unguarded", "unguarded-x2"), ("forged", "forged-x3")):
            failed = await wait_phase(cluster, name, "Failed")
            assert failed["status"]["reason"] == "RayTokenAuthNotEnforced"
            assert f"no token Secret for RayCluster '{ray_cluster}'" in failed["status"]["message"]
            assert (await rayjob(cluster, name))["spec"]["suspend"] is True
            await wait_event(cluster, name, "RayTokenAuthNotEnforced")
        await wait_phase(cluster, "guarded", "Running")
        assert (await rayjob(cluster, "guarded"))["spec"]["suspend"] is False
        events = json.dumps(await cluster.list_all("Event"))
    assert "t" * 32 not in events


async def test_a_corpus_created_suspended_gets_a_suspended_rayjob(cluster: Cluster, s3_endpoint: str) -> None:
    """KubeRay creates no Ray cluster for a suspended RayJob: nothing runs until the Corpus is resumed."""
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("held", suspend=True))
        job = await rayjob(cluster, "held")
        assert job["spec"]["suspend"] is True
        held = await wait_phase(cluster, "held", "Suspended")
        assert held["status"]["reason"] == "Suspended"


async def test_suspend_and_resume_map_to_the_rayjob(cluster: Cluster, s3_endpoint: str) -> None:
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("neuro"))
        await rayjob(cluster, "neuro")
        await set_rayjob_status(cluster, "neuro", jobDeploymentStatus="Running", jobStatus="RUNNING")
        await wait_phase(cluster, "neuro", "Running")

        await cluster.patch("Corpus", "neuro", {"spec": {"suspend": True}})

        async def suspended_rayjob() -> dict[str, Any] | None:
            job = await cluster.get("RayJob", "medbatch-neuro")
            return job if job and job["spec"]["suspend"] is True else None

        await eventually(suspended_rayjob, "the RayJob to be suspended")
        await set_rayjob_status(cluster, "neuro", jobDeploymentStatus="Suspended", jobStatus="")
        suspended = await wait_phase(cluster, "neuro", "Suspended")
        assert {c["type"]: c["status"] for c in suspended["status"]["conditions"]}["Suspended"] == "True"

        await cluster.patch("Corpus", "neuro", {"spec": {"suspend": False}})

        async def resumed_rayjob() -> dict[str, Any] | None:
            job = await cluster.get("RayJob", "medbatch-neuro")
            return job if job and job["spec"]["suspend"] is False else None

        await eventually(resumed_rayjob, "the RayJob to be resumed")
        await set_rayjob_status(cluster, "neuro", jobDeploymentStatus="Running", jobStatus="RUNNING")
        await wait_phase(cluster, "neuro", "Running")
        reasons = await wait_event(cluster, "neuro", "Resumed")
        assert "Suspended" in reasons
    assert len(await cluster.list_all("RayJob")) == 1


async def test_delete_stops_tracking_and_leaves_cleanup_to_owner_references(
    cluster: Cluster, s3_endpoint: str
) -> None:
    """kopf's finalizer (it stops the Corpus's daemon first) is released and the Corpus goes; Kubernetes'
    garbage collector then removes the RayJob and ConfigMap through their owner references (asserted in
    the lifecycle test; the emulator collects no garbage)."""
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("derm"))
        await rayjob(cluster, "derm")
        await wait_phase(cluster, "derm", "Pending")
        await cluster.delete("Corpus", "derm")

        async def gone() -> bool:
            return await cluster.get("Corpus", "derm") is None

        await eventually(gone, "the Corpus to be deleted")
        assert ("ray.io", "rayjobs", "delete") not in cluster.requests()


@pytest.mark.parametrize(
    ("change", "reason", "says"),
    [
        ({"replicas": 0}, "InvalidSpec", "spec.replicas"),
        ({"output": {}}, "OutputRequired", "spec.output.uri is required"),
    ],
)
async def test_a_corpus_that_cannot_start_fails_with_a_reason_an_event_and_no_rayjob(
    cluster: Cluster, s3_endpoint: str, change: dict[str, Any], reason: str, says: str
) -> None:
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("bad", **change))
        failed = await wait_phase(cluster, "bad", "Failed")
        assert failed["status"]["reason"] == reason
        assert says in failed["status"]["message"]
        await wait_event(cluster, "bad", reason)
        event = next(e for e in await cluster.events("bad") if e["reason"] == reason)
        assert event["type"] == "Warning"
        assert says in event["message"]
        assert await cluster.list_all("RayJob") == []
        assert await cluster.list_all("ConfigMap") == []


@pytest.mark.parametrize(
    ("change", "reason", "says"),
    [
        ({"model": "no-such-model"}, "ModelProfileNotFound", "ModelProfile 'no-such-model' does not exist"),
        ({"credentials": {"secretRef": {"name": "nope"}}}, "SecretNotFound", "Secret 'nope'"),
        (
            {"serviceAccountName": "deployer"},
            "Forbidden",
            "spec.serviceAccountName 'deployer' is not a ServiceAccount Corpora of namespace",
        ),
    ],
)
async def test_a_corpus_that_waits_is_pending_not_failed(
    cluster: Cluster, s3_endpoint: str, change: dict[str, Any], reason: str, says: str
) -> None:
    """Waiting for something that may appear is not a failure: `kubectl wait --for=condition=Failed` and
    workflow engines must not give up on it."""
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("waits", **change))

        async def waiting() -> dict[str, Any] | None:
            found = await phase_is(cluster, "waits", "Pending")
            return found if found and found["status"].get("reason") == reason else None

        pending = await eventually(waiting, f"Corpus waits to be Pending with {reason}")
        status = pending["status"]
        assert says in status["message"]
        assert "completionTime" not in status
        by_type = {c["type"]: c for c in status["conditions"]}
        assert (by_type["Started"]["status"], by_type["Started"]["reason"]) == ("False", reason)
        assert by_type["Failed"]["status"] == "False"
        event = next(e for e in await cluster.events("waits") if e["reason"] == reason)
        assert event["type"] == "Warning"
        assert await cluster.list_all("RayJob") == []


async def test_a_rayjob_crd_without_auth_options_stops_the_launch(cluster: Cluster, s3_endpoint: str) -> None:
    """An older KubeRay CRD prunes authOptions: the Ray head would accept anyone. Nothing starts, and the
    status says why; upgrading the CRD lets the Corpus start."""
    await install(cluster, s3_endpoint, auth_options=False)
    async with running_operator():
        await cluster.apply(corpus("tokenless"))

        async def refused() -> dict[str, Any] | None:
            found = await phase_is(cluster, "tokenless", "Pending")
            return found if found and found["status"].get("reason") == "RayTokenAuthUnsupported" else None

        status = (await eventually(refused, "Corpus tokenless refused"))["status"]
        assert "without token authentication" in status["message"]
        assert await cluster.list_all("RayJob") == []
        assert await cluster.list_all("ConfigMap") == []

        upgraded = rayjob_crd()
        await cluster.patch(
            "CustomResourceDefinition", "rayjobs.ray.io", {"spec": upgraded["spec"]}, namespace=None
        )
        job = await rayjob(cluster, "tokenless")
        assert job["spec"]["rayClusterSpec"]["authOptions"] == {"mode": "token"}


async def test_a_secret_the_platform_has_not_marked_is_not_injected(
    cluster: Cluster, s3_endpoint: str
) -> None:
    """Creating a Corpus must not be a way to mount any Secret of the namespace into pods: one without the
    platform's label is refused (Pending, Forbidden) with no RayJob, and used once it is labelled."""
    await install(cluster, s3_endpoint)
    unmarked = secret(s3_endpoint, "db-creds")
    del unmarked["metadata"]["labels"]
    await cluster.apply(unmarked)
    async with running_operator():
        await cluster.apply(corpus("borrow", credentials={"secretRef": {"name": "db-creds"}}))

        async def forbidden() -> dict[str, Any] | None:
            found = await phase_is(cluster, "borrow", "Pending")
            return found if found and found["status"].get("reason") == "Forbidden" else None

        status = (await eventually(forbidden, "Corpus borrow refused"))["status"]
        assert "Secret 'db-creds' (object-storage credentials) is not marked for Corpora" in status["message"]
        assert "medbatch.io/credentials=true" in status["message"]
        assert await cluster.list_all("RayJob") == []

        await cluster.patch(
            "Secret", "db-creds", {"metadata": {"labels": {"medbatch.io/credentials": "true"}}}
        )
        job = await rayjob(cluster, "borrow")
        head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
        assert head["containers"][0]["envFrom"] == [{"secretRef": {"name": "db-creds"}}]


async def test_a_service_account_the_platform_allows_runs_the_pods(
    cluster: Cluster, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDBATCH_ALLOWED_SERVICE_ACCOUNTS", '["batch-runner"]')
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("identity", serviceAccountName="batch-runner"))
        job = await rayjob(cluster, "identity")
        spec = job["spec"]["rayClusterSpec"]
        for pod in (
            spec["headGroupSpec"]["template"]["spec"],
            spec["workerGroupSpecs"][0]["template"]["spec"],
        ):
            assert pod["serviceAccountName"] == "batch-runner"
            assert "automountServiceAccountToken" not in pod


@pytest.mark.parametrize(
    ("status", "phase", "reason"),
    [(403, "Pending", "Forbidden"), (422, "Failed", "Rejected")],
)
async def test_an_api_error_creating_the_rayjob_sets_a_phase_and_a_reason(
    cluster: Cluster, s3_endpoint: str, status: int, phase: str, reason: str
) -> None:
    """RBAC (403) may be fixed, so the Corpus waits; a webhook's refusal (422, e.g. KubeRay's) will not go
    away by retrying the same RayJob, so the Corpus fails. Either way it is said, not retried silently."""
    await install(cluster, s3_endpoint)
    cluster.server.refusals["rayjobs"] = (status, "admission webhook denied the request")
    async with running_operator():
        await cluster.apply(corpus("refused"))
        found = await wait_phase(cluster, "refused", phase)
        assert found["status"]["reason"] == reason
        assert str(status) in found["status"]["message"] or "refused" in found["status"]["message"]
        await wait_event(cluster, "refused", reason)
        if phase == "Failed":
            assert "completionTime" in found["status"]
        cluster.server.refusals.clear()
        if phase == "Pending":  # the permission is granted: the next attempt creates it
            await rayjob(cluster, "refused")


async def test_where_namespaces_opt_in_a_refusal_says_how_to_opt_in(
    cluster: Cluster, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the chart's namespaceOptIn the operator may act only where a namespace's admin bound the
    tenant ClusterRole; until then its requests there are forbidden and the Corpus says what to run."""
    monkeypatch.setenv("MEDBATCH_TENANT_CLUSTER_ROLE", "medbatch-tenant")
    monkeypatch.setenv("MEDBATCH_SERVICE_ACCOUNT", "medbatch-system:medbatch")
    await install(cluster, s3_endpoint)
    cluster.server.refusals["configmaps"] = (403, "forbidden")
    async with running_operator():
        await cluster.apply(corpus("newcomer"))
        found = await wait_phase(cluster, "newcomer", "Pending")
        assert found["status"]["reason"] == "NamespaceNotOptedIn"
        assert (
            f"kubectl -n {NAMESPACE} create rolebinding medbatch --clusterrole=medbatch-tenant "
            "--serviceaccount=medbatch-system:medbatch"
        ) in found["status"]["message"]
        await wait_event(cluster, "newcomer", "NamespaceNotOptedIn")
        cluster.server.refusals.clear()  # the namespace's admin binds the role
        await rayjob(cluster, "newcomer")


async def test_a_child_of_another_owner_is_never_adopted(cluster: Cluster, s3_endpoint: str) -> None:
    await install(cluster, s3_endpoint)
    squatter = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "medbatch-taken-config", "namespace": NAMESPACE},
        "data": {"corpus.yaml": "not ours"},
    }
    await cluster.apply(squatter)
    async with running_operator():
        await cluster.apply(corpus("taken"))
        found = await wait_phase(cluster, "taken", "Pending")

        async def named() -> dict[str, Any] | None:
            again = await cluster.get("Corpus", "taken")
            return again if (again or {}).get("status", {}).get("reason") == "ConfigMapNameTaken" else None

        found = await eventually(named, "the ConfigMapNameTaken reason")
        assert "belongs to another object" in found["status"]["message"]
        kept = await cluster.get("ConfigMap", "medbatch-taken-config")
        assert kept is not None
        assert kept["data"] == {"corpus.yaml": "not ours"}
        assert "ownerReferences" not in kept["metadata"]
        assert await cluster.list_all("RayJob") == []


async def test_a_missing_profile_is_picked_up_once_created(cluster: Cluster, s3_endpoint: str) -> None:
    await cluster.apply(secret(s3_endpoint))
    async with running_operator():
        await cluster.apply(corpus("waiting"))
        waiting = await wait_phase(cluster, "waiting", "Pending")
        assert waiting["status"]["reason"] == "ModelProfileNotFound"
        await cluster.apply(copy.deepcopy(PROFILE))
        await rayjob(cluster, "waiting")
        started = await wait_phase(cluster, "waiting", "Pending")
        assert {c["type"]: c["status"] for c in started["status"]["conditions"]}["Failed"] == "False"


async def test_an_invalid_spec_starts_once_corrected(cluster: Cluster, s3_endpoint: str) -> None:
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("typo", replicas=0))
        await wait_phase(cluster, "typo", "Failed")
        await cluster.patch("Corpus", "typo", {"spec": {"replicas": 1}})
        job = await rayjob(cluster, "typo")
        assert job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["replicas"] == 1


async def test_operator_restart_mid_job_keeps_tracking_with_one_rayjob(
    cluster: Cluster, s3_endpoint: str
) -> None:
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("restart"))
        first = await rayjob(cluster, "restart")
        await wait_phase(cluster, "restart", "Pending")

    # The operator is down. Make it look as if it had crashed before recording its work, so the new one
    # runs the start handler again over an existing RayJob.
    found = await cluster.get("Corpus", "restart")
    assert found is not None
    kopf_keys = [k for k in found["metadata"].get("annotations", {}) if k.startswith("medbatch.io/")]
    assert kopf_keys, "kopf should keep its progress in medbatch.io/ annotations"
    await cluster.patch("Corpus", "restart", {"metadata": {"annotations": dict.fromkeys(kopf_keys)}})
    await set_rayjob_status(cluster, "restart", jobDeploymentStatus="Running", jobStatus="RUNNING")

    async with running_operator():
        await wait_phase(cluster, "restart", "Running")
        await wait_event(cluster, "restart", "Running")
        jobs = await cluster.list_all("RayJob")
        assert [j["metadata"]["uid"] for j in jobs] == [first["metadata"]["uid"]]
        creates = [r for r in cluster.requests() if r == ("ray.io", "rayjobs", "create")]
        assert len(creates) == 2, "the second start must have tried, met 409 and adopted the RayJob"


async def test_every_request_the_operator_makes_is_in_its_permissions(
    cluster: Cluster, s3_endpoint: str
) -> None:
    """The RBAC the chart grants is checked against PERMISSIONS; this checks PERMISSIONS against reality."""
    await install(cluster, s3_endpoint)
    before = len(cluster.requests())
    async with running_operator():
        await cluster.apply(corpus("rbac"))
        await rayjob(cluster, "rbac")
        await set_rayjob_status(cluster, "rbac", jobDeploymentStatus="Running", jobStatus="RUNNING")
        await wait_phase(cluster, "rbac", "Running")
        await cluster.patch("Corpus", "rbac", {"spec": {"suspend": True}})
        await wait_event(cluster, "rbac", "Suspended")
    made = set(cluster.requests()[before:])
    granted = {(a.group, a.resource, verb) for a in PERMISSIONS for verb in a.verbs}
    assert made - granted == set()
    assert ("ray.io", "rayjobs", "create") in made
    # And the other way: every permission a namespaced install grants is used here, or on a path this
    # run does not take, named below with the test that takes it.
    elsewhere = {
        # Children an earlier attempt created: read after the create's 409, patched when out of date
        # (tests/operator/test_children.py; test_a_child_of_another_owner_is_never_adopted).
        ("", "configmaps", "get"),
        ("", "configmaps", "patch"),
        ("networking.k8s.io", "networkpolicies", "get"),
        ("networking.k8s.io", "networkpolicies", "patch"),
        # kopf's peering (test_two_replicas_peer_one_works_and_the_other_takes_over).
        ("kopf.dev", "kopfpeerings", "get"),
        # Checked by the API server on owner references with blockOwnerDeletion; no request of its own.
        ("medbatch.io", "corpora/finalizers", "update"),
    }
    namespaced_install = {
        (a.group, a.resource, verb)
        for a in PERMISSIONS
        if a.only in ("", NAMESPACED_MODE)
        for verb in a.verbs
    }
    assert namespaced_install - made == elsewhere


async def test_two_replicas_peer_one_works_and_the_other_takes_over(
    cluster: Cluster, s3_endpoint: str
) -> None:
    """Two operators with the chart's peering object: the higher priority one works, the other waits,
    and takes over when the first stops."""
    await install(cluster, s3_endpoint)
    await cluster.apply(
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "KopfPeering",
            "metadata": {"name": "medbatch", "namespace": NAMESPACE},
        }
    )

    async def peers() -> dict[str, Any] | None:
        peering = await cluster.get("KopfPeering", "medbatch")
        found = (peering or {}).get("status") or {}
        return found if len(found) == 2 else None

    # kopf's peering logger says when an operator pauses and resumes; both operators share it here.
    records, handler = _recording()
    peering_log = logging.getLogger("kopf._core.engines.peering")
    peering_log.addHandler(handler)

    async def paused() -> bool:
        return any(r.startswith("Pausing operations in favour of") for r in records)

    async def resumed() -> bool:
        return any(r.startswith("Resuming operations") for r in records)

    try:
        async with running_operator("--priority=100"):
            async with running_operator("--priority=200"):
                status = await eventually(peers, "both replicas in the peering object")
                assert sorted(p["priority"] for p in status.values()) == [100, 200]
                await eventually(paused, "the lower-priority replica to pause")
                await cluster.apply(corpus("peered"))
                await rayjob(cluster, "peered")
                await wait_phase(cluster, "peered", "Pending")
            # The leader is gone (it removes itself from the peering object on exit); the standby resumes.
            await eventually(resumed, "the standby to resume")
            await cluster.apply(corpus("after-failover"))
            await rayjob(cluster, "after-failover")
            await wait_phase(cluster, "after-failover", "Pending")
    finally:
        peering_log.removeHandler(handler)
    assert len(await cluster.list_all("RayJob")) == 2


async def test_an_unexpected_error_reaches_events_and_the_log_by_its_type_only(
    cluster: Cluster, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kopf writes what a handler raises into the Corpus (its progress annotation, its Events) and its log;
    an error's text may quote a Secret or a response, so what the operator did not expect goes out by its
    type alone."""

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError(f"cannot read the reply: {SECRET_VALUE!r} at byte 1")

    # A check that launching calls, failing in a way no handler expects (importing the handlers module
    # here would register its handlers outside the operator's own registry).
    monkeypatch.setattr(admission, "check_identity", broken)
    await install(cluster, s3_endpoint)
    # The handlers' own logger is read directly: an earlier test in this process may have configured
    # medbatch's logging (its own stderr handler, no propagation), so the runner's output may not hold it.
    records, handler = _recording()
    medbatch_log = logging.getLogger("medbatch")
    medbatch_log.addHandler(handler)
    try:
        async with running_operator() as runner:
            await cluster.apply(corpus("oops"))

            async def retried() -> dict[str, Any] | None:
                found = await cluster.get("Corpus", "oops")
                notes = json.dumps(((found or {}).get("metadata") or {}).get("annotations") or {})
                return found if "internal error (RuntimeError)" in notes else None

            found = await eventually(retried, "kopf to record the failed start by the error's type")
            events = await cluster.events("oops")
    finally:
        medbatch_log.removeHandler(handler)
    assert SECRET_VALUE not in json.dumps(found)
    assert all(SECRET_VALUE not in e["message"] for e in events)
    assert "handler failed unexpectedly (RuntimeError); retrying" in records
    for written in (runner.output, *records):
        assert "cannot read the reply" not in written
        assert SECRET_VALUE not in written


async def test_a_spec_edited_while_the_job_starts_stops_the_job_and_fails_the_corpus(
    cluster: Cluster, s3_endpoint: str
) -> None:
    """The API server freezes a started Corpus's spec, but the status that marks it started is written after
    the RayJob is created: an edit in that window lands (the emulator, which has no CEL, lets this test make
    it at any time). The Corpus must not show a spec its job does not run."""
    await install(cluster, s3_endpoint)
    async with running_operator():
        await cluster.apply(corpus("edited"))
        await rayjob(cluster, "edited")
        started = await wait_phase(cluster, "edited", "Pending")
        assert started["status"]["specHash"]
        await cluster.patch("Corpus", "edited", {"spec": {"replicas": 3}})
        failed = await wait_phase(cluster, "edited", "Failed")
        assert failed["status"]["reason"] == "SpecChangedAtLaunch"
        assert "Delete the Corpus and apply it again" in failed["status"]["message"]
        await wait_event(cluster, "edited", "SpecChangedAtLaunch")

        async def suspended() -> dict[str, Any] | None:
            job = await cluster.get("RayJob", "medbatch-edited")
            return job if job and job["spec"].get("suspend") is True else None

        job = await eventually(suspended, "the RayJob of the edited Corpus to be suspended")
        workers = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
        assert workers["replicas"] == 2, "the job is the one started, not the edit"
