"""The kopf handlers: thin glue between Corpus events and the launch/tracking functions.

Run with ``python -m medbatch.operator run --module=medbatch.operator.handlers --all-namespaces`` (or
``--namespace=NS`` per watched namespace) and ``--liveness=http://0.0.0.0:8080/healthz``; the chart does.

- create (and a spec fix while nothing has started yet): start the job. What waiting can fix (a missing
  ModelProfile, Secret or RayCluster, a name still taken, RBAC) keeps the Corpus Pending with the reason in
  its status, a ``Started=False`` condition and an Event, and is retried; what only a spec fix can fix
  (an invalid spec, a child the API server refuses) makes it Failed. A Jobs API Corpus created suspended
  is not submitted until it is resumed.
- a daemon per started Corpus polls its job and progress files and writes the status, with an Event per
  phase change; an operator restart simply starts the daemons again.
- ``spec.suspend`` suspends/resumes the RayJob, or stops/resubmits a Jobs API job (the earlier
  submission is stopped before a new one starts).
- deletion: owner references remove the RayJob, ConfigMap and NetworkPolicy; a Jobs API job needs a
  finalizer to stop it, and the finalizer is released within ``delete_timeout_s`` even if the cluster
  cannot be reached (with a Warning Event saying the job may still run).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

import kopf

from medbatch.operator import metrics
from medbatch.operator.admission import admit
from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError, as_launch_errors
from medbatch.operator.kube import CORPORA, GROUP, VERSION, Kube
from medbatch.operator.resource import CorpusObject, read_corpus
from medbatch.operator.runners import Launched, launch, runner_for
from medbatch.operator.status import Verdict, corpus_status, replacing, spec_hash
from medbatch.operator.tracking import now_iso, observe
from medbatch.spec.corpus_status import STARTED_MARKERS, TERMINAL, Phase

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the handlers share, kept in kopf's memo."""

    config: OperatorConfig
    kube: Kube


