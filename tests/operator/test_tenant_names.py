"""Names are names: what a Corpus's author writes can never take the operator outside its namespace.

Played as an attacker who may create Corpora in one namespace: a reference that climbs out of its URL
segment (``../../other-team/secrets/s3-creds``) is refused by the spec models (and by the CRD: the admission
parity rows), and again by the client before any URL is built, whatever code path brought it there. A
Secret is judged by its labels and owners before any of its data is decoded, and no text of a Secret or of
a server's answer reaches a LaunchError (which becomes an Event and the status).
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
import yaml

from medbatch.operator.admission import read_secret
from medbatch.operator.config import OperatorConfig
from medbatch.operator.errors import LaunchError, as_launch_errors
from medbatch.operator.kube import InvalidNameError, Kube, KubeError, SecretView
from medbatch.operator.ray_clusters import ray_target
from medbatch.operator.resource import read_corpus
from medbatch.operator.runners import launch
from medbatch.spec import Corpus, SpecError, parse_resource
from tests.operator.cluster import (
    NAMESPACE,
    ROOT,
    Cluster,
    eventually,
    example_on_shared_cluster,
    ray_cluster_with_head,
    running_operator,
)

ASYNC = pytest.mark.asyncio(loop_scope="function")

LABEL = "medbatch.io/credentials"
VICTIM = "other-team"
VICTIM_VALUE = "victim-key-do-not-leak"
# Names an author might write to reach another namespace's objects or another resource's URL.
NOT_NAMES = [
    "../../other-team/secrets/s3-creds",
    "s3-creds/../../../api/v1/namespaces/other-team/secrets/s3-creds",
    "other-team/s3-creds",
    "..",
    ".",
    "%2e%2e%2fother-team",
    "s3-creds?watch=true",
    "s3-creds#fragment",
    "S3-Creds",
    "s3 creds",
    "s3-creds\x00",
    "",
    "a" * 254,
]


def _secret(name: str, namespace: str, data: dict[str, bytes], labelled: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {LABEL: "true"} if labelled else {}},
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


def _secret_requests(cluster: Cluster) -> list[tuple[str, str, str]]:
    return [request for request in cluster.requests() if request[1] == "secrets"]


@ASYNC
@pytest.mark.parametrize("name", NOT_NAMES)
async def test_the_client_sends_nothing_for_a_name_that_is_not_a_name(
    cluster: Cluster, kube: Kube, name: str
) -> None:
    before = len(cluster.requests())
    for read in (
        lambda: kube.secret(NAMESPACE, name),
        lambda: kube.service(NAMESPACE, name),
        lambda: kube.ray_cluster(NAMESPACE, name),
        lambda: kube.rayjob(NAMESPACE, name),
        lambda: kube.model_profile(name),
        lambda: kube.secret(name, "s3-creds"),  # the namespace too
    ):
        with pytest.raises(InvalidNameError) as refused:
            await read()
        assert name not in str(refused.value) or not name
    with pytest.raises(InvalidNameError):
        await kube.create_or_get(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NAMESPACE}}
        )
    assert cluster.requests()[before:] == []


@ASYNC
async def test_the_client_still_reads_a_real_name(cluster: Cluster, kube: Kube) -> None:
    """The check refuses what is not a name, not what is: a dotted subdomain is a valid Secret name."""
    await cluster.apply(_secret("s3.creds-1", NAMESPACE, {"K": b"v"}))
    found = await kube.secret(NAMESPACE, "s3.creds-1")
    assert found is not None
    assert found.text("K") == "v"


@pytest.mark.parametrize("name", [n for n in NOT_NAMES if n])
def test_the_spec_refuses_every_reference_that_is_not_a_name(name: str) -> None:
    document = yaml.safe_load((ROOT / "manifests/examples/cardiology-s3.yaml").read_text())
    for path in (
        ("credentials", "secretRef", "name"),
        ("serviceAccountName",),
        ("model",),
        ("ray", "clusterName"),
    ):
        changed = copy.deepcopy(document)
        node = changed["spec"]
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = name
        with pytest.raises(SpecError) as refused:
            parse_resource(changed, Corpus, "Corpus")
        problems = " ".join(refused.value.problems)
        assert ".".join(path[-1:]) in problems
        assert VICTIM not in problems  # the message explains the rule, it does not echo the value


@ASYNC
@pytest.mark.parametrize("labelled", [False, True], ids=["unlabelled", "labelled"])
async def test_a_binary_secret_is_judged_by_its_labels_and_never_quoted(
    cluster: Cluster, kube: Kube, labelled: bool
) -> None:
    """An unlabelled Secret is refused before its data is decoded; a labelled one that is not text names
    the key, never a byte of the value nor the decoder's position."""
    await cluster.apply(_secret("binary", NAMESPACE, {"AWS_SECRET_ACCESS_KEY": b"\x89\xffkey\x00"}, labelled))
    with pytest.raises(LaunchError) as refused:
        await read_secret(kube, NAMESPACE, "binary", "object-storage credentials", marked_by=LABEL)
    message = refused.value.message
    assert refused.value.reason == ("InvalidSecret" if labelled else "Forbidden")
    for leak in ("Decode", "position", "0x89", "\\x89", "key\x00", "codec"):
        assert leak not in message
    if labelled:
        assert "AWS_SECRET_ACCESS_KEY" in message


