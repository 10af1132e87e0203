"""Fixtures of the operator tests: a real Ray head for the Jobs API runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import httpx
import pytest
import pytest_asyncio

from medbatch.operator.kube import Kube
from tests.operator.cluster import (
    OUTPUT_BUCKET,
    Cluster,
    emulated_cluster,
    free_port,
    wait_until,
    write_kubeconfig,
)
from tests.processes import kill_processes


@pytest.fixture(scope="session")
def ray_head() -> Iterator[str]:
    """A Ray head with its dashboard (Jobs API) on loopback, in its own temp dir, killed afterwards."""
    temp = tempfile.mkdtemp(prefix="mb-head-")
    dashboard = free_port()
    # Nothing of the session's own Ray (RAY_ADDRESS, RAY_TMPDIR, ...) may leak into the new head.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env |= {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    # Jobs the operator submits start with `python -m medbatch...`: it must be this environment's python.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ray = str(Path(sys.executable).parent / "ray")
    # Every port explicit: the session's own Ray cluster holds the defaults (agent 52365, client 10001).
    gcs_port = free_port()
    names = (
        "ray-client-server-port",
        "dashboard-agent-listen-port",
        "dashboard-agent-grpc-port",
        "runtime-env-agent-port",
        "metrics-export-port",
        "node-manager-port",
        "object-manager-port",
    )
    subprocess.run(
        [
            ray,
            "start",
            "--head",
            f"--port={gcs_port}",
            *(f"--{name}={free_port()}" for name in names),
            f"--dashboard-port={dashboard}",
            "--dashboard-host=127.0.0.1",
            "--include-dashboard=true",
            "--num-cpus=2",
            f"--temp-dir={temp}",
            "--disable-usage-stats",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    address = f"http://127.0.0.1:{dashboard}"

    def ready() -> bool:
        try:
            return httpx.get(f"{address}/api/version", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, 60, "the Jobs API")
    yield address

    # The head's daemons name its temp dir or its GCS address; agents and workers are their descendants.
    kill_processes(lambda cmdline: any(temp in part or part.endswith(f":{gcs_port}") for part in cmdline))
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def operator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> None:
    """Operator settings for tests: fast polling, retries and deletes, and the output bucket.

    The operator under test binds no port: its metrics endpoint belongs to the process entrypoint
    (``python -m medbatch.operator``), tested on its own with an ephemeral port."""
    monkeypatch.setenv("MEDBATCH_POLL_INTERVAL_S", "0.2")
    monkeypatch.setenv("MEDBATCH_RETRY_DELAY_S", "0.5")
    monkeypatch.setenv("MEDBATCH_DELETE_TIMEOUT_S", "3")
    monkeypatch.setenv("MEDBATCH_JOB_IMAGE", "registry.example/medbatch-job:test")
    monkeypatch.setenv("MEDBATCH_ALLOWED_ENDPOINTS", json.dumps([s3_endpoint]))
    # Some tests run their jobs on a local Ray cluster writing to tmp_path.
    monkeypatch.setenv("MEDBATCH_READ_LOCAL_OUTPUT", "true")
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=OUTPUT_BUCKET)


@pytest_asyncio.fixture
async def cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, operator_env: None
) -> AsyncIterator[Cluster]:
    """The emulated API server, with $KUBECONFIG pointing the operator at it."""
    async with emulated_cluster(tmp_path) as emulated:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", emulated.url)))
        yield emulated


@pytest_asyncio.fixture
async def kube(cluster: Cluster) -> AsyncIterator[Kube]:
    """The operator's client, logged in to the emulated API server as the operator is."""
    client = Kube.from_environment()
    try:
        yield client
    finally:
        await client.close()
