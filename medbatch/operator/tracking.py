"""One look at a started Corpus: its RayJob (or Jobs API job) and the job's files, turned into a status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medbatch.operator.config import OperatorConfig
from medbatch.operator.jobs_api import submission_id_for
from medbatch.operator.kube import Kube
from medbatch.operator.launch import parse_corpus, ray_cluster, read_secret
from medbatch.operator.metrics import OBSERVE_ERRORS
from medbatch.operator.render import child_name
from medbatch.operator.run_files import RunFiles, RunFilesError, read_run_files
from medbatch.operator.status import Verdict, corpus_status, jobs_api_as_rayjob_status, verdict
from medbatch.spec import Corpus
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
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_submission(body: Mapping[str, Any]) -> str:
    """The Jobs API submission id the Corpus runs under now (a resume makes a new one)."""
    status = body.get("status") or {}
    return str(status.get("submissionId") or submission_id_for(str(body["metadata"]["uid"])))


async def _rayjob_status(
    kube: Kube, corpus: Corpus, body: Mapping[str, Any], config: OperatorConfig
) -> dict[str, Any] | None:
    namespace = str(body["metadata"]["namespace"])
    if corpus.spec.ray is None:
        rayjob = await kube.rayjob(namespace, child_name(corpus))
        return None if rayjob is None else dict(rayjob.get("status") or {"jobDeploymentStatus": "New"})
    async with ray_cluster(kube, corpus, namespace, config) as client:
        info = await asyncio.to_thread(client.status, current_submission(body))
    if info is None:
        return None
    return jobs_api_as_rayjob_status(info.status, info.message, client.address, corpus.spec.suspend)


async def _run_files(kube: Kube, corpus: Corpus, namespace: str, config: OperatorConfig) -> RunFiles:
    assert corpus.spec.output.uri is not None  # parse_corpus refuses a Corpus without one
    credentials: dict[str, str] = {}
    if corpus.spec.credentials is not None:
        credentials = await read_secret(
            kube,
            namespace,
            corpus.spec.credentials.secret_ref.name,
            "object-storage credentials",
            marked_by=config.credentials_secret_label,
        )
    try:
        return await read_run_files(corpus.spec.output.uri, credentials, config.read_policy())
    except RunFilesError as exc:
        OBSERVE_ERRORS.labels("run_files").inc()
        log.warning("cannot read the job's progress in %s/%s: %s", namespace, corpus.metadata.name, exc)
        return RunFiles()


def _gone(files: RunFiles) -> dict[str, Any]:
    """A RayJob that is gone (deleted by hand, or by KubeRay's deletionPolicy) is judged by its manifest.

    KubeRay's ttlSecondsAfterFinished removes the RayCluster, not the RayJob; this covers the rest."""
    if files.outcome is None:
        return {
            "jobDeploymentStatus": "Failed",
            "reason": "RayJobDeleted",
            "message": "the RayJob was deleted before the job finished; delete and re-apply the Corpus to "
            "run it again (finished shards are kept)",
        }
    return {"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}


async def observe(kube: Kube, body: Mapping[str, Any], config: OperatorConfig) -> Observation:
    """Read the Corpus's job and files and compute its status (raises LaunchError/KubeError)."""
    corpus = parse_corpus(body)
    namespace = str(body["metadata"]["namespace"])
    rayjob_status = await _rayjob_status(kube, corpus, body, config)
    files = await _run_files(kube, corpus, namespace, config)
    if rayjob_status is None:
        rayjob_status = _gone(files)
    outcome = files.outcome
    audit = outcome.audit if outcome else None
    result = verdict(
        rayjob_status,
        corpus.spec.suspend,
        outcome.outcome if outcome else None,
        held=audit.notes_held if audit else 0,
    )
    status = corpus_status(
        previous=dict(body.get("status") or {}),
        generation=int(body["metadata"].get("generation") or 0),
        result=result,
        rayjob_status=rayjob_status,
        progress=files.progress,
        tokens=(outcome.tokens_in, outcome.tokens_out) if outcome else None,
        gpu_seconds=outcome.gpu_seconds if outcome else None,
        cost=outcome.cost if outcome else None,
        audit=audit,
        output_uri=corpus.spec.output.uri,
        now=now_iso(),
    )
    return Observation(status=status, verdict=result, progress=files.progress)
