"""Ray Serve on the session's local Ray cluster, with the HTTP proxy on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.operator.cluster import free_port


@pytest.fixture(scope="session")
def serve_url(ray_cluster: None) -> Iterator[str]:
    """Serve's HTTP address; applications are deployed by the tests' fixtures and removed at the end."""
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()


def deploy(name: str, args: dict[str, Any]) -> str:
    """Deploy ``build_app(args)`` as application ``name`` under route prefix ``/name``; returns the prefix."""
    from ray import serve

    from medbatch.serve.app import build_app

    args = {**args, "settings": {"engine_num_cpus": 0.25, **args.get("settings", {})}}
    serve.run(build_app(args), name=name, route_prefix=f"/{name}")
    return f"/{name}"


@pytest.fixture(scope="session")
def default_app(serve_url: str) -> Iterator[httpx.Client]:
    """The CPU baseline engine with default settings but a small note limit."""
    prefix = deploy("default", {"settings": {"max_note_chars": 5000}})
    with httpx.Client(base_url=serve_url + prefix, timeout=60) as client:
        yield client
