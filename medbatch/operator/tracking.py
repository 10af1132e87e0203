"""One look at a started Corpus: what its runner reports and the job's files, turned into a status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medbatch.operator.admission import read_credentials
from medbatch.operator.config import OperatorConfig
from medbatch.operator.job_state import gone
from medbatch.operator.kube import Kube
from medbatch.operator.metrics import OBSERVE_ERRORS
from medbatch.operator.resource import CorpusObject
from medbatch.operator.run_files import RunFiles, RunFilesError, read_run_files
from medbatch.operator.runners import runner_for
from medbatch.operator.status import Verdict, corpus_status, verdict
from medbatch.spec.corpus_status import timestamp
from medbatch.spec.run_files import ProgressReport

log = logging.getLogger("medbatch.operator")


@dataclass(frozen=True)
class Observation:
    """The status to write, the verdict it came from and the job's progress report (if any)."""

    status: dict[str, Any]
    verdict: Verdict
    progress: ProgressReport | None = None


def now_iso() -> str:
    """Kubernetes-style UTC timestamp."""
    return timestamp(datetime.now(UTC))


async def _run_files(kube: Kube, resource: CorpusObject, config: OperatorConfig) -> RunFiles:
    credentials = await read_credentials(kube, resource, config)
    try:
        return await read_run_files(resource.output_uri, credentials, config.read_policy())
    except RunFilesError as exc:
        OBSERVE_ERRORS.labels("run_files").inc()
        log.warning("cannot read the job's progress in %s/%s: %s", resource.namespace, resource.name, exc)
        return RunFiles()


async def observe(kube: Kube, resource: CorpusObject, config: OperatorConfig) -> Observation:
    """Read the Corpus's job and files and compute its status (raises LaunchError/KubeError).

    A job that is gone (a RayJob deleted by hand or by KubeRay's deletionPolicy) is judged by its
    manifest: KubeRay's ttlSecondsAfterFinished removes the RayCluster, not the RayJob, and this covers
    the rest.
    """
    job = await runner_for(kube, config, resource).observe()
    files = await _run_files(kube, resource, config)
    outcome = files.outcome
    if job is None:
        job = gone(finished=outcome is not None)
    audit = outcome.audit if outcome else None
    result = verdict(
        job,
        resource.corpus.spec.suspend,
        outcome.outcome if outcome else None,
        held=audit.notes_held if audit else 0,
    )
    status = corpus_status(
        previous=dict(resource.status),
        generation=resource.generation,
        result=result,
        job=job,
        progress=files.progress,
        tokens=(outcome.tokens_in, outcome.tokens_out) if outcome else None,
        gpu_seconds=outcome.gpu_seconds if outcome else None,
        cost=outcome.cost if outcome else None,
        audit=audit,
        output_uri=resource.output_uri,
        now=now_iso(),
    )
    return Observation(status=status, verdict=result, progress=files.progress)
