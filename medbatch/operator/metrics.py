"""The operator's Prometheus metrics. Labels carry phases and reasons only: never names or note content."""

from __future__ import annotations

import threading

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


_serving: set[int] = set()
_serving_lock = threading.Lock()


def serve(port: int) -> None:
    """Expose /metrics on ``port`` (a daemon thread; 0 turns it off).

    Once per process and port: the registry is process-wide, and kopf may run its startup again in the
    same process (embedded operators, tests), even from two threads at once.
    """
    with _serving_lock:
        if port and port not in _serving:
            start_http_server(port)
            _serving.add(port)
