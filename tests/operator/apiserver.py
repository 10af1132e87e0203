"""A real Kubernetes API server for the CRDs: the CRD half of kube-apiserver (``../shared/tools/k8s-apiserver``:
structural schemas, CEL with its cost budget, defaulting, pruning, strict field validation, the status
subresource), with etcd, on free loopback ports; stopped with everything it started."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.operator.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT.parent / "shared" / "tools" / "k8s-apiserver"
VERSION = "v0.35.7"  # the Kubernetes 1.35.7 API machinery
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@dataclass
class ApiServer:
    """A client for the running server (admin certificate, HTTPS)."""

    client: httpx.Client

    def install_crd(self, crd: dict[str, Any]) -> None:
        """Create (or replace) a CRD and wait until it is Established."""
        name = crd["metadata"]["name"]
        existing = self.client.get(f"{CRDS}/{name}")
        if existing.status_code == 200:
            body = {
                **crd,
                "metadata": {
                    **crd["metadata"],
                    "resourceVersion": existing.json()["metadata"]["resourceVersion"],
                },
            }
            response = self.client.put(f"{CRDS}/{name}", json=body)
        else:
            response = self.client.post(CRDS, json=crd)
        assert response.status_code in (200, 201), response.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            conditions = (self.client.get(f"{CRDS}/{name}").json().get("status") or {}).get(
                "conditions"
            ) or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return
            time.sleep(0.1)  # poll interval of the wait above
        raise AssertionError(f"CRD {name} not Established")


@contextlib.contextmanager
def running_apiserver() -> Iterator[ApiServer]:
    """Start the server (about 10 s, plus etcd's install on first use) and stop it and etcd on exit."""
    work = Path(tempfile.mkdtemp(prefix="mb-apiserver-"))
    port = free_port()
    env = {
        **os.environ,
        "APISERVER_WORK": str(work),
        "ETCD_PORT": str(free_port()),
        "ETCD_PEER_PORT": str(free_port()),
        "PROXY_PORT": str(free_port()),
    }
    run = work / "run"
    try:
        subprocess.run(
            ["bash", str(TOOL / "start_apiserver.sh"), VERSION, str(port)],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        with httpx.Client(
            base_url=f"https://127.0.0.1:{port}",
            cert=(str(run / "pki" / "admin.crt"), str(run / "pki" / "admin.key")),
            verify=False,  # a throwaway server on loopback with a self-signed certificate
            timeout=30,
        ) as client:
            yield ApiServer(client)
    finally:
        started = []
        for pid_file in run.glob("*.pid"):
            with contextlib.suppress(psutil.Error, ValueError):
                started.append(psutil.Process(int(pid_file.read_text())))
        for process in started:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(started, timeout=15)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        shutil.rmtree(work, ignore_errors=True)
