"""Start a Corpus's job: validate, resolve its ModelProfile and Secret, then create its RayJob (adopted by
the Corpus) or submit it to an existing Ray cluster through the Jobs API.

Every step is idempotent, so kopf may run it again after a crash or a retry: children have fixed names and
an existing one is kept, and a Jobs API submission id derives from the Corpus uid.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import httpx
import kopf

from medbatch.operator.config import OperatorConfig
from medbatch.operator.jobs_api import JobsApiError, RayJobsClient, entrypoint_for, submission_id_for
from medbatch.operator.kube import Kube, KubeError
from medbatch.operator.render import child_name, render_configmap, render_rayjob
from medbatch.spec import Corpus, ModelProfile, SpecError, parse_resource


class LaunchError(Exception):
    """Why a Corpus cannot start (reason in CamelCase, message for a platform engineer, no note content).

    Args:
        retry: whether it may resolve itself (a ModelProfile or Secret created later); otherwise only a
            corrected spec helps.
    """

    def __init__(self, reason: str, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.reason, self.message, self.retry = reason, message, retry


@dataclass(frozen=True)
class Launched:
    """What runs the Corpus: a RayJob (``rayjob`` set) or a Jobs API submission (``submission_id`` set).

    ``created`` says whether this call made the RayJob (False: an earlier attempt had); None for Jobs API
    submissions, which are idempotent by id and do not say whether they were new.
    """

    created: bool | None
    rayjob: str | None = None
    submission_id: str | None = None


def parse_corpus(body: Mapping[str, Any]) -> Corpus:
    """The Corpus from its object, or a non-retryable LaunchError listing every problem."""
    meta = body.get("metadata", {})
    try:
        corpus = parse_resource(dict(body), Corpus, f"Corpus {meta.get('namespace')}/{meta.get('name')}")
    except SpecError as exc:
        raise LaunchError("InvalidSpec", "; ".join(exc.problems), retry=False) from None
    if corpus.spec.output.uri is None:
        raise LaunchError(
            "OutputRequired",
            "spec.output.uri is required in a cluster (e.g. s3://bucket/results/); the job writes there",
            retry=False,
        )
    return corpus


async def resolve_profile(kube: Kube, corpus: Corpus) -> ModelProfile:
    """The Corpus's ModelProfile (retryable problems: it may be created or fixed later)."""
    name = corpus.spec.model
    document = await kube.model_profile(name)
    if document is None:
        raise LaunchError(
            "ModelProfileNotFound",
            f"ModelProfile '{name}' does not exist (kubectl get modelprofiles lists the installed ones); "
            "the Corpus starts once it is created",
            retry=True,
        )
    try:
        return parse_resource(document, ModelProfile, f"ModelProfile {name}")
    except SpecError as exc:
        raise LaunchError("InvalidModelProfile", "; ".join(exc.problems), retry=True) from None


async def read_secret(kube: Kube, namespace: str, name: str, purpose: str) -> dict[str, str]:
    """A Secret's data, or a retryable LaunchError naming it (never its content)."""
    data = await kube.secret_data(namespace, name)
    if data is None:
        raise LaunchError(
            "SecretNotFound",
            f"Secret '{name}' ({purpose}) does not exist in namespace {namespace}; "
            "the Corpus starts once it is created",
            retry=True,
        )
    return data


async def _ray_token_secret(kube: Kube, corpus: Corpus, namespace: str) -> dict[str, str]:
    """The data of ``spec.ray.authTokenSecretRef``'s Secret ({} when none is named)."""
    ref = corpus.spec.ray.auth_token_secret_ref if corpus.spec.ray else None
    if ref is None:
        return {}
    data = await read_secret(kube, namespace, ref.name, "Ray auth token")
    if ref.key not in data:
        raise LaunchError(
            "SecretKeyNotFound", f"Secret '{ref.name}' has no key '{ref.key}' (Ray auth token)", retry=True
        )
    return data


@contextlib.asynccontextmanager
async def ray_cluster(kube: Kube, corpus: Corpus, namespace: str) -> AsyncIterator[RayJobsClient]:
    """A Jobs API client for ``spec.ray`` (token from its Secret when one is named), closed on exit."""
    assert corpus.spec.ray is not None
    ref = corpus.spec.ray.auth_token_secret_ref
    secrets = await _ray_token_secret(kube, corpus, namespace)
    client = RayJobsClient(corpus.spec.ray.address, token=secrets.get(ref.key) if ref else None)
    try:
        yield client
    finally:
        client.close()


async def launch(
    kube: Kube, body: Mapping[str, Any], config: OperatorConfig, submission_id: str | None = None
) -> Launched:
    """Start the Corpus in ``body`` (or find what an earlier attempt started).

    Args:
        submission_id: for the Jobs API runner, the id to submit under (a resumed Corpus gets a new one);
            defaults to the Corpus's first.
    """
    corpus = parse_corpus(body)
    namespace = str(body["metadata"]["namespace"])
    profile = await resolve_profile(kube, corpus)
    if corpus.spec.credentials is not None:
        await read_secret(
            kube, namespace, corpus.spec.credentials.secret_ref.name, "object-storage credentials"
        )
    if corpus.spec.ray is not None:
        return await _submit(kube, corpus, profile, body, submission_id)
    configmap = render_configmap(corpus, profile)
    rayjob = render_rayjob(corpus, profile, config.render_settings())
    kopf.adopt([configmap, rayjob], owner=kopf.Body(cast(kopf.RawBody, dict(body))))
    await kube.create_or_get(configmap)
    existing, created = await kube.create_or_get(rayjob)
    owners = [ref.get("uid") for ref in existing.get("metadata", {}).get("ownerReferences", [])]
    if body["metadata"].get("uid") not in owners:
        # A RayJob of an earlier Corpus with this name that Kubernetes has not garbage-collected yet.
        raise LaunchError(
            "RayJobNameTaken",
            f"RayJob {child_name(corpus)} exists and belongs to another object; waiting for it to be deleted",
            retry=True,
        )
    return Launched(created=created, rayjob=child_name(corpus))


async def _submit(
    kube: Kube, corpus: Corpus, profile: ModelProfile, body: Mapping[str, Any], submission_id: str | None
) -> Launched:
    namespace = str(body["metadata"]["namespace"])
    submission = submission_id or submission_id_for(str(body["metadata"]["uid"]))
    async with ray_cluster(kube, corpus, namespace) as client:
        try:
            info = await asyncio.to_thread(
                client.submit,
                submission,
                entrypoint_for(corpus, profile),
                metadata={"medbatch.io/corpus": f"{namespace}/{corpus.metadata.name}"},
            )
        except (JobsApiError, httpx.HTTPError) as exc:
            raise LaunchError("RayClusterUnavailable", str(exc), retry=True) from None
    return Launched(created=None, submission_id=info.submission_id)


__all__ = ["KubeError", "LaunchError", "Launched", "launch", "parse_corpus"]
