"""What a runner reports about a Corpus's job, whichever way it runs (a RayJob or a Jobs API submission).

Each runner translates its own vocabulary (KubeRay's jobDeploymentStatus and jobStatus, the Jobs API's
status) into one ``JobState``; the Corpus phase is then decided once, from that (``status.verdict``).
Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from medbatch.operator.jobs_api import JobInfo
from medbatch.spec.corpus_status import timestamp


class Stage(StrEnum):
    """Where a job is, in words common to both runners."""

    STARTING = "Starting"
    RUNNING = "Running"
    RETRYING = "Retrying"  # failed and being retried (KubeRay's backoffLimit)
    SUSPENDED = "Suspended"  # held: by spec.suspend, or by a queue until it admits the job
    REJECTED = "Rejected"  # refused before it ran (KubeRay's validation)
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


class JobState(BaseModel):
    """One look at a job.

    Args:
        reason: the runner's own reason for a failure (KubeRay's ``DeadlineExceeded``), if it gives one.
        message: the runner's message (may be long: ``status.verdict`` keeps its headline only).
        dashboard_url: where to watch the job.
        start_time: when the job started (Kubernetes-style UTC timestamp).
    """

    model_config = ConfigDict(frozen=True)

    stage: Stage
    reason: str = ""
    message: str = ""
    dashboard_url: str | None = None
    start_time: str | None = None


_KUBERAY_STAGES = {
    "Running": Stage.RUNNING,
    "Retrying": Stage.RETRYING,
    "Suspending": Stage.SUSPENDED,
    "Suspended": Stage.SUSPENDED,
    "ValidationFailed": Stage.REJECTED,
    "Failed": Stage.FAILED,
}


def from_rayjob_status(status: Mapping[str, Any] | None) -> JobState:
    """A RayJob's ``status`` (KubeRay 1.7; None before KubeRay has written one) as a JobState."""
    status = status or {}
    deployment = str(status.get("jobDeploymentStatus") or "")
    if deployment == "Complete":
        # A finished RayJob whose Ray job failed or was stopped has failed.
        failed = status.get("jobStatus") in ("FAILED", "STOPPED")
        stage = Stage.FAILED if failed else Stage.SUCCEEDED
    else:
        stage = _KUBERAY_STAGES.get(deployment, Stage.STARTING)
    dashboard = status.get("dashboardURL")
    return JobState(
        stage=stage,
        reason=str(status.get("reason") or ""),
        message=str(status.get("message") or ""),
        # KubeRay writes host:port without a scheme.
        dashboard_url=f"http://{dashboard}" if dashboard and "://" not in dashboard else dashboard,
        start_time=status.get("startTime"),
    )


_JOBS_API_STAGES = {
    "PENDING": Stage.STARTING,
    "RUNNING": Stage.RUNNING,
    "SUCCEEDED": Stage.SUCCEEDED,
    "FAILED": Stage.FAILED,
    "STOPPED": Stage.FAILED,
}


def from_jobs_api(info: JobInfo, dashboard_url: str, *, suspended: bool) -> JobState:
    """A Jobs API submission's state as a JobState.

    Args:
        dashboard_url: the cluster's address.
        suspended: the Corpus is suspended, so the operator stopped (or is stopping) the submission.
    """
    stage = _JOBS_API_STAGES.get(info.status, Stage.STARTING)
    if suspended and info.status in ("STOPPED", "PENDING", "RUNNING"):
        stage = Stage.SUSPENDED
    started = timestamp(datetime.fromtimestamp(info.start_time / 1000, UTC)) if info.start_time else None
    return JobState(stage=stage, message=info.message or "", dashboard_url=dashboard_url, start_time=started)


def gone(finished: bool) -> JobState:
    """A job that no longer exists (a RayJob deleted by hand or by KubeRay's deletionPolicy, a submission
    the cluster forgot), judged by whether the job's manifest says it ``finished``."""
    if finished:
        return JobState(stage=Stage.SUCCEEDED)
    return JobState(
        stage=Stage.FAILED,
        reason="JobDeleted",
        message="the job was deleted before it finished; delete and re-apply the Corpus to run it again "
        "(finished shards are kept)",
    )
