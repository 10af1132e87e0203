"""Test harness: the emulated API server, a kubectl-like client for the tests, and the operator under kopf.

The emulator runs in the test's event loop; the operator runs as ``kopf run`` in ``KopfRunner``'s thread
and reaches the emulator over HTTP through a kubeconfig, as it would reach a real API server. Tests change
objects through the HTTP API (never behind the server's back), so the operator sees watch events.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import kmock
import yaml
from kopf.testing import KopfRunner

from tests.operator.emulator import KubernetesServer

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "team-a"
OUTPUT_BUCKET = "medbatch-operator-test"
T = TypeVar("T")
TEST_AGENT = "medbatch-tests"  # tells the tests' own requests from the operator's


def _crd_resources() -> dict[str, kmock.ResourceInfo]:
    """Discovery information for medbatch's CRDs (read from the generated manifests) and KubeRay's RayJob."""
    found = {
        f"ray.io/v1/{plural}": kmock.ResourceInfo(
            kind=kind,
            namespaced=True,
            singular=kind.lower(),
            subresources={"status"},
            verbs={"get", "list", "watch", "create", "patch", "delete"},
        )
        for kind, plural in (("RayJob", "rayjobs"), ("RayCluster", "rayclusters"))
    }
    crds = [
        c for p in (ROOT / "manifests" / "crds").glob("*.yaml") for c in yaml.safe_load_all(p.read_text())
    ]
    for crd in crds:
        names, spec = crd["spec"]["names"], crd["spec"]
        for version in spec["versions"]:
            found[f"{spec['group']}/{version['name']}/{names['plural']}"] = kmock.ResourceInfo(
                kind=names["kind"],
                singular=names["singular"],
                namespaced=spec["scope"] == "Namespaced",
                shortnames=set(names.get("shortNames", [])),
                subresources=set(version.get("subresources", {})),
                verbs={"get", "list", "watch", "create", "patch", "delete"},
            )
    return found


def _path(api_version: str, plural: str, namespace: str | None, name: str | None = None) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


PLURALS = {
    "Corpus": "corpora",
    "ModelProfile": "modelprofiles",
    "RayJob": "rayjobs",
    "RayCluster": "rayclusters",
    "NetworkPolicy": "networkpolicies",
    "Secret": "secrets",
    "Service": "services",
    "ConfigMap": "configmaps",
    "Event": "events",
    "KopfPeering": "kopfpeerings",
    "CustomResourceDefinition": "customresourcedefinitions",
}


class Cluster:
    """The emulated API server and a small client the tests use like kubectl."""

    def __init__(self, server: KubernetesServer, url: str) -> None:
        self.server, self.url = server, url
        self.http = httpx.AsyncClient(base_url=url, timeout=10, headers={"User-Agent": TEST_AGENT})

    async def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """Create ``document`` (namespaced kinds go to its namespace or the test namespace)."""
        kind = document["kind"]
        namespaced = kind not in ("ModelProfile", "CustomResourceDefinition")
        namespace = document.get("metadata", {}).get("namespace") or (NAMESPACE if namespaced else None)
        response = await self.http.post(
            _path(document["apiVersion"], PLURALS[kind], namespace), json=document
        )
        response.raise_for_status()
        return dict(response.json())

    async def get(self, kind: str, name: str, namespace: str | None = NAMESPACE) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        response = await self.http.get(_path(_API[kind], PLURALS[kind], namespace, name))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    async def list_all(self, kind: str, namespace: str | None = NAMESPACE) -> list[dict[str, Any]]:
        """All objects of a kind in the namespace."""
        response = await self.http.get(_path(_API[kind], PLURALS[kind], namespace))
        response.raise_for_status()
        return list(response.json()["items"])

    async def patch(
        self,
        kind: str,
        name: str,
        patch: dict[str, Any],
        *,
        status: bool = False,
        namespace: str | None = NAMESPACE,
    ) -> dict[str, Any]:
        """Merge-patch the object (or its status subresource, as KubeRay does for RayJobs)."""
        path = _path(_API[kind], PLURALS[kind], namespace, name) + ("/status" if status else "")
        response = await self.http.patch(
            path, json=patch, headers={"Content-Type": "application/merge-patch+json"}
        )
        response.raise_for_status()
        return dict(response.json())

    async def delete(self, kind: str, name: str, namespace: str | None = NAMESPACE) -> None:
        """Delete the object (finalizers hold it until the operator releases them)."""
        response = await self.http.delete(_path(_API[kind], PLURALS[kind], namespace, name))
        response.raise_for_status()

    async def events(self, name: str) -> list[dict[str, Any]]:
        """Events about the object ``name`` in the test namespace, oldest first."""
        return [e for e in await self.list_all("Event") if e.get("involvedObject", {}).get("name") == name]

    def names_requested(self, plural: str) -> set[str]:
        """Names of the objects of one resource that the operator asked the API server about."""
        return {
            str(request.name)
            for request in self.server._requests
            if request.resource is not None
            and request.resource.plural == plural
            and request.name
            and request.headers.get("User-Agent") != TEST_AGENT
        }

    def requests(self) -> list[tuple[str, str, str]]:
        """(api group, resource[/subresource], verb) of every API request the operator made."""
        seen = []
        for request in self.server._requests:
            if request.resource is None or request.action is None or not request.resource.plural:
                continue  # discovery (/apis/GROUP/VERSION): every authenticated client may read it
            if request.headers.get("User-Agent") == TEST_AGENT:
                continue
            resource = str(request.resource.plural)
            if request.subresource:
                resource += f"/{request.subresource}"
            verb = {
                "LIST": "list",
                "WATCH": "watch",
                "FETCH": "get",
                "CREATE": "create",
                "UPDATE": "patch",
                "DELETE": "delete",
            }[request.action.name]
            seen.append((str(request.resource.group or ""), resource, verb))
        return seen


_API = {
    "Corpus": "medbatch.io/v1alpha1",
    "ModelProfile": "medbatch.io/v1alpha1",
    "RayJob": "ray.io/v1",
    "RayCluster": "ray.io/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "Secret": "v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "Event": "v1",
    "KopfPeering": "kopf.dev/v1",
    "CustomResourceDefinition": "apiextensions.k8s.io/v1",
}


@contextlib.asynccontextmanager
async def emulated_cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """The emulator on a loopback port, with a kubeconfig for it in $KUBECONFIG's place."""
    async with KubernetesServer() as server, kmock.Server(server) as http_server:
        server.resources.load_bundled()
        for key, info in _crd_resources().items():
            server.resources[key] = info
        url = f"http://127.0.0.1:{http_server.port}"
        cluster = Cluster(server, url)
        await cluster.apply(rayjob_crd())  # KubeRay is installed wherever RayJobs are served
        try:
            yield cluster
        finally:
            await cluster.http.aclose()


