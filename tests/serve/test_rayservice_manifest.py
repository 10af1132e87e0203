"""The example RayService is valid for KubeRay v1.7.0 and its Serve config builds medbatch's application."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from medbatch.notes.engines import engine_config_from_profile
from medbatch.serve.app import replica_resources
from medbatch.serve.settings import ServeSettings
from medbatch.spec import ModelProfile, parse_resource
from tests.operator.crd_checks import crd_schema, refused_or_pruned

ROOT = Path(__file__).resolve().parents[2]
KUBERAY = ROOT.parent / "shared" / "data" / "kuberay-v1.7.0" / "ray.io_rayservices.yaml"
MANIFEST = yaml.safe_load((ROOT / "manifests" / "serving" / "rayservice.yaml").read_text())


@pytest.mark.skipif(not KUBERAY.exists(), reason="KubeRay CRDs are in ../shared/data")
def test_rayservice_is_valid_for_kuberay_and_nothing_is_pruned() -> None:
    assert refused_or_pruned(MANIFEST, crd_schema(KUBERAY)) == []


def test_serve_config_builds_the_application() -> None:
    (application,) = yaml.safe_load(MANIFEST["spec"]["serveConfigV2"])["applications"]
    module, attribute = application["import_path"].split(":")
    builder = getattr(importlib.import_module(module), attribute)
    args = application["args"]
    profile = parse_resource(args["profile"], ModelProfile, "profile")
    assert engine_config_from_profile(profile).describe().model == "openbiollm-llama3-8b"
    assert builder(args) is not None
    ray_version = MANIFEST["spec"]["rayClusterConfig"]["rayVersion"]
    image = MANIFEST["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0][
        "image"
    ]
    values = yaml.safe_load((ROOT / "charts" / "medbatch" / "values.yaml").read_text())
    assert ray_version == values["jobImage"]["rayVersion"]
    assert image.startswith(values["jobImage"]["repository"] + ":")


def test_engine_replicas_take_the_profiles_gpus_unless_set() -> None:
    (application,) = yaml.safe_load(MANIFEST["spec"]["serveConfigV2"])["applications"]
    args = application["args"]
    assert replica_resources(args, ServeSettings(**args["settings"])) == {"num_cpus": 4, "num_gpus": 1}
    unset = {"profile": args["profile"]}
    assert replica_resources(unset, ServeSettings())["num_gpus"] == args["profile"]["spec"]["gpu"]["count"]
    assert replica_resources({}, ServeSettings()) == {"num_cpus": 1.0, "num_gpus": 0.0}
