"""The emulator behaves like an API server where the operator tests rely on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.operator.cluster import NAMESPACE, Cluster, emulated_cluster

pytestmark = pytest.mark.asyncio(loop_scope="function")

CONFIGMAPS = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
CORPORA = f"/apis/medbatch.io/v1alpha1/namespaces/{NAMESPACE}/corpora"


@pytest_asyncio.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with emulated_cluster(tmp_path) as emulated:
        yield emulated


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


async def test_create_assigns_server_fields_and_refuses_a_taken_name(cluster: Cluster) -> None:
    made = await cluster.apply(configmap("a"))
    meta = made["metadata"]
    assert meta["uid"]
    assert meta["generation"] == 1
    assert meta["creationTimestamp"]
    assert int(meta["resourceVersion"]) > 0
    again = await cluster.http.post(CONFIGMAPS, json=configmap("a"))
    assert again.status_code == 409
    named = await cluster.apply({"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": "e-"}})
    assert named["metadata"]["name"].startswith("e-")


async def test_stale_resource_version_conflicts(cluster: Cluster) -> None:
    made = await cluster.apply(configmap("b"))
    stale = made["metadata"]["resourceVersion"]
    await cluster.patch("ConfigMap", "b", {"data": {"k": "1"}})
    response = await cluster.http.patch(
        f"{CONFIGMAPS}/b",
        json={"metadata": {"resourceVersion": stale}, "data": {"k": "2"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 409


async def test_json_patch_test_failure_is_422_and_changes_nothing(cluster: Cluster) -> None:
    await cluster.apply(configmap("c"))
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "0"},
        {"op": "add", "path": "/data", "value": {"k": "v"}},
    ]
    response = await cluster.http.patch(
        f"{CONFIGMAPS}/c", content=json.dumps(ops), headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 422
    found = await cluster.get("ConfigMap", "c")
    assert found is not None
    assert "data" not in found


async def test_status_subresource_and_generation(cluster: Cluster) -> None:
    document = {
        "apiVersion": "medbatch.io/v1alpha1",
        "kind": "Corpus",
        "metadata": {"name": "x"},
        "spec": {"replicas": 1},
        "status": {"phase": "Sneaky"},
    }
    made = await cluster.apply(document)
    assert "status" not in made
    await cluster.patch("Corpus", "x", {"status": {"phase": "Running"}}, status=True)
    await cluster.patch("Corpus", "x", {"status": {"phase": "Ignored"}, "metadata": {"labels": {"a": "b"}}})
    found = await cluster.get("Corpus", "x")
    assert found is not None
    assert found["status"] == {"phase": "Running"}
    assert found["metadata"]["generation"] == 1  # status and metadata do not count
    await cluster.patch("Corpus", "x", {"spec": {"replicas": 2}})
    found = await cluster.get("Corpus", "x")
    assert found is not None
    assert found["metadata"]["generation"] == 2


async def test_label_selector_and_watch_from_a_resource_version(cluster: Cluster) -> None:
    await cluster.apply(configmap("d", app="medbatch"))
    await cluster.apply(configmap("e", app="other"))
    listing = (await cluster.http.get(CONFIGMAPS, params={"labelSelector": "app=medbatch"})).json()
    assert [item["metadata"]["name"] for item in listing["items"]] == ["d"]
    since = listing["metadata"]["resourceVersion"]
    await cluster.apply(configmap("f", app="medbatch"))  # after the listing: the watch must replay it

    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        params = {"watch": "true", "resourceVersion": since, "labelSelector": "app=medbatch"}
        async with cluster.http.stream("GET", CONFIGMAPS, params=params) as stream:
            async for line in stream.aiter_lines():
                if line.strip():
                    event = json.loads(line)
                    seen.append((event["type"], event["object"]["metadata"]["name"]))
                    if len(seen) == 2:
                        return

    watching = asyncio.create_task(watch())
    await cluster.patch("ConfigMap", "e", {"data": {"k": "v"}})  # filtered out by the selector
    await cluster.patch("ConfigMap", "d", {"data": {"k": "v"}})
    await asyncio.wait_for(watching, timeout=10)
    assert seen == [("ADDED", "f"), ("MODIFIED", "d")]
