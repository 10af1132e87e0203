"""The contract between the job and the operator, round-tripped: what the job's writer puts in the
output folder is what the operator's reader understands (file names, fields, outcome words)."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from medbatch.jobs import JobConfig, run_job
from medbatch.operator.job_state import from_rayjob_status
from medbatch.operator.run_files import ReadPolicy, read_run_files
from medbatch.operator.status import verdict
from medbatch.spec import Corpus
from medbatch.spec.run_files import MANIFEST_FILE, Outcome
from medbatch.storage import filesystem
from tests.corpora import corpus_yaml, notes, rows, write_jsonl

pytestmark = pytest.mark.usefixtures("ray_cluster")


def test_the_operator_reads_what_the_job_writes(bucket: str) -> None:
    items = notes(12)
    write_jsonl(
        f"s3://{bucket}/contract/in/notes.jsonl", [*rows(items), {"note_id": "blank", "note_text": " "}]
    )
    source = {
        "uri": f"s3://{bucket}/contract/in/",
        "format": "jsonl",
        "idField": "note_id",
        "textField": "note_text",
    }
    output = f"s3://{bucket}/contract/out"
    corpus = Corpus.model_validate(corpus_yaml("contract", source, limits={"shardSize": 5}))
    manifest = run_job(
        JobConfig(
            corpus="contract", spec=corpus.spec, source_uri=source["uri"], output_uri=output, num_workers=1
        ),
        worker_cpus=0.5,
    )
    assert manifest.outcome is Outcome.PARTIALLY_SUCCEEDED

    credentials = {
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    policy = ReadPolicy(allowed_endpoints=(os.environ["AWS_ENDPOINT_URL"],))
    files = asyncio.run(read_run_files(output + "/", credentials, policy))
    assert files.progress is not None
    assert files.outcome is not None
    assert (files.progress.records_total, files.progress.records_done) == (13, 13)
    assert files.progress.records_failed_this_run == 1
    assert files.outcome.outcome is manifest.outcome
    assert (files.outcome.tokens_in, files.outcome.tokens_out) == (manifest.tokens_in, manifest.tokens_out)
    fs, path = filesystem(output)
    with fs.open(f"{path}/{MANIFEST_FILE}") as handle:
        assert json.load(handle)["outcome"] == "PartiallySucceeded"
    done = verdict(
        from_rayjob_status({"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}),
        False,
        files.outcome.outcome,
    )
    assert (done.phase.value, done.reason) == ("PartiallySucceeded", "SomeRecordsFailed")
