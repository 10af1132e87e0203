"""Map a job's state (and its progress and manifest) onto the Corpus status. Pure functions.

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
from typing import Any

from pydantic import BaseModel

from medbatch.operator.job_state import JobState, Stage
from medbatch.spec.corpus_status import (
    MUTABLE_WHILE_RUNNING,
    TERMINAL,
    Condition,
    CorpusStatus,
    Message,
    Phase,
    Reason,
    truncated,
)
from medbatch.spec.run_files import AuditReport, Outcome, ProgressReport


class Verdict(BaseModel):
    """A phase with the reason (CamelCase, for machines) and message (a sentence, for people)."""

    phase: Phase
    reason: Reason
    message: Message


_HEADLINE_CHARS = 240


def _short(message: object) -> str:
    """A KubeRay message fit for a status field: the first line, bounded.

    KubeRay appends the tail of the driver's log to a failed job's message; medbatch's logs carry no note
    text, but the status and Events are read by more people than the logs, so only the headline travels.
    """
    text = str(message or "").strip()
    headline = text.split("\n", 1)[0].split("last available logs", 1)[0].rstrip(" ,:(")
    return truncated(headline, _HEADLINE_CHARS)


def verdict(job: JobState, suspend: bool, outcome: Outcome | None, held: int = 0) -> Verdict:
    """The Corpus phase for what its runner reports.

    Args:
        job: the job's state.
        suspend: the Corpus's ``spec.suspend``.
        outcome: the job manifest's outcome when it exists (Succeeded, PartiallySucceeded or Failed).
        held: notes the manifest says the leak audit's gate held.
    """
    if suspend and job.stage in (Stage.SUSPENDED, Stage.STARTING):
        return Verdict(
            phase=Phase.SUSPENDED,
            reason="Suspended",
            message="spec.suspend is true; set it to false to resume",
        )
    if job.stage is Stage.SUSPENDED:
        # Not the user's doing: a queue (Kueue) holds the RayJob until it admits it.
        return Verdict(
            phase=Phase.SUSPENDED,
            reason="Queued",
            message="the RayJob is suspended by its queue (e.g. Kueue) until it is admitted",
        )
    if job.stage is Stage.REJECTED:
        return Verdict(
            phase=Phase.FAILED,
            reason="RayJobRejected",
            message=f"KubeRay rejected the RayJob: {_short(job.message) or 'see the RayJob events'}",
        )
    if job.stage is Stage.FAILED:
        return Verdict(
            phase=Phase.FAILED,
            reason=job.reason or "JobFailed",
            message=_short(job.message) or "the Ray job failed; see the Ray dashboard and the manifest",
        )
    if job.stage is Stage.SUCCEEDED:
        return _finished(outcome, held)
    if job.stage is Stage.RETRYING:
        return Verdict(
            phase=Phase.RUNNING, reason="Retrying", message="the Ray job failed and is being retried"
        )
    if job.stage is Stage.RUNNING:
        return Verdict(phase=Phase.RUNNING, reason="Running", message="the Ray job is running")
    return Verdict(phase=Phase.PENDING, reason="Starting", message="waiting for the Ray cluster")


def _finished(outcome: Outcome | None, held: int) -> Verdict:
    """A job that ran to its end, judged by its manifest."""
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


_CONDITION_OF = {
    "Running": {Phase.RUNNING},
    "Complete": {Phase.SUCCEEDED, Phase.PARTIALLY_SUCCEEDED},
    "Failed": {Phase.FAILED},
    "Suspended": {Phase.SUSPENDED},
}


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


def corpus_status(
    *,
    previous: dict[str, Any] | None,
    generation: int,
    result: Verdict,
    job: JobState | None,
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
        job: what the runner reports (None before the job exists).
        started: whether the Corpus's job exists (False while the operator waits or has given up).
        tokens: model tokens (in, out) of the whole run when known (the manifest's), else this attempt's
            from ``progress``.
        gpu_seconds: the run's GPU time when known (the manifest's), else so far from ``progress``.
        cost: the run's cost when known (the manifest's), else so far from ``progress``.
        audit: the manifest's leak audit, when the run has finished.
    """
    previous = previous or {}
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
        dashboard_url=job.dashboard_url if job else None,
        start_time=previous.get("startTime")
        or (job.start_time if job and result.phase != Phase.PENDING else None),
        completion_time=(previous.get("completionTime") or now) if result.phase in TERMINAL else None,
        observed_generation=generation,
        conditions=conditions(previous.get("conditions"), result, generation, now, started=started),
    )
    return status.model_dump(by_alias=True, exclude_none=True, mode="json")


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
