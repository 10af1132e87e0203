"""The operator's Prometheus metrics. Labels carry namespaces, Corpus names, phases and reasons: names of
Kubernetes objects, never note content or anything read from a note."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, start_http_server

LAUNCHES = Counter(
    "medbatch_operator_launches",
    "Corpora whose job was started (RayJob created or adopted, or Jobs API submission).",
    ["runner"],
)
LAUNCH_PROBLEMS = Counter(
    "medbatch_operator_launch_problems",
    "Attempts to start a Corpus that failed, by reason.",
    ["reason"],
)
TRANSITIONS = Counter(
    "medbatch_operator_phase_transitions",
    "Corpus phase changes, by the phase entered.",
    ["phase"],
)
OBSERVE_ERRORS = Counter(
    "medbatch_operator_observe_errors",
    "Polls of a running Corpus that could not read its job or progress, by what failed.",
    ["what"],
)

# One series set per Corpus, from its status: what dashboards template on and alerts watch.
CORPUS_PHASE = Gauge(
    "medbatch_corpus_phase",
    "1 for the phase a Corpus is in, 0 for the others.",
    ["namespace", "corpus", "phase"],
)
CORPUS_RECORDS = Gauge(
    "medbatch_corpus_records",
    "A Corpus's records: total in this run, done, failed.",
    ["namespace", "corpus", "state"],
)
CORPUS_THROUGHPUT = Gauge(
    "medbatch_corpus_notes_per_second",
    "Notes per second over the last five minutes of a Corpus's run.",
    ["namespace", "corpus"],
)
CORPUS_ETA = Gauge(
    "medbatch_corpus_eta_seconds",
    "Seconds a running Corpus has left at its current pace.",
    ["namespace", "corpus"],
)
CORPUS_GPU_SECONDS = Gauge(
    "medbatch_corpus_gpu_seconds",
    "GPU time of a Corpus's run: GPUs per replica x replicas x engine wall time.",
    ["namespace", "corpus"],
)
PHASES = ("Pending", "Running", "Suspended", "Succeeded", "PartiallySucceeded", "Failed")


def observe_corpus(namespace: str, corpus: str, status: Mapping[str, Any], progress: Any | None) -> None:
    """Set a Corpus's series from the status just written and its progress report (when there is one)."""
    phase = status.get("phase")
    for name in PHASES:
        CORPUS_PHASE.labels(namespace, corpus, name).set(1 if name == phase else 0)
    for state, value in (status.get("records") or {}).items():
        CORPUS_RECORDS.labels(namespace, corpus, state).set(value)
    if progress is not None:
        CORPUS_THROUGHPUT.labels(namespace, corpus).set(progress.notes_per_s or 0.0)
        CORPUS_ETA.labels(namespace, corpus).set(progress.eta_s or 0.0)
        CORPUS_GPU_SECONDS.labels(namespace, corpus).set(progress.gpu_seconds)


def forget_corpus(namespace: str, corpus: str) -> None:
    """Drop a deleted Corpus's series."""
    for gauge in (CORPUS_PHASE, CORPUS_RECORDS, CORPUS_THROUGHPUT, CORPUS_ETA, CORPUS_GPU_SECONDS):
        for labels in list(gauge._metrics):
            if labels[:2] == (namespace, corpus):
                gauge.remove(*labels)


log = logging.getLogger("medbatch.operator")


def serve(port: int, host: str = "0.0.0.0") -> int | None:  # noqa: S104 (scraped from outside the pod)
    """Expose /metrics on ``port`` in a daemon thread; returns the bound port (0 picks a free one).

    A port that cannot be bound is logged and metrics stay off: the operator's work matters more than
    its metrics.
    """
    try:
        server, _ = start_http_server(port, addr=host)
    except OSError as exc:
        log.error("metrics endpoint off: cannot listen on port %s (%s)", port, exc.strerror)
        return None
    return int(server.server_port)
