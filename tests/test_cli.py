"""The command line as the README uses it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import yaml

from tests.cli_helpers import ROOT, run_cli
from tests.corpora import corpus_yaml, read_output
from tests.processes import processes_with_env

SAMPLE = ROOT / "manifests" / "examples" / "sample-local.yaml"


def test_validate_accepts_the_sample(tmp_path: Path) -> None:
    result = run_cli("validate", str(SAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid. Corpus 'sample-local': text from ./sample-notes/" in result.stdout


def test_validate_explains_what_is_wrong(tmp_path: Path) -> None:
    bad = corpus_yaml("Bad_Name", {"uri": "s3://x/", "format": "xml"}, replicas=0)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = run_cli("validate", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{path} is invalid:" in result.stderr
    for expected in (
        "metadata.name: must be a DNS-1123 label",
        "spec.source.format: Input should be 'parquet', 'jsonl', 'csv' or 'text'",
        "spec.replicas: Input should be greater than or equal to 1",
    ):
        assert expected in result.stderr


@pytest.mark.ray
def test_run_the_sample_as_in_the_readme(tmp_path: Path) -> None:
    ray_tmp = tempfile.mkdtemp(prefix="mb-cli-")
    try:
        result = run_cli("run", str(SAMPLE), cwd=tmp_path, ray_tmp=ray_tmp)
        # No Ray daemon or worker (a ray::MapWorker of the shard pool) outlives the command.
        left = processes_with_env("RAY_TMPDIR", ray_tmp)
        _, alive = psutil.wait_procs(left, timeout=5)
        assert not alive, [p.name() for p in alive]
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    output = tmp_path / "medbatch-output" / "sample-local"
    assert "Succeeded" in result.stdout
    assert "records:  40 (40 ok, 0 failed)" in result.stdout
    assert "this run: 40 notes processed, 0 already done; 40 files read, 0 unchanged" in result.stdout
    assert f"output:   {output}" in result.stdout
    rows = read_output(str(output))
    assert len(rows) == 40
    assert all(r["error"] is None and "[NAME]" in r["text_deid"] and r["summary"] for r in rows)
    manifest = json.loads((output / "_manifest.json").read_text())
    assert manifest["outcome"] == "Succeeded"
    assert manifest["records"]["total"] == 40

    again = run_cli("run", str(SAMPLE), cwd=tmp_path)  # a rerun of an unchanged corpus has nothing to do
    assert again.returncode == 0, again.stderr[-3000:]
    assert "this run: 0 notes processed, 0 already done; 0 files read, 40 unchanged" in again.stdout
    assert len(read_output(str(output))) == 40


@pytest.mark.ray
def test_run_reports_partial_success_and_missing_sources(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "n.jsonl").write_text('{"id": "a", "text": "Dr. Ann Lee."}\n{"id": "b", "text": ""}\n')
    corpus = corpus_yaml("partial", {"uri": "in/", "format": "jsonl", "idField": "id"})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(corpus))
    result = run_cli("run", "c.yaml", "--output", "out", cwd=tmp_path)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "PartiallySucceeded: 1 of 2 records failed" in result.stdout

    corpus["spec"]["source"]["uri"] = "missing/"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(corpus))
    result = run_cli("run", "c.yaml", "--output", "out2", cwd=tmp_path)
    assert result.returncode == 1
    assert f"failed: source {tmp_path / 'missing'}/ does not exist" in result.stderr


def test_run_without_a_surrogate_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDBATCH_SURROGATE_KEY", raising=False)
    corpus = corpus_yaml("nokey", {"uri": str(SAMPLE.parent / "sample-notes"), "format": "text"})
    corpus["spec"]["tasks"]["deidentify"]["strategy"] = "surrogate"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(corpus))
    result = run_cli("run", "c.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "needs a secret key of at least 16 characters in MEDBATCH_SURROGATE_KEY" in result.stderr


def test_render_prints_objects_kubectl_can_apply(tmp_path: Path) -> None:
    profile = ROOT / "manifests" / "profiles" / "openbiollm-8b.yaml"
    result = run_cli(
        "render",
        str(ROOT / "manifests" / "examples" / "cardiology-s3.yaml"),
        "--profile",
        str(profile),
        "--image",
        "registry.local/medbatch-job:1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    configmap, rayjob = yaml.safe_load_all(result.stdout)
    assert (configmap["kind"], rayjob["kind"]) == ("ConfigMap", "RayJob")
    assert rayjob["metadata"]["namespace"] == "research"
    worker = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    assert worker["template"]["spec"]["containers"][0]["image"] == "registry.local/medbatch-job:1"
    assert "openbiollm-8b" in configmap["data"]["modelprofile.yaml"]

    result = run_cli("render", str(SAMPLE), "--profile", str(profile), cwd=tmp_path)
    assert result.returncode == 2
    assert "spec.output.uri is required to run in a cluster" in result.stderr


def test_serve_refuses_an_engine_it_does_not_know(tmp_path: Path) -> None:
    result = run_cli("serve", "--engine", "telepathy", cwd=tmp_path)
    assert result.returncode == 2
    assert "telepathy" in result.stderr


@pytest.mark.parametrize(("command", "extra"), [(["serve"], "serve"), (["run", str(SAMPLE)], "jobs")])
def test_a_missing_extra_is_named_with_its_install_line(
    tmp_path: Path, command: list[str], extra: str
) -> None:
    """As in an environment made with another extra: Ray cannot be imported."""
    probe = (
        "import sys; sys.modules['ray'] = None; from medbatch.cli import app; "
        f"sys.argv = ['medbatch', *{command!r}]; app()"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2
    assert (
        f'needs the {extra} extra (ray not installed): pip install -c requirements/lock.txt -e ".[{extra}]"'
        in (result.stderr)
    )
    assert "Traceback" not in result.stderr


def test_validate_of_a_deeply_nested_document_says_so_in_a_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(
        "apiVersion: medbatch.io/v1alpha1\nkind: Corpus\nspec:\n  source: " + "[" * 50_000 + "]" * 50_000
    )
    result = run_cli("validate", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path} is invalid:",
        "  - (document): the document nests more than 64 levels (line 4); a custom resource is shallow",
    ]


@pytest.mark.ray
def test_an_output_folder_that_cannot_be_written_fails_in_one_line(tmp_path: Path) -> None:
    """What the system says (a read-only or full disk, a path through a file), not a traceback."""
    (tmp_path / "blocker").write_text("a file, not a folder")
    result = run_cli("run", str(SAMPLE), "--output", str(tmp_path / "blocker" / "out"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"failed: Not a directory (ENOTDIR); output: {tmp_path / 'blocker' / 'out'}"
    )
    assert "Traceback" not in result.stderr
    assert "│" not in result.stderr