def rayjob_crd(*, auth_options: bool = True) -> dict[str, Any]:
    """KubeRay's RayJob CRD as the API server holds it, cut to the path the operator reads: whether
    ``spec.rayClusterSpec.authOptions`` is declared (KubeRay 1.7's is; older ones prune it)."""
    cluster_spec: dict[str, Any] = {"type": "object", "properties": {"headGroupSpec": {"type": "object"}}}
    if auth_options:
        cluster_spec["properties"]["authOptions"] = {
            "type": "object",
            "properties": {"mode": {"type": "string"}},
        }
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"rayClusterSpec": cluster_spec}}},
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "rayjobs.ray.io"},
        "spec": {
            "group": "ray.io",
            "names": {"kind": "RayJob", "plural": "rayjobs", "singular": "rayjob"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    """An ownerReference to ``owner``, as the API server returned it (with its uid)."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
    }


def head_service(
    owner: dict[str, Any],
    ports: list[dict[str, Any]] | None = None,
    kind: str = "ClusterIP",
    owned: bool = True,
) -> dict[str, Any]:
    """The head Service KubeRay makes for a RayCluster (``owner`` as the API server returned it)."""
    metadata: dict[str, Any] = {"name": f"{owner['metadata']['name']}-head-svc", "namespace": NAMESPACE}
    if owned:
        metadata["ownerReferences"] = [owner_reference(owner)]
    spec: dict[str, Any] = {"type": kind, "ports": ports or [{"name": "dashboard", "port": 8265}]}
    if kind == "ExternalName":
        spec = {"type": kind, "externalName": "attacker.example"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


async def ray_cluster_with_head(
    cluster: Cluster, spec: dict[str, Any] | None = None, ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A RayCluster ``shared`` and the head Service it owns; returns the RayCluster as created."""
    document: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "shared", "namespace": NAMESPACE},
    }
    if spec is not None:
        document["spec"] = spec
    created = await cluster.apply(document)
    await cluster.apply(head_service(created, ports))
    return created


def example_on_shared_cluster() -> dict[str, Any]:
    """The S3 example Corpus, run on the RayCluster ``shared`` (``spec.ray``)."""
    document: dict[str, Any] = yaml.safe_load((ROOT / "manifests/examples/cardiology-s3.yaml").read_text())
    document["spec"]["ray"] = {"clusterName": "shared"}
    return document


def write_kubeconfig(path: Path, url: str) -> Path:
    """A kubeconfig pointing at ``url`` with no credentials (the emulator wants none)."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": url}}],
                "users": [{"name": "tester", "user": {}}],
                "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}],
                "current-context": "emulator",
            }
        )
    )
    return path


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_operator(*args: str) -> AsyncIterator[KopfRunner]:
    """``kopf run`` of medbatch's handlers in a thread, stopped (without blocking the emulator) on exit."""
    runner = KopfRunner(
        ["run", "--module", "medbatch.operator.handlers", "--namespace", NAMESPACE, *args],
        timeout=60,
    )
    await asyncio.to_thread(runner.__enter__)
    try:
        yield runner
    finally:
        await asyncio.to_thread(runner.__exit__, None, None, None)
        print(runner.output)  # shown by pytest when the test fails: the operator's own log


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = 30) -> T:
    """Wait until ``check`` returns something truthy (it is polled; the operator acts asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # poll interval of the wait above, not a stand-in for it


def wait_until(condition: Any, timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy (no fixed sleeps standing in for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)  # poll interval of the wait above, not a stand-in for it
    raise AssertionError(f"timed out waiting for {what}")
