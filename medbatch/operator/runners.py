"""The two ways a Corpus's job runs, behind one protocol.

- ``RayJobRunner``: a RayJob of its own (with its ConfigMap and NetworkPolicy), owned by the Corpus, so
  Kubernetes deletes them with it;
- ``JobsApiRunner``: a submission to an existing RayCluster the platform opened (``spec.ray``), through
  the Ray Jobs API.

``runner_for`` is the one place that tells them apart. Every step is idempotent, so kopf may run it again
after a crash or a retry: children have fixed names and an existing one is kept, and a submission id
derives from the Corpus uid.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, Protocol, cast

import httpx
import kopf

from medbatch.operator.admission import Plan, admit
from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError, as_launch_errors
from medbatch.operator.job_state import JobState, Stage, from_jobs_api, from_rayjob_status
from medbatch.operator.jobs_api import (
    TERMINAL_STATUSES,
    JobsApiError,
    RayJobsClient,
    submission_id_for,
)
from medbatch.operator.kube import Kube
from medbatch.operator.metrics import LAUNCHES
from medbatch.operator.ray_clusters import kuberay_made_token, ray_cluster, target_name
from medbatch.operator.render import (
    CONTENT_HASH,
    child_name,
    render_configmap,
    render_network_policy,
    render_rayjob,
    with_content_hash,
)
from medbatch.operator.resource import CorpusObject
from medbatch.spec.run_files import entrypoint_command, spec_files


@dataclass(frozen=True)
class Launched:
    """What a start made: a RayJob (``rayjob`` set) or a Jobs API submission (``submission_id`` set).

    Args:
        created: whether this call made the RayJob (False: an earlier attempt had); None for Jobs API
            submissions, which are idempotent by id and do not say whether they were new.
        resumes: how often a Jobs API run has been resumed, for a resumed one.
    """

    created: bool | None
    rayjob: str | None = None
    submission_id: str | None = None
    resumes: int | None = None

    def announcement(self) -> tuple[str, str]:
        """The Event (reason, message) that says what started."""
        if self.rayjob:
            verb = "created" if self.created else "found (created earlier)"
            return "RayJobCreated", f"RayJob {self.rayjob} {verb}"
        return "JobSubmitted", f"submitted to the Ray cluster as {self.submission_id}"


class JobRunner(Protocol):
    """Runs one Corpus's job. Raises LaunchError for what the Corpus's status or Events should say."""

    kind: str
    """The runner's name in metrics: ``rayjob`` or ``jobs-api``."""

    async def start(self, plan: Plan) -> Launched:
        """Start the job (or find the one an earlier attempt started)."""
        ...

    async def observe(self) -> JobState | None:
        """The job's state; None when it does not exist (any more)."""
        ...

    async def suspend(self) -> None:
        """Hold the job; returns once nothing of it runs."""
        ...

    async def resume(self, plan: Plan) -> Launched | None:
        """Run a held job again: the new submission, or None where the same job goes on."""
        ...

    async def stop(self) -> bool:
        """Stop the job for good; False when it had already finished or is gone."""
        ...


def runner_for(kube: Kube, config: OperatorConfig, resource: CorpusObject) -> JobRunner:
    """The runner of ``resource``: on an existing RayCluster when its spec names one, else a RayJob."""
    if resource.corpus.spec.ray is not None:
        return JobsApiRunner(kube, config, resource)
    return RayJobRunner(kube, config, resource)


async def launch(kube: Kube, resource: CorpusObject, config: OperatorConfig) -> Launched:
    """Admit the Corpus and start its job (or find what an earlier attempt started)."""
    runner = runner_for(kube, config, resource)
    with as_launch_errors(config.opt_in_command(resource.namespace)):
        launched = await runner.start(await admit(kube, resource, config))
    LAUNCHES.labels(runner.kind).inc()
    return launched


