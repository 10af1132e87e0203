"""The operator's Prometheus metrics. Labels carry phases and reasons only: never names or note content."""

from __future__ import annotations

import logging

from prometheus_client import Counter, start_http_server

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
