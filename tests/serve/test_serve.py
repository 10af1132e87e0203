"""The online service on local Ray Serve with the CPU baseline engine."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from medbatch.jobs import JobConfig, run_job
from medbatch.spec import Corpus
from tests.corpora import corpus_yaml, read_output, write_jsonl
from tests.serve.conftest import deploy

pytestmark = pytest.mark.timeout(300)

NOTE = (
    "Patient: Rafael Okafor  MRN: 00482913\n"
    "Mr. Okafor was seen by Dr. Ann Lee on 03/14/2024 for hypertension and type 2 diabetes.\n"
    "Metoprolol 25 mg daily was started; HbA1c 7.2%. Call (617) 555-0142 with questions."
)
SECRET = "Zyxwvutsrq"  # a made-up token planted in notes: it must not reach logs or error bodies


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, json=body)


def test_healthz_and_openapi(default_app: httpx.Client) -> None:
    assert default_app.get("/healthz").json() == {"status": "ok", "model": "medbatch-baseline"}
    schema = default_app.get("/openapi.json").json()
    assert set(schema["paths"]) >= {"/v1/deidentify", "/v1/ner", "/v1/summarize", "/v1/process", "/healthz"}
    responses = schema["paths"]["/v1/process"]["post"]["responses"]
    assert {"200", "401", "413", "422", "429", "504"} <= set(responses)


def test_deidentify(default_app: httpx.Client) -> None:
    body = post(default_app, "/v1/deidentify", {"text": NOTE, "id": "n1", "includePhiSpans": True}).json()
    assert body["id"] == "n1"
    for value in ("Rafael", "Okafor", "Ann Lee", "00482913", "03/14/2024", "555-0142"):
        assert value not in body["text_deid"]
    assert "Metoprolol 25 mg daily" in body["text_deid"]
    assert {p["type"] for p in body["phi"]} >= {"NAME", "MRN", "DATE", "PHONE"}
    assert all(NOTE[p["start"] : p["end"]] for p in body["phi"])
    assert body["entities"] is None
    assert body["summary"] is None
    redacted = post(
        default_app, "/v1/deidentify", {"text": NOTE, "deidentify": {"strategy": "redact"}}
    ).json()
    assert "[REDACTED]" in redacted["text_deid"]
    assert redacted["phi"] is None, "offsets only when asked for"


def test_ner_runs_on_the_deidentified_note(default_app: httpx.Client) -> None:
    body = post(default_app, "/v1/ner", {"text": NOTE, "ner": {"types": ["MEDICATION", "PROBLEM"]}}).json()
    entities = body["entities"]
    assert ("MEDICATION", "Metoprolol") in {(e["type"], e["text"]) for e in entities}
    assert {e["type"] for e in entities} <= {"MEDICATION", "PROBLEM"}
    assert all(body["text_deid"][e["start"] : e["end"]] == e["text"] for e in entities)


def test_summarize(default_app: httpx.Client) -> None:
    body = post(default_app, "/v1/summarize", {"text": NOTE, "summarize": {"maxWords": 20}}).json()
    assert body["summary"]
    assert len(body["summary"].split()) <= 20
    assert "Okafor" not in body["summary"]


def test_process_matches_the_batch_job(default_app: httpx.Client, tmp_path: Path) -> None:
    """The same note through /v1/process and through a batch job: the same text and entities."""
    tasks = {"deidentify": {}, "ner": {}, "summarize": {"maxWords": 30}}
    online = post(default_app, "/v1/process", {"text": NOTE, "id": "same", "tasks": tasks}).json()

    write_jsonl(str(tmp_path / "in" / "notes.jsonl"), [{"note_id": "same", "note_text": NOTE}])
    source = {"uri": str(tmp_path / "in"), "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    corpus = Corpus.model_validate(corpus_yaml("equivalence", source, tasks=tasks))
    run_job(
        JobConfig(
            corpus="equivalence",
            spec=corpus.spec,
            source_uri=source["uri"],
            output_uri=str(tmp_path / "out"),
            num_workers=1,
        ),
        worker_cpus=0.25,
    )
    (batch,) = read_output(str(tmp_path / "out"))
    assert online["text_deid"] == batch["text_deid"]
    assert online["entities"] == batch["entities"]
    assert online["summary"] == batch["summary"]
    assert online["model"] == batch["model"]


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        ("/v1/deidentify", {"note": NOTE}, ["text", "note"]),
        ("/v1/deidentify", {"text": ""}, ["text"]),
        ("/v1/deidentify", {"text": NOTE, "deidentify": {"strategy": "blackout"}}, ["deidentify.strategy"]),
        ("/v1/process", {"text": NOTE, "tasks": {"ner": {}}}, ["tasks"]),
        ("/v1/ner", {"text": NOTE, "ner": {"types": ["GENE"]}}, ["ner.types.0"]),
        ("/v1/summarize", {"text": NOTE, "summarize": {"maxWords": 3}}, ["summarize.maxWords"]),
    ],
)
def test_invalid_requests_name_the_fields_not_the_note(
    default_app: httpx.Client, path: str, body: dict[str, Any], fields: list[str]
) -> None:
    response = post(default_app, path, body)
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "invalid_request"
    assert error["fields"] == fields
    assert "Okafor" not in response.text


def test_surrogates_with_the_services_key_are_consistent_per_patient(default_app: httpx.Client) -> None:
    """The replicas have MEDBATCH_SURROGATE_KEY (the test session sets it), as a RayService would."""
    body = {"text": NOTE, "patientId": "p-1", "deidentify": {"strategy": "surrogate"}}
    first = post(default_app, "/v1/deidentify", body).json()
    again = post(default_app, "/v1/deidentify", body).json()
    assert "Okafor" not in first["text_deid"]
    assert "[NAME]" not in first["text_deid"]
    assert first["text_deid"] == again["text_deid"]


def test_oversized_notes_are_refused(default_app: httpx.Client) -> None:
    long_note = (NOTE + "\n") * 40  # over the 5000 characters this app accepts
    response = post(default_app, "/v1/deidentify", {"text": long_note})
    assert response.status_code == 413
    assert response.json()["error"] == "note_too_large"
    assert "Okafor" not in response.text
    huge = default_app.post(
        "/v1/deidentify",
        content=b'{"text": "' + b"x" * 200_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413, "refused from its Content-Length, before parsing"

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(64):  # 2 MB in 32 KB chunks, with no Content-Length
            yield b"x" * 32768
        yield b'"}'

    streamed = default_app.post(
        "/v1/deidentify", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413, "refused while the chunked body streams in"
    assert streamed.json()["error"] == "note_too_large"


def test_whitespace_only_text_is_an_error_as_in_a_batch_job(default_app: httpx.Client) -> None:
    """The batch job writes an error row for it; the service answers the same error (it once said 200 with
    no error)."""
    response = post(default_app, "/v1/deidentify", {"text": " \n\t "})
    assert response.status_code == 200
    assert response.json()["error"] == "text is empty"


def test_backpressure_answers_429_with_retry_after(serve_url: str) -> None:
    prefix = deploy(
        "slow",
        {
            "engine_config": {"kind": "fake", "seconds_per_request": 0.5},
            "settings": {
                "max_ongoing_requests": 1,
                "max_queued_requests": 1,
                "retry_after_s": 2,
            },
        },
    )

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=serve_url + prefix, timeout=60) as client:
            requests = [client.post("/v1/deidentify", json={"text": NOTE}) for _ in range(8)]
            return list(await asyncio.gather(*requests))

    responses = asyncio.run(burst())
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429}, codes
    assert codes.count(200) >= 1
    busy = [r for r in responses if r.status_code == 429]
    assert busy, f"8 requests at once against 1 running + 1 queued should overflow: {codes}"
    assert all(r.headers["Retry-After"] == "2" for r in busy)
    assert all(r.json()["error"] == "busy" for r in busy)


def test_api_key_when_enabled(serve_url: str) -> None:
    prefix = deploy("secure", {"settings": {"api_key": "s3cret-key-for-tests"}})
    with httpx.Client(base_url=serve_url + prefix, timeout=60) as client:
        assert client.get("/healthz").status_code == 200, "health stays open for probes"
        missing = post(client, "/v1/deidentify", {"text": NOTE})
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        wrong = client.post("/v1/deidentify", json={"text": NOTE}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        bearer = client.post(
            "/v1/deidentify", json={"text": NOTE}, headers={"Authorization": "Bearer s3cret-key-for-tests"}
        )
        assert bearer.status_code == 200
        header = client.post(
            "/v1/deidentify", json={"text": NOTE}, headers={"X-API-Key": "s3cret-key-for-tests"}
        )
        assert header.status_code == 200


def test_no_note_text_in_serve_logs(default_app: httpx.Client, ray_logs: Path) -> None:
    note = f"Patient: {SECRET} Okafor\nSeen by Dr. {SECRET} on 03/14/2024."
    assert (
        post(default_app, "/v1/process", {"text": note, "tasks": {"deidentify": {}, "ner": {}}}).status_code
        == 200
    )
    assert (
        post(default_app, "/v1/deidentify", {"text": note, "deidentify": {"strategy": "x"}}).status_code
        == 422
    )
    assert SECRET not in json.dumps(post(default_app, "/v1/deidentify", {"txt": note}).json())
    leaks = [p for p in ray_logs.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []


OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_openapi_matches_the_committed_contract(default_app: httpx.Client) -> None:
    """docs/openapi.json is the API contract; a change to it must be deliberate (MEDBATCH_UPDATE_OPENAPI=1)."""
    served = default_app.get("/openapi.json").json()
    served.pop("servers", None)  # the route prefix of this test deployment
    if os.environ.get("MEDBATCH_UPDATE_OPENAPI") == "1":
        OPENAPI.write_text(json.dumps(served, indent=2, sort_keys=True) + "\n")
    assert served == json.loads(OPENAPI.read_text()), (
        "regenerate: MEDBATCH_UPDATE_OPENAPI=1 pytest -k openapi"
    )
