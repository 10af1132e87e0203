"""The operator's metrics endpoint: an ephemeral port in tests, and a busy port never stops the operator."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx

from medbatch.operator import metrics


def test_metrics_serve_on_a_port_the_system_picks() -> None:
    port = metrics.serve(0, host="127.0.0.1")
    assert port
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert "medbatch_operator_launches" in text


def test_a_busy_port_turns_metrics_off_instead_of_failing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert metrics.serve(taken.getsockname()[1], host="127.0.0.1") is None


def test_the_operator_entrypoint_runs_kopf() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "medbatch.operator", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"MEDBATCH_METRICS_PORT": "0", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "--namespace" in result.stdout