class RayJobRunner:
    """A RayJob of the Corpus's own, created with its ConfigMap (and NetworkPolicy) and owned by it."""

    kind = "rayjob"

    def __init__(self, kube: Kube, config: OperatorConfig, resource: CorpusObject) -> None:
        self.kube, self.config, self.resource = kube, config, resource
        self.name = child_name(resource.corpus)

    async def start(self, plan: Plan) -> Launched:
        """Create the children, or keep the ones an earlier attempt made."""
        corpus, settings = plan.resource.corpus, self.config.render_settings()
        children = [
            with_content_hash(render_configmap(corpus, plan.profile)),
            with_content_hash(render_rayjob(corpus, plan.profile, settings)),
        ]
        if self.config.network_policy:
            children.append(with_content_hash(render_network_policy(corpus, settings)))
        # Owned and placed, but not kopf.adopt: it also copies every owner label onto the children, which
        # would pass a Corpus's labels (a Kueue priority class) past the platform's child-label list.
        kopf.append_owner_reference(children, owner=kopf.Body(cast(kopf.RawBody, dict(self.resource.body))))
        for child in children:
            child["metadata"]["namespace"] = self.resource.namespace
        created = {}
        with as_launch_errors():
            for child in children:
                created[child["kind"]] = await create_owned(self.kube, child, self.resource.uid)
        return Launched(created=created["RayJob"], rayjob=self.name)

    async def observe(self) -> JobState | None:
        """The RayJob's status, as KubeRay writes it; Failed, with the RayJob suspended, once it runs on a
        cluster KubeRay made no token for."""
        rayjob = await self.kube.rayjob(self.resource.namespace, self.name)
        if rayjob is None:
            return None
        status = rayjob.get("status") or {"jobDeploymentStatus": "New"}
        state = from_rayjob_status(status)
        cluster = status.get("rayClusterName")
        running = state.stage is Stage.RUNNING and isinstance(cluster, str) and bool(cluster)
        if running and not await kuberay_made_token(self.kube, self.resource.namespace, str(cluster)):
            await self.suspend()
            return _token_not_enforced(str(cluster))
        return state

    async def suspend(self) -> None:
        """Suspend the RayJob (KubeRay deletes its cluster; the RayJob stays)."""
        await self.kube.set_rayjob_suspend(self.resource.namespace, self.name, True)

    async def resume(self, plan: Plan) -> Launched | None:
        """Unsuspend the RayJob (KubeRay creates a cluster and runs the job again)."""
        await self.kube.set_rayjob_suspend(self.resource.namespace, self.name, False)
        return None

    async def stop(self) -> bool:
        """Suspend the RayJob for good: nothing runs, and the RayJob stays as the record until the Corpus
        is deleted."""
        await self.suspend()
        return True


def _token_not_enforced(cluster: str) -> JobState:
    return JobState(
        stage=Stage.FAILED,
        reason="RayTokenAuthNotEnforced",
        message=f"KubeRay made no token Secret for RayCluster '{cluster}': its controller ignores "
        "authOptions (older than its CRDs), so the Ray head took requests without a token. The RayJob is "
        "suspended (its cluster deleted); upgrade KubeRay's controller, then delete and re-apply the Corpus",
    )


async def create_owned(kube: Kube, document: dict[str, Any], owner_uid: str) -> bool:
    """Create a child object, or keep the one there if this Corpus owns it and it has the same content.

    Returns whether this call created it. A same-named object of another owner (an earlier Corpus that
    Kubernetes has not garbage-collected yet, or someone else's) is never adopted; an owned one with other
    content is brought up to date (ConfigMap, NetworkPolicy) or, for a RayJob that may already run, left for
    a person to delete.
    """
    kind, name = document["kind"], document["metadata"]["name"]
    with as_launch_errors():
        existing, created = await kube.create_or_get(document)
    if created:
        return True
    meta = existing.get("metadata") or {}
    if owner_uid not in [ref.get("uid") for ref in meta.get("ownerReferences") or []]:
        raise LaunchError(
            f"{kind}NameTaken",
            f"{kind} {name} exists and belongs to another object; waiting for it to be deleted",
            retry=True,
        )
    if (meta.get("annotations") or {}).get(CONTENT_HASH) == document["metadata"]["annotations"][CONTENT_HASH]:
        return False
    if kind == "RayJob":
        raise LaunchError(
            "RayJobOutOfDate",
            f"RayJob {name} was made for an earlier version of this Corpus; delete it (kubectl delete rayjob "
            f"{name}) and the operator creates it again",
            retry=True,
        )
    with as_launch_errors():
        await kube.patch_object(
            document, {k: v for k, v in document.items() if k not in ("apiVersion", "kind")}
        )
    return False


