"""Map a RayJob's status (and the job's progress and manifest) onto the Corpus status. Pure functions.

Phases: Pending, Running, Succeeded, PartiallySucceeded, Failed, Suspended. Conditions follow Kubernetes
conventions (type, status, reason, message, lastTransitionTime, observedGeneration): ``Running``,
``Complete``, ``Failed`` and ``Suspended``, each True or False, with lastTransitionTime kept while a
condition's status does not change.

Progress comes from the job's ``_progress.json`` and outcome from its ``_manifest.json`` in the output
folder, read by the operator with the Corpus's credentials: the job needs no Kubernetes permissions, and
the status never depends on a pod being reachable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from medbatch.spec.bounds import LABEL_CHARS, URI_CHARS
from medbatch.spec.run_files import AuditReport, Outcome, ProgressReport


class Phase(StrEnum):
    """Corpus phases, shown by ``kubectl get corpora``."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    PARTIALLY_SUCCEEDED = "PartiallySucceeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"


TERMINAL = frozenset({Phase.SUCCEEDED, Phase.PARTIALLY_SUCCEEDED, Phase.FAILED})
# Status fields the operator sets when it starts a Corpus's job (a RayJob, or a Jobs API submission); the
# CRD's CEL rule reads the same ones to freeze a started Corpus's spec.
STARTED_MARKERS = ("rayJob", "submissionId")
# Spec fields that may change while a Corpus runs; every other field is immutable once it has started.
MUTABLE_WHILE_RUNNING = ("suspend",)


_MESSAGE_CHARS = 1024
_REASON_CHARS = 128
_HEADLINE_CHARS = 240


def _bounded(limit: int) -> BeforeValidator:
    """Cut a string to ``limit`` characters, so a long message never makes the status invalid."""

    def cut(value: object) -> object:
        if isinstance(value, str) and len(value) > limit:
            return value[: limit - 1] + "…"
        return value

    return BeforeValidator(cut)


Message = Annotated[str, _bounded(_MESSAGE_CHARS), Field(max_length=_MESSAGE_CHARS)]
Reason = Annotated[str, _bounded(_REASON_CHARS), Field(max_length=_REASON_CHARS)]
Timestamp = Annotated[str, Field(max_length=64)]


class Verdict(BaseModel):
    """A phase with the reason (CamelCase, for machines) and message (a sentence, for people)."""

    phase: Phase
    reason: Reason
    message: Message


def _short(message: object) -> str:
    """A KubeRay message fit for a status field: the first line, bounded.

    KubeRay appends the tail of the driver's log to a failed job's message; medbatch's logs carry no note
    text, but the status and Events are read by more people than the logs, so only the headline travels.
    """
    text = str(message or "").strip()
    headline = text.split("\n", 1)[0].split("last available logs", 1)[0].rstrip(" ,:(")
    return headline if len(headline) <= _HEADLINE_CHARS else headline[: _HEADLINE_CHARS - 1] + "…"


_STARTING = {"", "New", "Initializing", "Waiting"}


