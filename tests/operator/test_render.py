"""The RayJob and ConfigMap the operator renders: valid for KubeRay v1.7.0, nothing a server would prune."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from medbatch.jobs.config import engine_config_from_profile, job_config_for
from medbatch.operator.render import RenderSettings, child_name, render_configmap, render_rayjob
from medbatch.spec import Corpus, ModelProfile, load_corpus, load_model_profile
from tests.operator.crd_checks import pruned

ROOT = Path(__file__).resolve().parents[2]
KUBERAY = ROOT.parent / "shared" / "data" / "kuberay-v1.7.0" / "ray.io_rayjobs.yaml"
CORPUS = ROOT / "manifests" / "examples" / "cardiology-s3.yaml"
PROFILES = sorted((ROOT / "manifests" / "profiles").glob("*.yaml"))


def rayjob_schema() -> dict[str, Any]:
    crd = yaml.safe_load(KUBERAY.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.skipif(not KUBERAY.exists(), reason="KubeRay CRDs are in ../shared/data")
@pytest.mark.parametrize("profile_path", PROFILES, ids=lambda p: p.stem)
def test_rayjob_is_valid_for_kuberay_and_nothing_is_pruned(profile_path: Path) -> None:
    job = render_rayjob(load_corpus(CORPUS), load_model_profile(profile_path))
    schema = rayjob_schema()
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft4Validator(schema).iter_errors(job)
    ]
    assert errors == []
    assert list(pruned(job, schema)) == []


def test_rayjob_shape() -> None:
    corpus, profile = (
        load_corpus(CORPUS),
        load_model_profile(ROOT / "manifests" / "profiles" / "openbiollm-70b.yaml"),
    )
    job = render_rayjob(corpus, profile, RenderSettings(image="registry/medbatch-job:1"))
    spec = job["spec"]
    assert job["metadata"]["name"] == "medbatch-cardiology-2024"
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["suspend"] is False
    assert spec["entrypoint"].startswith(
        "python -m medbatch.jobs.entrypoint --corpus /etc/medbatch/corpus.yaml"
    )
    (workers,) = spec["rayClusterSpec"]["workerGroupSpecs"]
    assert (workers["replicas"], workers["minReplicas"], workers["maxReplicas"]) == (4, 4, 4)
    (container,) = workers["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "4"
    assert container["image"] == "registry/medbatch-job:1"
    assert container["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    assert {"name": "shm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    shm = next(v for v in workers["template"]["spec"]["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory"
    head = spec["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0", "engines never land on the head"
    head_mounts = head["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "medbatch-config", "mountPath": "/etc/medbatch", "readOnly": True} in head_mounts


def test_profile_placement_and_pvc() -> None:
    corpus = load_corpus(CORPUS)
    profile = ModelProfile.model_validate(
        {
            "apiVersion": "medbatch.io/v1alpha1",
            "kind": "ModelProfile",
            "metadata": {"name": "p"},
            "spec": {
                "source": {"pvc": "weights"},
                "nodeSelector": {"gpu": "h100"},
                "image": "img:2",
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
        }
    )
    pod = render_rayjob(corpus, profile)["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpu": "h100"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert {"name": "model", "mountPath": "/models/weights", "readOnly": True} in pod["containers"][0][
        "volumeMounts"
    ]
    assert pod["containers"][0]["image"] == "img:2"


def test_long_names_are_shortened_stably() -> None:
    corpus = load_corpus(CORPUS).model_copy(deep=True)
    long = Corpus.model_validate({**corpus.to_wire(), "metadata": {"name": "x" * 63}})
    name = child_name(long, "-config")
    assert len(name) <= 63
    assert name == child_name(long, "-config")


def test_configmap_round_trips_into_the_job_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDBATCH_SURROGATE_KEY", "k" * 20)
    corpus, profile = load_corpus(CORPUS), load_model_profile(PROFILES[0])
    data = render_configmap(corpus, profile)["data"]
    (tmp_path / "corpus.yaml").write_text(data["corpus.yaml"])
    (tmp_path / "modelprofile.yaml").write_text(data["modelprofile.yaml"])
    again = load_corpus(tmp_path / "corpus.yaml")
    assert again.spec == corpus.spec
    config = job_config_for(
        again, tmp_path, engine=engine_config_from_profile(load_model_profile(tmp_path / "modelprofile.yaml"))
    )
    assert config.engine == engine_config_from_profile(profile)
    assert config.output_uri == "s3://results/cardiology-2024/"
