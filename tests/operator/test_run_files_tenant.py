"""The operator reads a job's progress as the tenant and nobody else, as a Corpus author would attack it:
its own credentials never leave, endpoints come from the platform's allow-list, files are read capped,
and local paths are refused in a cluster. A recording server stands for an endpoint the author runs;
moto (real S3 protocol) for the store."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from medbatch.operator.run_files import MAX_FILE_BYTES, ReadPolicy, RunFilesError, read_run_files
from medbatch.spec.run_files import PROGRESS_FILE

OPERATOR_KEY = "AKIAOPERATOROWNKEY01"
OPERATOR_TOKEN = "operator-session-token-never-sent"
TENANT_KEY = "AKIATENANTKEY0000001"


class Recorder(ThreadingHTTPServer):
    """Answers every request 404 (no such object) and keeps its headers."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append({k.lower(): v for k, v in self.headers.items()})
        body = b"<Error><Code>NoSuchKey</Code></Error>"
        self.send_response(404)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def operator_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator's own ambient credentials, as IRSA or a mounted profile would give them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", OPERATOR_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "operator-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", OPERATOR_TOKEN)


def _read(uri: str, credentials: dict[str, str], policy: ReadPolicy) -> Any:
    return asyncio.run(read_run_files(uri, credentials, policy))


def _sent_nothing_of_the_operator(requests: list[dict[str, str]]) -> None:
    for headers in requests:
        assert OPERATOR_KEY not in json.dumps(headers)
        assert OPERATOR_TOKEN not in json.dumps(headers)


@pytest.mark.usefixtures("operator_identity")
def test_a_secret_with_only_an_endpoint_gets_unsigned_requests(recorder: Recorder) -> None:
    files = _read(
        "s3://bucket/out/", {"AWS_ENDPOINT_URL": recorder.url}, ReadPolicy(allowed_endpoints=(recorder.url,))
    )
    assert files.progress is None
    assert files.outcome is None
    assert len(recorder.requests) == 2  # progress and manifest
    assert all("authorization" not in h and "x-amz-security-token" not in h for h in recorder.requests)
    _sent_nothing_of_the_operator(recorder.requests)


@pytest.mark.usefixtures("operator_identity")
def test_a_secrets_keys_sign_the_requests_and_nothing_of_the_operators_goes_with_them(
    recorder: Recorder,
) -> None:
    credentials = {
        "AWS_ENDPOINT_URL": recorder.url,
        "AWS_ACCESS_KEY_ID": TENANT_KEY,
        "AWS_SECRET_ACCESS_KEY": "tenant-secret",
        "AWS_REGION": "us-east-1",
    }
    _read("s3://bucket/out/", credentials, ReadPolicy(allowed_endpoints=(recorder.url,)))
    assert recorder.requests
    for headers in recorder.requests:
        assert f"Credential={TENANT_KEY}/" in headers["authorization"]
        assert "x-amz-security-token" not in headers
    _sent_nothing_of_the_operator(recorder.requests)


@pytest.mark.parametrize(
    "allowed", [(), ("http://127.0.0.1:1",), ("https://{host}",)], ids=["none", "other port", "other scheme"]
)
def test_an_endpoint_off_the_allow_list_is_refused_before_any_request(
    recorder: Recorder, allowed: tuple[str, ...]
) -> None:
    host = recorder.url.removeprefix("http://")
    policy = ReadPolicy(allowed_endpoints=tuple(a.format(host=host) for a in allowed))
    with pytest.raises(RunFilesError, match="allowedEndpoints") as info:
        _read("s3://bucket/out/", {"AWS_ENDPOINT_URL": recorder.url}, policy)
    assert recorder.url not in str(info.value)
    assert recorder.requests == []


def test_half_a_key_pair_is_an_error() -> None:
    with pytest.raises(RunFilesError, match="AWS_ACCESS_KEY_ID"):
        _read("s3://bucket/out/", {"AWS_ACCESS_KEY_ID": TENANT_KEY}, ReadPolicy())


def test_local_folders_are_refused_unless_the_platform_allows_them(tmp_path: Path) -> None:
    (tmp_path / PROGRESS_FILE).write_text("{}")
    for uri in (str(tmp_path), f"file://{tmp_path}"):
        with pytest.raises(RunFilesError, match="local output"):
            _read(uri, {}, ReadPolicy())
    assert _read(str(tmp_path), {}, ReadPolicy(local=True)).progress is not None


@pytest.mark.parametrize("size", [MAX_FILE_BYTES + 1, 8 * MAX_FILE_BYTES])
def test_an_oversized_progress_file_is_an_error_read_in_one_capped_range(
    bucket: str, s3_endpoint: str, size: int
) -> None:
    body = json.dumps({"padding": "x" * size}).encode()
    boto3.client("s3", endpoint_url=s3_endpoint).put_object(
        Bucket=bucket, Key=f"out/{PROGRESS_FILE}", Body=body
    )
    credentials = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    with pytest.raises(RunFilesError, match="larger than 64 KiB"):
        _read(f"s3://{bucket}/out/", credentials, ReadPolicy(allowed_endpoints=(s3_endpoint,)))


def test_reads_ask_for_a_range_no_larger_than_the_cap(recorder: Recorder) -> None:
    _read(
        "s3://bucket/out/", {"AWS_ENDPOINT_URL": recorder.url}, ReadPolicy(allowed_endpoints=(recorder.url,))
    )
    assert {h.get("range") for h in recorder.requests} == {f"bytes=0-{MAX_FILE_BYTES}"}