def verdict(
    rayjob_status: dict[str, Any] | None, suspend: bool, outcome: Outcome | None, held: int = 0
) -> Verdict:
    """The Corpus phase for a RayJob status.

    Args:
        rayjob_status: the RayJob's ``status`` (None before KubeRay has written one).
        suspend: the Corpus's ``spec.suspend``.
        outcome: the job manifest's outcome when it exists (Succeeded, PartiallySucceeded or Failed).
        held: notes the manifest says the leak audit's gate held.
    """
    status = rayjob_status or {}
    deployment = status.get("jobDeploymentStatus", "") or ""
    job = status.get("jobStatus", "") or ""
    if suspend and (deployment in ("Suspending", "Suspended") or deployment in _STARTING):
        return Verdict(
            phase=Phase.SUSPENDED,
            reason="Suspended",
            message="spec.suspend is true; set it to false to resume",
        )
    if deployment in ("Suspending", "Suspended"):
        # Not the user's doing: a queue (Kueue) holds the RayJob until it admits it.
        return Verdict(
            phase=Phase.SUSPENDED,
            reason="Queued",
            message="the RayJob is suspended by its queue (e.g. Kueue) until it is admitted",
        )
    if deployment == "ValidationFailed":
        return Verdict(
            phase=Phase.FAILED,
            reason="RayJobRejected",
            message=f"KubeRay rejected the RayJob: {_short(status.get('message')) or 'see the RayJob events'}",
        )
    if deployment == "Failed" or (deployment == "Complete" and job in ("FAILED", "STOPPED")):
        reason = status.get("reason") or "JobFailed"
        return Verdict(
            phase=Phase.FAILED,
            reason=str(reason),
            message=_short(status.get("message"))
            or "the Ray job failed; see the Ray dashboard and the manifest",
        )
    if deployment == "Complete":
        if outcome is Outcome.PARTIALLY_SUCCEEDED and held:
            return Verdict(
                phase=Phase.PARTIALLY_SUCCEEDED,
                reason="AuditGate",
                message=f"the job finished; {held} notes are over the leak audit's gate (audit.held in "
                "the output; see the manifest for the rest)",
            )
        if outcome is Outcome.PARTIALLY_SUCCEEDED:
            return Verdict(
                phase=Phase.PARTIALLY_SUCCEEDED,
                reason="SomeRecordsFailed",
                message="the job finished; some records have errors (see the manifest)",
            )
        if outcome is Outcome.FAILED:
            return Verdict(
                phase=Phase.FAILED,
                reason="AllRecordsFailed",
                message="no record succeeded (see the manifest)",
            )
        return Verdict(phase=Phase.SUCCEEDED, reason="Completed", message="all records processed")
    if deployment == "Retrying":
        return Verdict(
            phase=Phase.RUNNING, reason="Retrying", message="the Ray job failed and is being retried"
        )
    if deployment == "Running":
        return Verdict(phase=Phase.RUNNING, reason="Running", message="the Ray job is running")
    return Verdict(phase=Phase.PENDING, reason="Starting", message="waiting for the Ray cluster")


_CONDITION_OF = {
    "Running": {Phase.RUNNING},
    "Complete": {Phase.SUCCEEDED, Phase.PARTIALLY_SUCCEEDED},
    "Failed": {Phase.FAILED},
    "Suspended": {Phase.SUSPENDED},
}


