"""Shared fixtures: a local Ray cluster and a moto S3 server on loopback, both real.

Environment for Ray and S3 is set before either starts, because Ray's worker processes inherit the
driver's environment at ``ray.init`` time.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Ray's socket paths must stay under 107 bytes whatever the checkout path, hence a short temp dir.
_WORK = Path(tempfile.mkdtemp(prefix="mb-test-"))
atexit.register(shutil.rmtree, _WORK, ignore_errors=True)
os.environ.update(
    {
        "RAY_AUTH_MODE": "disabled",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
        "RAY_TMPDIR": str(_WORK / "ray"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
)

TEST_KEY = "test-surrogate-key-0123456789"


# Fixtures that start Ray (this process's cluster, or a head started with `ray start`).
RAY_FIXTURES = frozenset({"ray_cluster", "ray_head"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use a Ray fixture (directly or through another fixture) are in the slow lane, marked
    ``ray``; tests that start Ray, vLLM or a job in a subprocess carry the mark themselves."""
    for item in items:
        if RAY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.ray)


@pytest.fixture(autouse=True)
def _medbatch_logging() -> Iterator[None]:
    """Commands under test configure medbatch's logger (its own handler, no propagation); undo it so
    one test's logging setup does not decide what the next one captures."""
    logger = logging.getLogger("medbatch")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1; AWS_ENDPOINT_URL points at it for this process and Ray workers."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per S3 request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def ray_cluster(s3_endpoint: str) -> Iterator[None]:
    """A local Ray cluster shared by the tests that run the pipeline in this process."""
    import ray

    os.environ["MEDBATCH_SURROGATE_KEY"] = TEST_KEY
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, _temp_dir=str(_WORK / "ray"))
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def ray_logs(ray_cluster: None) -> Path:
    """The local Ray cluster's temp dir (session logs of every worker)."""
    return _WORK / "ray"


@pytest.fixture
def bucket(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test, named after it."""
    import boto3

    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8]
    name = (
        "t-"
        + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
        + "-"
        + digest
    )
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name
