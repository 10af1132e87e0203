"""Both runners' vocabularies -> one job state -> the same Corpus phases."""

from __future__ import annotations

import pytest

from medbatch.operator.job_state import JobState, Stage, from_jobs_api, from_rayjob_status, gone
from medbatch.operator.jobs_api import JobInfo
from medbatch.operator.status import verdict
from medbatch.spec.corpus_status import Phase
from medbatch.spec.run_files import Outcome


@pytest.mark.parametrize(
    ("status", "suspended", "phase", "reason"),
    [
        ("PENDING", False, Phase.PENDING, "Starting"),
        ("RUNNING", False, Phase.RUNNING, "Running"),
        ("SUCCEEDED", False, Phase.SUCCEEDED, "Completed"),
        ("FAILED", False, Phase.FAILED, "JobFailed"),
        ("STOPPED", False, Phase.FAILED, "JobFailed"),
        ("STOPPED", True, Phase.SUSPENDED, "Suspended"),
        ("RUNNING", True, Phase.SUSPENDED, "Suspended"),
        ("PENDING", True, Phase.SUSPENDED, "Suspended"),
        # A job that finished before the stop arrived keeps its outcome.
        ("SUCCEEDED", True, Phase.SUCCEEDED, "Completed"),
        ("SOMETHING_NEW", False, Phase.PENDING, "Starting"),
    ],
)
def test_every_jobs_api_status_maps_to_a_phase(
    status: str, suspended: bool, phase: Phase, reason: str
) -> None:
    state = from_jobs_api(JobInfo(submission_id="s", status=status), "http://head:8265", suspended=suspended)
    result = verdict(state, suspended, None)
    assert (result.phase, result.reason) == (phase, reason)
    assert state.dashboard_url == "http://head:8265"


def test_a_jobs_api_failure_passes_its_headline_and_start_time_on() -> None:
    info = JobInfo(
        submission_id="s",
        status="FAILED",
        message="entrypoint exited with 1\nTraceback ...",
        start_time=1_780_000_000_000,
    )
    state = from_jobs_api(info, "http://head:8265", suspended=False)
    assert state.start_time == "2026-05-28T20:26:40Z"
    assert verdict(state, False, None).message == "entrypoint exited with 1"


def test_both_runners_agree_on_the_same_state() -> None:
    pairs = [
        ({"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"}, "RUNNING"),
        ({"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}, "SUCCEEDED"),
        ({"jobDeploymentStatus": "Complete", "jobStatus": "STOPPED"}, "STOPPED"),
        ({"jobDeploymentStatus": "Initializing"}, "PENDING"),
    ]
    for rayjob, jobs_api in pairs:
        kuberay = from_rayjob_status(rayjob)
        ray = from_jobs_api(JobInfo(submission_id="s", status=jobs_api), "http://h", suspended=False)
        assert kuberay.stage == ray.stage, (rayjob, jobs_api)


def test_kuberay_writes_its_dashboard_without_a_scheme() -> None:
    assert from_rayjob_status({"dashboardURL": "head-svc.ns.svc:8265"}).dashboard_url == (
        "http://head-svc.ns.svc:8265"
    )
    assert from_rayjob_status({"dashboardURL": "https://head:8265"}).dashboard_url == "https://head:8265"
    assert from_rayjob_status(None) == JobState(stage=Stage.STARTING)


def test_a_job_that_is_gone_is_judged_by_its_manifest() -> None:
    assert verdict(gone(finished=True), False, Outcome.SUCCEEDED).phase is Phase.SUCCEEDED
    assert verdict(gone(finished=True), False, Outcome.PARTIALLY_SUCCEEDED).phase is Phase.PARTIALLY_SUCCEEDED
    lost = verdict(gone(finished=False), False, None)
    assert (lost.phase, lost.reason) == (Phase.FAILED, "JobDeleted")