class _WireModel(BaseModel):
    """camelCase on the wire, as every Kubernetes status."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Condition(_WireModel):
    """One Kubernetes condition (metav1.Condition's fields)."""

    type: Annotated[str, Field(max_length=32)]
    status: Annotated[str, Field(pattern="^(True|False|Unknown)$", max_length=7)]
    reason: Reason
    message: Message
    last_transition_time: Timestamp
    observed_generation: int


def conditions(
    previous: list[dict[str, Any]] | None, result: Verdict, generation: int, now: str, *, started: bool
) -> list[dict[str, Any]]:
    """Conditions for ``result``; lastTransitionTime moves only when a condition's status changes.

    ``Started`` says whether the job was created or submitted; while the operator waits (for a
    ModelProfile, a Secret, a free name, an allowed Ray cluster) it is False with the reason, and the
    phase is Pending, not Failed: nothing has gone wrong that waiting cannot fix.
    """
    before = {c.get("type"): c for c in previous or []}
    states = {kind: result.phase in phases for kind, phases in _CONDITION_OF.items()}
    out = []
    for kind, true in [("Started", started), *states.items()]:
        status = "True" if true else "False"
        waiting = kind == "Started" and not true
        old = before.get(kind)
        out.append(
            Condition(
                type=kind,
                status=status,
                reason=result.reason if true or waiting else f"Not{kind}",
                message=result.message if true or waiting else "",
                last_transition_time=old["lastTransitionTime"]
                if old and old.get("status") == status
                else now,
                observed_generation=generation,
            ).model_dump(by_alias=True)
        )
    return out


def progress_text(progress: ProgressReport | None) -> str:
    """The Progress printer column: records done / total and percent."""
    if progress is None or progress.records_total == 0:
        return ""
    percent = 100 * progress.records_done // progress.records_total
    return f"{percent}% ({progress.records_done}/{progress.records_total})"


Counts = Annotated[dict[str, int], Field(max_length=8)]


def duration_text(seconds: float) -> str:
    """A duration as kubectl shows ages: ``45s``, ``12m30s``, ``3h05m``, ``2d4h``."""
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


Short = Annotated[str, Field(max_length=32)]


class CorpusStatus(_WireModel):
    """The status the operator writes; the CRD's status schema is generated from this model."""

    phase: Phase
    reason: Reason
    message: Message
    progress: Annotated[str, Field(max_length=64)] = ""
    throughput: Short = Field(default="", description="Notes per second over the last minutes.")
    eta: Short = Field(default="", description="Time left at that pace, while running.")
    elapsed: Short = Field(default="", description="Time this run of the job has been going.")
    gpu_hours: Short = Field(
        default="", description="GPU time of this run: GPUs per replica x replicas x wall time, in hours."
    )
    cost: Short = Field(
        default="", description="GPU-hours x the ModelProfile's price per GPU-hour, when it declares one."
    )
    records: Counts = Field(default_factory=dict)
    shards: Counts = Field(default_factory=dict)
    tokens: Counts = Field(default_factory=dict)
    audit: Counts = Field(
        default_factory=dict,
        description="The leak audit of the finished run: suspects by type (NAME, LOCATION, DATE, ID), "
        "notes audited (notes) and held by the gate (held); counts only.",
    )
    output_uri: Annotated[str, Field(max_length=URI_CHARS)] | None = None
    dashboard_url: Annotated[str, Field(max_length=URI_CHARS)] | None = Field(
        default=None, alias="dashboardUrl"
    )
    start_time: Timestamp | None = None
    completion_time: Timestamp | None = None
    observed_generation: int
    conditions: Annotated[list[Condition], Field(max_length=8)]
    ray_job: Annotated[str, Field(max_length=LABEL_CHARS)] | None = Field(
        default=None, description="The RayJob running this Corpus (set once it is created)."
    )
    submission_id: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="The Jobs API submission running this Corpus (set once it is submitted)."
    )
    resumes: int | None = Field(default=None, description="How often a Jobs API run was resumed.")
    spec_hash: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="Hash of the spec the job was started with (spec.suspend left out): a spec edited while "
        "the job was being started is told apart from the one that runs, and the job is stopped.",
    )


