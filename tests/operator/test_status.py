"""RayJob status -> job state -> Corpus phase and conditions, for every KubeRay v1.7 deployment state."""

from __future__ import annotations

from typing import Any

import pytest

from medbatch.operator.job_state import from_rayjob_status
from medbatch.operator.status import (
    Verdict,
    conditions,
    corpus_status,
    duration_text,
    progress_text,
    spec_hash,
    verdict,
)
from medbatch.spec.corpus_status import Phase
from medbatch.spec.run_files import AuditReport, Outcome, ProgressReport


@pytest.mark.parametrize(
    ("deployment", "job", "suspend", "outcome", "phase", "reason"),
    [
        (None, None, False, None, Phase.PENDING, "Starting"),
        ("", "", False, None, Phase.PENDING, "Starting"),
        ("Initializing", "", False, None, Phase.PENDING, "Starting"),
        ("Waiting", "PENDING", False, None, Phase.PENDING, "Starting"),
        ("Running", "RUNNING", False, None, Phase.RUNNING, "Running"),
        ("Retrying", "FAILED", False, None, Phase.RUNNING, "Retrying"),
        ("Complete", "SUCCEEDED", False, None, Phase.SUCCEEDED, "Completed"),
        ("Complete", "SUCCEEDED", False, "Succeeded", Phase.SUCCEEDED, "Completed"),
        (
            "Complete",
            "SUCCEEDED",
            False,
            "PartiallySucceeded",
            Phase.PARTIALLY_SUCCEEDED,
            "SomeRecordsFailed",
        ),
        ("Complete", "SUCCEEDED", False, "Failed", Phase.FAILED, "AllRecordsFailed"),
        ("Complete", "FAILED", False, None, Phase.FAILED, "JobFailed"),
        ("Complete", "STOPPED", False, None, Phase.FAILED, "JobFailed"),
        ("Failed", "FAILED", False, None, Phase.FAILED, "JobFailed"),
        ("ValidationFailed", "", False, None, Phase.FAILED, "RayJobRejected"),
        ("Suspending", "RUNNING", True, None, Phase.SUSPENDED, "Suspended"),
        ("Suspended", "", True, None, Phase.SUSPENDED, "Suspended"),
        ("", "", True, None, Phase.SUSPENDED, "Suspended"),
        ("Suspended", "", False, None, Phase.SUSPENDED, "Queued"),
    ],
)
def test_every_kuberay_state_maps_to_a_phase(
    deployment: str | None, job: str | None, suspend: bool, outcome: str | None, phase: Phase, reason: str
) -> None:
    status = None if deployment is None else {"jobDeploymentStatus": deployment, "jobStatus": job}
    result = verdict(from_rayjob_status(status), suspend, Outcome(outcome) if outcome else None)
    assert (result.phase, result.reason) == (phase, reason)
    assert result.message


def test_kuberay_failure_reason_and_message_are_passed_on() -> None:
    result = verdict(
        from_rayjob_status(
            {
                "jobDeploymentStatus": "Failed",
                "reason": "DeadlineExceeded",
                "message": "activeDeadlineSeconds exceeded",
            }
        ),
        False,
        None,
    )
    assert (result.reason, result.message) == ("DeadlineExceeded", "activeDeadlineSeconds exceeded")