def test_a_secret_view_decodes_nothing_until_asked() -> None:
    view = SecretView(labels={}, owners=frozenset(), encoded={"K": "not base64!"})
    assert "not base64" not in repr(view)
    with pytest.raises(ValueError, match="key 'K' is not text") as refused:
        view.text("K")
    assert "base64!" not in str(refused.value)


@ASYNC
async def test_a_ray_cluster_cannot_name_a_token_secret_outside_its_namespace(
    cluster: Cluster, kube: Kube
) -> None:
    """``authOptions.secretName`` is written by whoever may edit the RayCluster, not by the platform."""
    await cluster.apply(_secret("ray-token", VICTIM, {"auth_token": VICTIM_VALUE.encode()}))
    await ray_cluster_with_head(
        cluster, spec={"authOptions": {"mode": "token", "secretName": f"../../{VICTIM}/secrets/ray-token"}}
    )
    corpus = parse_resource(example_on_shared_cluster(), Corpus, "Corpus")
    config = OperatorConfig(allowed_ray_clusters=[f"{NAMESPACE}/shared"], ray_cluster_selector="")
    with pytest.raises(LaunchError) as refused:
        await ray_target(kube, corpus, NAMESPACE, config)
    assert refused.value.reason == "RayTokenSecretInvalid"
    assert VICTIM not in refused.value.message
    assert _secret_requests(cluster) == []


@ASYNC
async def test_an_api_server_s_text_never_reaches_the_corpus(cluster: Cluster, kube: Kube) -> None:
    """A refusal's message is the server's (a webhook's, quoting the object): only its status is said."""
    profile = yaml.safe_load((ROOT / "manifests/profiles/openbiollm-70b.yaml").read_text())
    await cluster.apply(profile)
    document = yaml.safe_load((ROOT / "manifests/examples/cardiology-s3.yaml").read_text())
    document["metadata"] |= {"namespace": NAMESPACE, "uid": "u-1"}
    await cluster.apply(_secret(document["spec"]["credentials"]["secretRef"]["name"], NAMESPACE, {"K": b"v"}))
    cluster.server.refusals["configmaps"] = (422, f"denied: spec quotes {VICTIM_VALUE}")
    with pytest.raises(LaunchError) as refused:
        await launch(kube, read_corpus(document), OperatorConfig())
    assert refused.value.reason == "Rejected"
    assert "422" in refused.value.message
    assert VICTIM_VALUE not in refused.value.message
    assert "denied" not in refused.value.message


@ASYNC
async def test_the_operator_never_reads_another_namespace_s_secret(
    cluster: Cluster, s3_endpoint: str
) -> None:
    """End to end through kopf: the emulator, unlike a real API server, lets the Corpus in (it validates
    no schema), so the operator's own checks are all that stands between the author and the victim's
    keys. The Corpus fails with InvalidSpec; the victim's Secret is never asked for; nothing of it or of
    the name the author wrote is in an Event."""
    await cluster.apply(yaml.safe_load((ROOT / "manifests/profiles/openbiollm-70b.yaml").read_text()))
    await cluster.apply(_secret("s3-creds", VICTIM, {"AWS_SECRET_ACCESS_KEY": VICTIM_VALUE.encode()}))
    document = yaml.safe_load((ROOT / "manifests/examples/cardiology-s3.yaml").read_text())
    document["metadata"] = {"name": "climb", "namespace": NAMESPACE}
    document["spec"]["credentials"] = {"secretRef": {"name": f"../../{VICTIM}/secrets/s3-creds"}}
    async with running_operator():
        await cluster.apply(document)

        async def refused() -> dict[str, Any] | None:
            found = await cluster.get("Corpus", "climb")
            status = (found or {}).get("status") or {}
            return found if status.get("reason") == "InvalidSpec" else None

        status = (await eventually(refused, "Corpus climb refused"))["status"]
        events = await cluster.events("climb")
    assert "secretRef.name" in status["message"]
    assert events
    shown = json.dumps([status, events])
    assert VICTIM not in shown
    assert VICTIM_VALUE not in shown
    assert _secret_requests(cluster) == []
    assert await cluster.list_all("RayJob") == []


def test_only_the_operator_s_rbac_refusals_read_as_a_namespace_not_opted_in() -> None:
    """A refusal of the operator's own (reason Forbidden too: an unmarked Secret, an identity the platform
    did not list) keeps its reason and message where namespaces opt in; a 403 from the API server,
    however deep it was raised, says how to opt in."""
    command = "kubectl -n team-a create rolebinding ..."
    with pytest.raises(LaunchError) as rbac, as_launch_errors(command), as_launch_errors():
        raise KubeError("creating ConfigMap medbatch-x-config", 403)
    assert (rbac.value.reason, command in rbac.value.message) == ("NamespaceNotOptedIn", True)
    own = LaunchError("Forbidden", "Secret 's3-creds' is not marked for Corpora", retry=True)
    with pytest.raises(LaunchError) as kept, as_launch_errors(command):
        raise own
    assert kept.value is own
    with pytest.raises(LaunchError) as plain, as_launch_errors():
        raise KubeError("creating ConfigMap medbatch-x-config", 403)
    assert plain.value.reason == "Forbidden", "without opt-in, a 403 is the chart's RBAC"