def corpus_status(
    *,
    previous: dict[str, Any] | None,
    generation: int,
    result: Verdict,
    rayjob_status: dict[str, Any] | None,
    progress: ProgressReport | None,
    tokens: tuple[int, int] | None = None,
    gpu_seconds: float | None = None,
    cost: float | None = None,
    audit: AuditReport | None = None,
    output_uri: str | None,
    now: str,
    started: bool = True,
) -> dict[str, Any]:
    """The full status patch for a Corpus.

    Args:
        started: whether the Corpus's job exists (False while the operator waits or has given up).
        tokens: model tokens (in, out) of the whole run when known (the manifest's), else this attempt's
            from ``progress``.
        gpu_seconds: the run's GPU time when known (the manifest's), else so far from ``progress``.
        cost: the run's cost when known (the manifest's), else so far from ``progress``.
        audit: the manifest's leak audit, when the run has finished.
    """
    previous = previous or {}
    rayjob_status = rayjob_status or {}
    records = {}
    shards = {}
    if progress is not None:
        records = {
            "total": progress.records_total,
            "done": progress.records_done,
            "failed": progress.records_failed_this_run,
        }
        shards = {"total": progress.shards_total, "done": progress.shards_done}
        tokens = tokens or (progress.tokens_in, progress.tokens_out)
        gpu_seconds = gpu_seconds if gpu_seconds is not None else progress.gpu_seconds
        cost = cost if cost is not None else progress.cost
    running = progress is not None and result.phase not in TERMINAL
    dashboard = rayjob_status.get("dashboardURL")
    status = CorpusStatus(
        phase=result.phase,
        reason=result.reason,
        message=result.message,
        progress=progress_text(progress),
        throughput=f"{progress.notes_per_s:.3g} notes/s"
        if running and progress and progress.notes_per_s
        else "",
        eta=duration_text(progress.eta_s) if running and progress and progress.eta_s is not None else "",
        elapsed=duration_text(progress.elapsed_s) if progress and progress.elapsed_s else "",
        gpu_hours=f"{gpu_seconds / 3600:.2f}" if gpu_seconds else "",
        cost=f"{cost:.2f}" if cost is not None else "",
        records=records,
        shards=shards,
        tokens={"in": tokens[0], "out": tokens[1]} if tokens else {},
        audit=audit.suspects | {"notes": audit.notes_audited, "held": audit.notes_held} if audit else {},
        output_uri=output_uri,
        dashboard_url=f"http://{dashboard}" if dashboard and "://" not in dashboard else dashboard,
        start_time=previous.get("startTime")
        or (rayjob_status.get("startTime") if result.phase != Phase.PENDING else None),
        completion_time=(previous.get("completionTime") or now) if result.phase in TERMINAL else None,
        observed_generation=generation,
        conditions=conditions(previous.get("conditions"), result, generation, now, started=started),
    )
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


# Ray Jobs API status -> the (jobDeploymentStatus, jobStatus) KubeRay would report for the same state.
_JOBS_API_AS_RAYJOB = {
    "PENDING": ("Initializing", "PENDING"),
    "RUNNING": ("Running", "RUNNING"),
    "SUCCEEDED": ("Complete", "SUCCEEDED"),
    "FAILED": ("Complete", "FAILED"),
    "STOPPED": ("Complete", "STOPPED"),
}


def spec_hash(spec: Mapping[str, Any]) -> str:
    """The hash of what a started job runs: the spec without its fields that may change while it runs."""
    frozen = {key: value for key, value in spec.items() if key not in MUTABLE_WHILE_RUNNING}
    return hashlib.sha256(json.dumps(frozen, sort_keys=True, default=str).encode()).hexdigest()[:32]


def replacing(current: Mapping[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A merge patch that makes each map of ``new`` replace the one in ``current`` instead of merging into
    it: keys ``current`` has and ``new`` lacks are sent as null, so a count that is gone goes (a merge patch
    alone keeps every key it does not mention)."""
    patch = dict(new)
    for key, value in new.items():
        old = current.get(key)
        if isinstance(value, dict) and isinstance(old, Mapping):
            patch[key] = {**dict.fromkeys(set(old) - set(value)), **replacing(old, value)}
    return patch


def jobs_api_as_rayjob_status(
    job_status: str, message: str | None, dashboard_url: str, suspended: bool
) -> dict[str, Any]:
    """A Ray Jobs API job state in the shape of a RayJob status, so one ``verdict`` serves both runners.

    Args:
        job_status: the Jobs API status (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED).
        message: the Jobs API message.
        dashboard_url: the cluster's address.
        suspended: the operator stopped the job because the Corpus was suspended.
    """
    deployment, job = _JOBS_API_AS_RAYJOB.get(job_status, ("Initializing", job_status))
    if suspended and job_status in ("STOPPED", "PENDING", "RUNNING"):
        deployment = "Suspended"
    return {
        "jobDeploymentStatus": deployment,
        "jobStatus": job,
        "message": message or "",
        "dashboardURL": dashboard_url,
    }
