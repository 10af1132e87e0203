"""The openai engine against a real OpenAI-compatible HTTP server written for the test.

The server answers like a model that does its job (it finds "Dr. <Name>" and a few terms), and can be
told to answer 429 and 500 first, or always 500, so that retries, backoff and error rows are exercised
over real HTTP with the official client.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from medbatch.jobs import JobConfig, OpenAIEngineConfig, Outcome, run_job
from medbatch.notes.engine import TaskResult
from medbatch.notes.spans import PhiSpan
from medbatch.spec import Corpus
from tests.corpora import corpus_yaml, notes, read_output, rows, write_jsonl


class ModelServer(ThreadingHTTPServer):
    """State shared by the handler threads."""

    def __init__(self, failures: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.failures = list(failures)  # status codes to answer first, in order; [500] * n: n failures
        self.always_fail = False
        self.lock = threading.Lock()
        self.statuses: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0


def answer(request: dict[str, Any]) -> str:
    note = re.search(r'"""\n(.*)\n"""', request["messages"][-1]["content"], re.S)
    text = note.group(1) if note else ""
    task = request["response_format"]["json_schema"]["name"]
    if task == "phi":
        names = re.findall(r"Dr\. (\w+ \w+)", text) + re.findall(r"(\w+) stopped by", text)
        return json.dumps({"phi": [{"text": m, "type": "NAME"} for m in names]})
    if task == "ner":
        found = [{"text": m, "type": "PROBLEM"} for m in re.findall(r"hypertension|pneumonia|COPD", text)]
        return json.dumps({"entities": found})
    return json.dumps({"summary": "Admitted and treated; follow up in clinic."})


class Handler(BaseHTTPRequestHandler):
    server: ModelServer

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            status = (
                500
                if self.server.always_fail
                else (self.server.failures.pop(0) if self.server.failures else 200)
            )
            self.server.statuses.append(status)
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        try:
            time.sleep(0.01)  # service time, so that concurrent requests overlap
            if status != 200:
                payload = {"error": {"message": "busy", "type": "server_error"}}
                self._send(status, payload, {"retry-after-ms": "1"} if status == 429 else {})
                return
            content = answer(body)
            self._send(
                200,
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": content},
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107},
                },
            )
        finally:
            with self.server.lock:
                self.server.in_flight -= 1

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[ModelServer]:
    srv = ModelServer(failures=[429, 500])
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()


def config(srv: ModelServer, **overrides: Any) -> OpenAIEngineConfig:
    return OpenAIEngineConfig(
        base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1",
        model="served-model",
        max_model_len=4096,
        max_tokens=256,
        **overrides,
    )


@pytest.mark.usefixtures("ray_cluster")
def test_pipeline_through_an_endpoint_that_answers_429_and_500_first(
    server: ModelServer, tmp_path: Path
) -> None:
    records = rows(notes(6))
    for record in records:  # a name no recognizer knows, so only the model can find it
        record["note_text"] += "\nZorblat stopped by today, from out of town.\n"
    write_jsonl(str(tmp_path / "in" / "n.jsonl"), records)
    source = {"uri": str(tmp_path / "in"), "format": "jsonl", "idField": "note_id", "textField": "note_text"}
    corpus = Corpus.model_validate(corpus_yaml("openai", source, output={"includePhiSpans": True}))
    job = JobConfig(
        corpus="openai",
        spec=corpus.spec,
        source_uri=source["uri"],
        output_uri=str(tmp_path / "out"),
        engine=config(server),
        num_workers=1,
    )
    manifest = run_job(job, worker_cpus=0.5)

    assert server.statuses[:2] == [429, 500]
    assert manifest.outcome is Outcome.SUCCEEDED, manifest.top_errors
    assert manifest.model == "served-model"
    output = read_output(str(tmp_path / "out"))
    assert len(output) == 6
    assert all(r["tokens_in"] == 300 and r["tokens_out"] == 21 for r in output), "3 requests per note"
    assert manifest.tokens_in == 1800
    assert manifest.timings.tokens_per_s > 0
    for row in output:
        assert "Zorblat" not in row["text_deid"], "the model's spans are removed too"
        assert {"type": "NAME", "source": "llm"}.items() <= next(
            p for p in row["phi"] if p["source"] == "llm"
        ).items()
    assert any(e["type"] == "PROBLEM" for r in output for e in r["entities"])


def test_concurrency_is_bounded_and_persistent_failures_become_errors(server: ModelServer) -> None:
    engine = config(server, max_concurrency=3, max_retries=1).build()
    texts = [n.text for n in notes(12)]

    async def find_all(batch: list[str]) -> list[TaskResult[list[PhiSpan]]]:
        return list(await asyncio.gather(*(engine.find_phi(t) for t in batch)))

    results = asyncio.run(find_all(texts))
    assert all(r.error is None for r in results)
    assert server.max_in_flight <= 3
    assert server.max_in_flight > 1, "requests do run concurrently"

    server.always_fail = True
    failed = asyncio.run(find_all(texts[:2]))
    assert [r.error for r in failed] == ["endpoint request failed (InternalServerError)"] * 2
    assert all(r.value is None for r in failed)