class JobsApiRunner:
    """A submission to an existing RayCluster the platform opened, through the Ray Jobs API.

    The cluster's trust is checked again on every call (``ray_clusters.ray_target``): the platform may
    close a cluster while a Corpus runs on it.
    """

    kind = "jobs-api"

    def __init__(self, kube: Kube, config: OperatorConfig, resource: CorpusObject) -> None:
        self.kube, self.config, self.resource = kube, config, resource

    def _cluster(self) -> contextlib.AbstractAsyncContextManager[RayJobsClient]:
        return ray_cluster(self.kube, self.resource.corpus, self.resource.namespace, self.config)

    async def start(self, plan: Plan) -> Launched:
        """Submit under the Corpus's first submission id (a submission with that id is kept)."""
        with contextlib.closing(_admitted_client(plan)) as client:
            return await self._submit(client, plan, submission_id_for(self.resource.uid))

    async def observe(self) -> JobState | None:
        """The submission's state, as the Jobs API reports it."""
        async with self._cluster() as client:
            info = await asyncio.to_thread(client.status, self.resource.submission_id)
        if info is None:
            return None
        return from_jobs_api(info, client.address, suspended=self.resource.corpus.spec.suspend)

    async def suspend(self) -> None:
        """Stop the submission and wait until the cluster reports it finished (a submission cannot be
        paused)."""
        async with self._cluster() as client:
            await self._stop_and_wait(client)

    async def resume(self, plan: Plan) -> Launched:
        """Submit anew under a new id (a stopped submission cannot restart; finished shards are skipped),
        after making sure the earlier one has stopped (the stop at suspend may never have arrived): two
        submissions must never write one output folder at once. Both go to the cluster admission just
        checked."""
        resumes = int(self.resource.status.get("resumes") or 0) + 1
        with contextlib.closing(_admitted_client(plan)) as client:
            await self._stop_and_wait(client)
            launched = await self._submit(client, plan, f"{submission_id_for(self.resource.uid)}-r{resumes}")
        return Launched(created=None, submission_id=launched.submission_id, resumes=resumes)

    async def stop(self) -> bool:
        """Ask the cluster to stop the submission."""
        async with self._cluster() as client:
            return await asyncio.to_thread(client.stop, self.resource.submission_id)

    async def _stop_and_wait(self, client: RayJobsClient) -> None:
        try:
            await asyncio.to_thread(
                _stop_and_wait, client, self.resource.submission_id, self.config.delete_timeout_s
            )
        except (JobsApiError, httpx.HTTPError) as exc:
            raise LaunchError(
                "StopFailed", f"cannot stop the Ray job yet ({type(exc).__name__}); retrying", retry=True
            ) from None

    async def _submit(self, client: RayJobsClient, plan: Plan, submission: str) -> Launched:
        corpus, resource = plan.resource.corpus, plan.resource
        try:
            info = await asyncio.to_thread(
                client.submit,
                submission,
                entrypoint_command("."),
                working_dir=spec_files(corpus, plan.profile),
                metadata={"medbatch.io/corpus": f"{resource.namespace}/{resource.name}"},
            )
        except JobsApiError as exc:
            raise LaunchError("RayClusterUnavailable", str(exc), retry=True) from None
        except httpx.HTTPError as exc:  # the exception's text is not shown: it may quote the server
            raise LaunchError(
                "RayClusterUnavailable",
                f"cannot reach the Jobs API of RayCluster '{target_name(corpus)}' "
                f"({type(exc).__name__}); retrying",
                retry=True,
            ) from None
        return Launched(created=None, submission_id=info.submission_id)


def _admitted_client(plan: Plan) -> RayJobsClient:
    """A Jobs API client for the cluster admission resolved (the caller closes it)."""
    assert plan.target is not None  # admission resolves a spec.ray Corpus's cluster
    return plan.target.client()


def _stop_and_wait(client: RayJobsClient, submission: str, timeout_s: float) -> None:
    """Stop a Jobs API submission and wait until the cluster reports it finished (raises on timeout)."""
    deadline = time.monotonic() + timeout_s
    client.stop(submission)
    while True:
        info = client.status(submission)
        if info is None or info.status in TERMINAL_STATUSES:
            return
        if time.monotonic() > deadline:
            raise JobsApiError(f"submission {submission} did not stop within {timeout_s:.0f} s")
        time.sleep(0.5)  # polling the cluster, which has no way to notify