def _contained(exc: Exception, delay_s: float) -> kopf.TemporaryError:
    """An unexpected error as kopf may see it: by its type only. kopf posts what a handler raises (and the
    traceback of what it did not expect) into the Corpus's Events, and an error's text may quote a Secret,
    a response or a file name; the operator's own log gets the type too, never the text."""
    log.error("handler failed unexpectedly (%s); retrying", type(exc).__name__)
    return kopf.TemporaryError(f"internal error ({type(exc).__name__}); retrying", delay=delay_s)


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime = memo["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


def _started(status: dict[str, Any]) -> bool:
    # The same markers the CRD's CEL rule reads to freeze a started Corpus's spec.
    return any(status.get(marker) for marker in STARTED_MARKERS)


def _not_started(status: kopf.Status, **_: Any) -> bool:
    return not _started(dict(status))


def _tracked(status: kopf.Status, **_: Any) -> bool:
    return _started(dict(status)) and status.get("phase") not in TERMINAL


def _on_ray_cluster(spec: kopf.Spec, **_: Any) -> bool:
    return bool((spec.get("ray") or {}).get("clusterName"))


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Settings and the shared client (the metrics endpoint is the process's, see ``__main__``)."""
    config = OperatorConfig()
    # Handler progress lives in annotations: the status belongs to medbatch and its schema.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="medbatch.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="medbatch.io", key="last-handled-configuration"
    )
    settings.persistence.finalizer = "medbatch.io/finalizer"
    # Several replicas: the one with the highest priority works, the others stand by (kopf peering).
    # Two releases in one cluster need two peering names (the chart sets one per release).
    settings.peering.name = config.peering_name
    if not settings.peering.priority:
        settings.peering.priority = random.randint(1, 2**31 - 1)  # noqa: S311 (a tie-breaker, not a secret)
    settings.posting.level = logging.INFO
    # No cluster-wide watching of CRDs and namespaces: a namespace-limited install then needs no
    # cluster-wide read access; the CRDs must exist before the operator starts (Helm installs them first).
    settings.scanning.disabled = True
    memo["runtime"] = Runtime(config=config, kube=Kube.from_environment())


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    """Close the shared client."""
    await _runtime(memo).kube.close()


def _status(body: kopf.Body, result: Verdict, *, started: bool, previous: dict[str, Any]) -> dict[str, Any]:
    return corpus_status(
        previous=previous,
        generation=int(body.meta.get("generation") or 0),
        result=result,
        job=None,
        progress=None,
        output_uri=(body.spec.get("output") or {}).get("uri"),
        now=now_iso(),
        started=started,
    )


def _not_started_status(body: kopf.Body, problem: LaunchError) -> dict[str, Any]:
    # Waiting is Pending, not Failed: workflow engines and `kubectl wait --for=condition=Failed` must not
    # give up on a Corpus whose ModelProfile is created a minute later.
    phase = Phase.PENDING if problem.retry else Phase.FAILED
    result = Verdict(phase=phase, reason=problem.reason, message=problem.message)
    return _status(body, result, started=False, previous=dict(body.status))


def _started_status(body: kopf.Body, launched: Launched) -> dict[str, Any]:
    result = Verdict(phase=Phase.PENDING, reason="Starting", message="waiting for the Ray cluster")
    # A fresh start: no times or conditions carried over from a failed attempt.
    status = _status(body, result, started=True, previous={})
    if launched.rayjob:
        status["rayJob"] = launched.rayjob
    if launched.submission_id:
        status["submissionId"] = launched.submission_id
    status["specHash"] = spec_hash(body.spec)
    return status


_HELD = Verdict(
    phase=Phase.SUSPENDED,
    reason="Suspended",
    message="spec.suspend is true: nothing is submitted until it is set to false",
)


@kopf.on.create(GROUP, VERSION, CORPORA)
@kopf.on.update(GROUP, VERSION, CORPORA, field="spec", when=_not_started)
async def start(body: kopf.Body, memo: kopf.Memo, patch: kopf.Patch, retry: int, **_: Any) -> None:
    """Start the Corpus's job, or say in its status and an Event why it has not started."""
    runtime = _runtime(memo)
    if body.spec.get("suspend") and _on_ray_cluster(body.spec):
        # A submission cannot be created paused: submit nothing until the Corpus is resumed.
        patch.status.update(
            replacing(body.status, _status(body, _HELD, started=False, previous=dict(body.status)))
        )
        return
    try:
        launched = await launch(runtime.kube, read_corpus(body), runtime.config)
    except LaunchError as problem:
        metrics.LAUNCH_PROBLEMS.labels(problem.reason).inc()
        patch.status.update(replacing(body.status, _not_started_status(body, problem)))
        if retry == 0 or body.status.get("reason") != problem.reason:
            kopf.warn(body, reason=problem.reason, message=problem.message)
        if problem.retry:
            raise kopf.TemporaryError(problem.message, delay=runtime.config.retry_delay_s) from None
        raise kopf.PermanentError(problem.message) from None
    except Exception as exc:
        raise _contained(exc, runtime.config.retry_delay_s) from None
    patch.status.update(replacing(body.status, _started_status(body, launched)))
    reason, message = launched.announcement()
    kopf.info(body, reason=reason, message=message)


@kopf.daemon(GROUP, VERSION, CORPORA, when=_tracked, cancellation_timeout=10)
async def track(
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Follow a started Corpus until it finishes: status from its job and files, an Event per phase change."""
    runtime = _runtime(memo)
    phase = body.status.get("phase")
    # The operator's cleanup closes the client, and kopf may signal a daemon only after that: a closed
    # client means the operator is stopping, so the daemon ends instead of failing every poll until it is
    # cancelled (which kopf does late, and which held up the operator's exit).
    while not stopped and not runtime.kube.closed:
        if _edited_at_launch(body):
            await _stop_edited(body, runtime)
            return
        try:
            observation = await observe(runtime.kube, read_corpus(body), runtime.config)
            current = {key: body.status.get(key) for key in observation.status}
            if current != observation.status:
                await runtime.kube.patch_corpus_status(
                    str(namespace), name, replacing(body.status, observation.status)
                )
        except Exception as exc:  # a poll that fails is retried at the next tick; the job runs on regardless
            if runtime.kube.closed:
                return
            metrics.OBSERVE_ERRORS.labels("job").inc()
            logger.warning(f"cannot read the job's state: {type(exc).__name__}")
        else:
            metrics.observe_corpus(str(namespace), name, observation.status, observation.progress)
            result = observation.verdict
            if result.phase != phase:
                metrics.TRANSITIONS.labels(result.phase.value).inc()
                event = kopf.warn if result.phase == Phase.FAILED else kopf.info
                event(body, reason=result.reason, message=f"{result.phase.value}: {result.message}")
                phase = result.phase
            if result.phase in TERMINAL:
                return
        await stopped.wait(runtime.config.poll_interval_s)


_EDITED_AT_LAUNCH = Verdict(
    phase=Phase.FAILED,
    reason="SpecChangedAtLaunch",
    message="the spec was edited while the job was being started, and the job ran the earlier one; it is "
    "stopped. Delete the Corpus and apply it again to run this spec",
)


def _edited_at_launch(body: kopf.Body) -> bool:
    """Whether the spec now differs from the one the job was started with. The API server freezes a
    started Corpus's spec, but the status that marks it started is written after the job is created, so an
    edit in between lands: the Corpus would show a spec its job does not run."""
    launched = body.status.get("specHash")
    return bool(launched) and body.status.get("phase") not in TERMINAL and launched != spec_hash(body.spec)


async def _stop_edited(body: kopf.Body, runtime: Runtime) -> None:
    """Stop the job of a Corpus edited at launch and say so: Failed, a Warning Event."""
    try:
        await runner_for(runtime.kube, runtime.config, read_corpus(body)).stop()
    except Exception as exc:  # the status must say what happened even if the stop did not arrive
        log.warning("cannot stop the job of a Corpus edited at launch (%s)", type(exc).__name__)
    status = _status(body, _EDITED_AT_LAUNCH, started=True, previous=dict(body.status))
    await runtime.kube.patch_corpus_status(
        str(body.meta["namespace"]), str(body.meta["name"]), replacing(body.status, status)
    )
    metrics.TRANSITIONS.labels(Phase.FAILED.value).inc()
    kopf.warn(body, reason=_EDITED_AT_LAUNCH.reason, message=f"Failed: {_EDITED_AT_LAUNCH.message}")


@kopf.on.field(GROUP, VERSION, CORPORA, field="spec.suspend", when=lambda status, **_: _started(dict(status)))
async def suspend_changed(
    body: kopf.Body, old: Any, new: Any, memo: kopf.Memo, patch: kopf.Patch, **_: Any
) -> None:
    """Suspend or resume the Corpus's job."""
    if bool(old) == bool(new):
        return
    runtime = _runtime(memo)
    try:
        await _suspend_or_resume(read_corpus(body), bool(new), runtime, patch)
    except LaunchError as problem:  # a stop or a resubmission the cluster or the platform refuses for now
        kopf.warn(body, reason=problem.reason, message=problem.message)
        raise kopf.TemporaryError(problem.message, delay=runtime.config.retry_delay_s) from None
    except Exception as exc:
        raise _contained(exc, runtime.config.retry_delay_s) from None
    kopf.info(
        body,
        reason="Suspended" if new else "Resumed",
        message="spec.suspend is now " + str(bool(new)).lower(),
    )


async def _suspend_or_resume(
    resource: CorpusObject, suspend: bool, runtime: Runtime, patch: kopf.Patch
) -> None:
    """Suspend the job, or admit the Corpus again and resume it (a resumed job starts anew, so it meets
    the platform's bounds as they are now); a new submission goes into ``patch``."""
    runner = runner_for(runtime.kube, runtime.config, resource)
    with as_launch_errors(runtime.config.opt_in_command(resource.namespace)):
        if suspend:
            await runner.suspend()
            return
        launched = await runner.resume(await admit(runtime.kube, resource, runtime.config))
    if launched is not None:
        patch.status["submissionId"] = launched.submission_id
        patch.status["resumes"] = launched.resumes


@kopf.on.delete(GROUP, VERSION, CORPORA, optional=True)
async def forget_metrics(namespace: str | None, name: str, **_: Any) -> None:
    """Drop a deleted Corpus's metric series (no finalizer: nothing to wait for)."""
    metrics.forget_corpus(str(namespace), name)


@kopf.on.delete(GROUP, VERSION, CORPORA, when=_on_ray_cluster)
async def stop_on_delete(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Stop a Jobs API job when its Corpus is deleted (a RayJob goes with its owner on its own).

    Bounded: if the cluster cannot be reached in ``delete_timeout_s`` the Corpus is released anyway, with
    a Warning Event, rather than left Terminating for ever.
    """
    if not _started(dict(body.status)):
        return
    runtime = _runtime(memo)
    submission = body.status.get("submissionId")
    try:
        runner = runner_for(runtime.kube, runtime.config, read_corpus(body))
        stopped = await asyncio.wait_for(runner.stop(), timeout=runtime.config.delete_timeout_s)
    except Exception as exc:  # whatever it was, the deletion must finish
        why = exc.message if isinstance(exc, LaunchError) else type(exc).__name__
        kopf.warn(
            body,
            reason="RayJobMayStillRun",
            message=f"could not stop Ray job {submission} ({why}); it may still run: stop it from the Ray "
            "dashboard or `ray job stop`",
        )
        return
    logger.info(f"Ray job {submission} {'stopped' if stopped else 'had already finished'}")
