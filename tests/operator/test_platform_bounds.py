"""Platform bounds, played as a Corpus author: where data goes, how much a Corpus takes, which of its
labels reach its children. Each case is one the operator let through before the bounds existed."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from medbatch.operator.admission import admit, check_bounds, check_identity
from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError
from medbatch.operator.kube import Kube
from medbatch.operator.render import render_configmap, render_network_policy, render_rayjob
from medbatch.operator.resource import read_corpus
from medbatch.operator.runners import launch
from medbatch.spec import Corpus, ModelProfile, parse_resource
from tests.operator.cluster import NAMESPACE, ROOT, Cluster

ASYNC = pytest.mark.asyncio(loop_scope="function")
EXAMPLE = yaml.safe_load((ROOT / "manifests/examples/cardiology-s3.yaml").read_text())
PROFILE_DOC = yaml.safe_load((ROOT / "manifests/profiles/openbiollm-70b.yaml").read_text())
PROFILE = parse_resource(PROFILE_DOC, ModelProfile, "openbiollm-70b.yaml")
GPUS_PER_REPLICA = PROFILE.spec.gpu.count
PLATFORM = OperatorConfig(allowed_locations=["s3://notes/{namespace}/*", "s3://results/{namespace}/*"])


def _corpus(
    source: str = f"s3://notes/{NAMESPACE}/2024/", output: str = f"s3://results/{NAMESPACE}/run/", **spec: Any
) -> Corpus:
    document = copy.deepcopy(EXAMPLE)
    document["metadata"]["namespace"] = NAMESPACE
    document["spec"]["source"]["uri"] = source
    document["spec"]["output"]["uri"] = output
    document["spec"].update(spec)
    return parse_resource(document, Corpus, "corpus.yaml")


def _refusal(corpus: Corpus, config: OperatorConfig) -> LaunchError:
    with pytest.raises(LaunchError) as refused:
        check_bounds(corpus, PROFILE, NAMESPACE, config)
    return refused.value


def test_a_corpus_inside_its_namespace_s_locations_starts() -> None:
    check_bounds(_corpus(), PROFILE, NAMESPACE, PLATFORM)
    check_bounds(_corpus(output=f"s3://results/{NAMESPACE}"), PROFILE, NAMESPACE, PLATFORM)  # no slash


@pytest.mark.parametrize(
    "output",
    [
        "s3://results/other-team/run/",  # another namespace's prefix: its lease, its results
        f"s3://results/{NAMESPACE}-evil/run/",  # a prefix that only starts like the namespace
        "s3://attacker-bucket/exfil/",  # a bucket outside the organisation
        f"s3://results/{NAMESPACE}/../other-team/run/",  # climbing out of the prefix
        f"s3://results/{NAMESPACE}//run/",
    ],
)
def test_an_output_outside_the_namespace_s_locations_is_refused(output: str) -> None:
    refused = _refusal(_corpus(output=output), PLATFORM)
    assert refused.reason == "Forbidden"
    assert "spec.output.uri" in refused.message
    assert output not in refused.message, "a URI may carry names; the message names the field only"


def test_a_source_outside_the_locations_is_refused() -> None:
    refused = _refusal(_corpus(source="s3://notes/other-team/2024/"), PLATFORM)
    assert "spec.source.uri" in refused.message


@pytest.mark.parametrize("uri", ["/etc/", "file:///var/run/secrets/", "notes/"])
def test_local_paths_are_refused_in_a_cluster_even_without_location_patterns(uri: str) -> None:
    refused = _refusal(_corpus(output=uri), OperatorConfig())
    assert (refused.reason, refused.retry) == ("Forbidden", False)
    check_bounds(_corpus(output=uri), PROFILE, NAMESPACE, OperatorConfig(read_local_output=True))


def test_replicas_and_gpus_over_the_platform_s_caps_are_refused() -> None:
    too_many = _corpus(replicas=512)  # 512 x 4 GPUs of the 70B profile
    assert _refusal(too_many, OperatorConfig(max_replicas=8)).reason == "OverLimit"
    refused = _refusal(_corpus(replicas=3), OperatorConfig(max_gpus=2 * GPUS_PER_REPLICA))
    assert (refused.reason, str(3 * GPUS_PER_REPLICA) in refused.message) == ("OverLimit", True)
    check_bounds(
        _corpus(replicas=2), PROFILE, NAMESPACE, OperatorConfig(max_replicas=2, max_gpus=2 * GPUS_PER_REPLICA)
    )


def test_only_allowed_labels_reach_the_rayjob_and_none_reach_pods_or_other_children() -> None:
    corpus = _corpus()
    corpus.metadata.__pydantic_extra__ = {
        "labels": {
            "kueue.x-k8s.io/queue-name": "research",
            "kueue.x-k8s.io/priority-class": "preempt-everyone",
            "app.kubernetes.io/managed-by": "someone-else",
        }
    }
    settings = OperatorConfig().render_settings()
    rayjob = render_rayjob(corpus, PROFILE, settings)
    labels = rayjob["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "research"
    assert "kueue.x-k8s.io/priority-class" not in labels
    assert labels["app.kubernetes.io/managed-by"] != "someone-else"
    head = rayjob["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["metadata"]["labels"]
    assert "kueue.x-k8s.io/queue-name" not in head
    for child in (render_configmap(corpus, PROFILE), render_network_policy(corpus, settings)):
        assert "kueue.x-k8s.io/queue-name" not in child["metadata"]["labels"]
    allowing = OperatorConfig(child_labels=["kueue.x-k8s.io/queue-name", "kueue.x-k8s.io/priority-class"])
    passed = render_rayjob(corpus, PROFILE, allowing.render_settings())["metadata"]["labels"]
    assert passed["kueue.x-k8s.io/priority-class"] == "preempt-everyone"


@ASYNC
async def test_admission_refuses_before_anything_is_created(cluster: Cluster, kube: Kube) -> None:
    await cluster.apply(PROFILE_DOC)
    document = copy.deepcopy(EXAMPLE)
    document["metadata"] |= {"namespace": NAMESPACE, "uid": "u-1"}
    document["spec"]["output"]["uri"] = "s3://results/other-team/run/"
    del document["spec"]["credentials"]
    before = len(cluster.requests())
    with pytest.raises(LaunchError) as refused:
        await admit(kube, read_corpus(document), PLATFORM)
    assert refused.value.reason == "Forbidden"
    created = [r for r in cluster.requests()[before:] if r[2] in ("create", "patch")]
    assert created == []


def test_a_qualified_service_account_is_allowed_in_its_namespace_only() -> None:
    """A bare name would match in every watched namespace, whoever made the account there."""
    config = OperatorConfig(allowed_service_accounts=[f"{NAMESPACE}/batch-runner", "shared-ns/*"])
    corpus = _corpus(serviceAccountName="batch-runner")
    check_identity(corpus, NAMESPACE, config)
    check_identity(corpus, "shared-ns", config)
    with pytest.raises(LaunchError) as refused:
        check_identity(corpus, "other-team", config)
    assert refused.value.reason == "Forbidden"
    check_identity(corpus, "other-team", OperatorConfig(allowed_service_accounts=["batch-runner"]))


@ASYNC
async def test_the_corpus_s_own_labels_reach_no_child_that_is_created(cluster: Cluster, kube: Kube) -> None:
    """Owner references are added to the children without kopf's label copying, which would hand every
    Corpus label (a Kueue priority class among them) to the RayJob past the platform's allow-list."""
    await cluster.apply(PROFILE_DOC)
    document = copy.deepcopy(EXAMPLE)
    document["metadata"] |= {
        "namespace": NAMESPACE,
        "uid": "u-labels",
        "labels": {
            "kueue.x-k8s.io/priority-class": "preempt-everyone",
            "kueue.x-k8s.io/queue-name": "research",
        },
    }
    document["spec"]["output"]["uri"] = f"s3://results/{NAMESPACE}/run/"
    del document["spec"]["credentials"]
    launched = await launch(kube, read_corpus(document), OperatorConfig())
    rayjob = await cluster.get("RayJob", str(launched.rayjob))
    assert rayjob is not None
    labels = rayjob["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "research"
    assert "kueue.x-k8s.io/priority-class" not in labels
    assert rayjob["metadata"]["namespace"] == NAMESPACE
    assert [ref["uid"] for ref in rayjob["metadata"]["ownerReferences"]] == ["u-labels"]
    for kind, suffix in (("ConfigMap", "-config"), ("NetworkPolicy", "-ray")):
        child = await cluster.get(kind, f"{launched.rayjob}{suffix}")
        assert child is not None
        assert not {"kueue.x-k8s.io/priority-class", "kueue.x-k8s.io/queue-name"} & set(
            child["metadata"]["labels"]
        )