def test_conditions_keep_transition_times_until_status_changes() -> None:
    running = verdict(from_rayjob_status({"jobDeploymentStatus": "Running"}), False, None)
    first = conditions(None, running, 1, "t1", started=True)
    assert {c["type"]: c["status"] for c in first} == {
        "Started": "True",
        "Running": "True",
        "Complete": "False",
        "Failed": "False",
        "Suspended": "False",
    }
    again = conditions(first, running, 1, "t2", started=True)
    assert all(c["lastTransitionTime"] == "t1" for c in again)
    done = conditions(
        again,
        verdict(
            from_rayjob_status({"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}), False, None
        ),
        2,
        "t3",
        started=True,
    )
    by_type: dict[str, Any] = {c["type"]: c for c in done}
    assert by_type["Running"]["status"] == "False"
    assert by_type["Running"]["lastTransitionTime"] == "t3"
    assert by_type["Complete"]["status"] == "True"
    assert by_type["Failed"]["lastTransitionTime"] == "t1"
    assert all(c["observedGeneration"] == 2 for c in done)


def test_full_status_with_progress_and_dashboard() -> None:
    progress = ProgressReport(
        shards_total=10, shards_done=4, records_total=1000, records_done=420, records_failed_this_run=3
    )
    assert progress_text(progress) == "42% (420/1000)"
    status = corpus_status(
        previous=None,
        generation=1,
        result=verdict(from_rayjob_status({"jobDeploymentStatus": "Running"}), False, None),
        job=from_rayjob_status(
            {
                "jobDeploymentStatus": "Running",
                "dashboardURL": "medbatch-x-head-svc.ns.svc:8265",
                "startTime": "2026-11-22T01:00:00Z",
            }
        ),
        progress=progress,
        output_uri="s3://out/x/",
        now="2026-11-22T01:05:00Z",
    )
    assert status["phase"] == "Running"
    assert status["records"] == {"total": 1000, "done": 420, "failed": 3}
    assert status["shards"] == {"total": 10, "done": 4}
    assert status["dashboardUrl"] == "http://medbatch-x-head-svc.ns.svc:8265"
    assert status["startTime"] == "2026-11-22T01:00:00Z"
    assert "completionTime" not in status
    assert status["outputUri"] == "s3://out/x/"


def test_a_running_corpus_shows_pace_time_left_and_gpu_hours() -> None:
    progress = ProgressReport(
        records_total=1000,
        records_done=400,
        elapsed_s=754,
        notes_per_s=2.5,
        eta_s=240,
        gpu_seconds=7200,
        cost=7.0,
    )
    running = corpus_status(
        previous=None,
        generation=1,
        result=verdict(from_rayjob_status({"jobDeploymentStatus": "Running"}), False, None),
        job=from_rayjob_status({"jobDeploymentStatus": "Running"}),
        progress=progress,
        output_uri="s3://out/x/",
        now="2026-11-22T01:05:00Z",
    )
    assert (running["throughput"], running["eta"], running["elapsed"]) == ("2.5 notes/s", "4m00s", "12m34s")
    assert (running["gpuHours"], running["cost"]) == ("2.00", "7.00")
    finished = corpus_status(
        previous=None,
        generation=1,
        result=verdict(
            from_rayjob_status({"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}),
            False,
            Outcome.SUCCEEDED,
        ),
        job=from_rayjob_status({"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}),
        progress=progress,
        gpu_seconds=9000,
        cost=8.75,
        output_uri="s3://out/x/",
        now="2026-11-22T01:05:00Z",
    )
    assert (finished.get("eta", ""), finished.get("throughput", "")) == ("", ""), "nothing left, no pace"
    assert (finished["gpuHours"], finished["cost"]) == ("2.50", "8.75"), "the manifest's once the run is done"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (61, "1m01s"), (3600 * 3 + 300, "3h05m"), (86400 * 2 + 3600 * 4, "2d4h")],
)
def test_durations_read_like_kubectl_ages(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


def test_waiting_is_pending_with_a_started_false_condition_and_no_completion_time() -> None:
    waiting = Verdict(phase=Phase.PENDING, reason="ModelProfileNotFound", message="ModelProfile 'x' ...")
    previous_failure = {"phase": "Failed", "completionTime": "2026-11-22T01:00:00Z"}
    status = corpus_status(
        previous=previous_failure,
        generation=2,
        result=waiting,
        job=None,
        progress=None,
        output_uri=None,
        now="2026-11-22T01:05:00Z",
        started=False,
    )
    assert (status["phase"], status["reason"]) == ("Pending", "ModelProfileNotFound")
    assert "completionTime" not in status, "a Corpus that waits has not completed"
    by_type = {c["type"]: c for c in status["conditions"]}
    assert (by_type["Started"]["status"], by_type["Started"]["reason"]) == ("False", "ModelProfileNotFound")
    assert by_type["Failed"]["status"] == "False"


def test_status_messages_are_bounded_to_what_the_crd_allows() -> None:
    long = Verdict(phase=Phase.FAILED, reason="R" * 500, message="m" * 5000)
    assert (len(long.reason), len(long.message)) == (128, 1024)


def test_notes_held_by_the_audit_gate_say_so_and_the_status_counts_the_audit() -> None:
    complete = {"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}
    held = verdict(from_rayjob_status(complete), False, Outcome.PARTIALLY_SUCCEEDED, held=3)
    assert (held.phase, held.reason) == (Phase.PARTIALLY_SUCCEEDED, "AuditGate")
    assert "3 notes" in held.message
    audit = AuditReport(
        notes_audited=40,
        suspects={"DATE": 2, "NAME": 5},
        suspects_per_100_notes={"DATE": 5.0, "NAME": 12.5},
        notes_held=3,
        max_suspect_rate=0.01,
    )
    status = corpus_status(
        previous=None,
        generation=1,
        result=held,
        job=from_rayjob_status(complete),
        progress=None,
        audit=audit,
        output_uri="s3://out/x/",
        now="2026-11-22T01:05:00Z",
    )
    assert status["audit"] == {"DATE": 2, "NAME": 5, "notes": 40, "held": 3}
    # Without held notes, a partial success is still about failed records.
    assert (
        verdict(from_rayjob_status(complete), False, Outcome.PARTIALLY_SUCCEEDED).reason
        == "SomeRecordsFailed"
    )


def test_the_launched_spec_hash_ignores_what_may_change_while_running() -> None:
    spec = {"replicas": 2, "model": "m", "tasks": {"ner": {}}}
    assert spec_hash(spec) == spec_hash({**spec, "suspend": True}) == spec_hash(dict(reversed(spec.items())))
    assert spec_hash(spec) != spec_hash({**spec, "replicas": 3})
    assert spec_hash(spec) != spec_hash({**spec, "tasks": {"ner": {}, "summarize": {}}})
