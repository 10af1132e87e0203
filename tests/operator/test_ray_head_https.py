"""HTTPS to Ray heads: the scheme comes from the head Service KubeRay made, the platform may require it,
and the Jobs API client verifies the head's certificate before it sends the Ray token."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError
from medbatch.operator.jobs_api import RayJobsClient
from medbatch.operator.kube import Kube
from medbatch.operator.ray_clusters import ray_target
from medbatch.spec import Corpus, parse_resource
from tests.operator.cluster import NAMESPACE, Cluster, example_on_shared_cluster, ray_cluster_with_head

ASYNC = pytest.mark.asyncio(loop_scope="function")
CONFIG = OperatorConfig(allowed_ray_clusters=[f"{NAMESPACE}/shared"], ray_cluster_selector="")


async def _cluster_with_head(cluster: Cluster, port: dict[str, Any]) -> Corpus:
    await ray_cluster_with_head(cluster, ports=[port])
    return parse_resource(example_on_shared_cluster(), Corpus, "Corpus")


@ASYNC
async def test_a_head_service_that_declares_https_is_reached_over_https(cluster: Cluster, kube: Kube) -> None:
    corpus = await _cluster_with_head(cluster, {"name": "dashboard", "port": 8265, "appProtocol": "https"})
    platform_ca = CONFIG.model_copy(update={"ray_head_ca_file": "/etc/medbatch/ray-ca/ca.crt"})
    target = await ray_target(kube, corpus, NAMESPACE, platform_ca)
    assert target.address == f"https://shared-head-svc.{NAMESPACE}.svc:8265"
    assert target.ca_file == "/etc/medbatch/ray-ca/ca.crt"


@ASYNC
async def test_a_plain_head_is_refused_where_the_platform_requires_https(
    cluster: Cluster, kube: Kube
) -> None:
    corpus = await _cluster_with_head(cluster, {"name": "dashboard", "port": 8265})
    assert (await ray_target(kube, corpus, NAMESPACE, CONFIG)).address.startswith("http://")
    strict = CONFIG.model_copy(update={"require_ray_head_https": True})
    with pytest.raises(LaunchError) as refused:
        await ray_target(kube, corpus, NAMESPACE, strict)
    assert (refused.value.reason, refused.value.retry) == ("RayHeadNotHttps", True)


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signs for 127.0.0.1: (CA file, server cert, server key)."""
    now = datetime.datetime.now(datetime.UTC)

    def build(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name) -> Any:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "medbatch test CA")])
    ca = (
        build("medbatch test CA", ca_key, ca_name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        build("127.0.0.1", key, ca.subject)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.crt", folder / "head.crt", folder / "head.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture
def https_head(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """A Jobs API stand-in behind TLS on an ephemeral loopback port: (address, CA file, the
    Authorization headers it received)."""
    ca, cert, key = _certificates(tmp_path)
    seen: list[str] = []

    class Head(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            body = json.dumps({"submission_id": "medbatch-x", "status": "RUNNING"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Head)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", ca, seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_client_verifies_the_head_with_the_platform_s_ca(https_head: tuple[str, Path, list[str]]) -> None:
    address, ca, seen = https_head
    client = RayJobsClient(address, token="ray-token", verify=str(ca), retry_for_s=0)
    try:
        info = client.status("medbatch-x")
    finally:
        client.close()
    assert info is not None
    assert info.status == "RUNNING"
    assert seen == ["Bearer ray-token"]


def test_an_unverified_head_never_receives_the_token(https_head: tuple[str, Path, list[str]]) -> None:
    address, _ca, seen = https_head
    client = RayJobsClient(address, token="ray-token", retry_for_s=0)  # the system's CAs: not this one
    try:
        with pytest.raises(httpx.ConnectError):
            client.status("medbatch-x")
    finally:
        client.close()
    assert seen == []
