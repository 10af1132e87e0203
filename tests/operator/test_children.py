"""Children of a Corpus: created, kept when owned and unchanged, never adopted from another owner."""

from __future__ import annotations

from typing import Any

import pytest

from medbatch.operator.errors import LaunchError
from medbatch.operator.render import CONTENT_HASH
from medbatch.operator.runners import create_owned

pytestmark = pytest.mark.asyncio(loop_scope="function")

OWNER = "uid-of-the-corpus"


class FakeKube:
    """The two calls ``create_owned`` makes, over one stored object."""

    def __init__(self, existing: dict[str, Any] | None) -> None:
        self.existing = existing
        self.patches: list[dict[str, Any]] = []

    async def create_or_get(self, document: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        if self.existing is None:
            self.existing = document
            return document, True
        return self.existing, False

    async def patch_object(self, document: dict[str, Any], patch: dict[str, Any]) -> None:
        self.patches.append(patch)


def child(kind: str, digest: str, owner: str | None = OWNER) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "medbatch-x", "annotations": {CONTENT_HASH: digest}}
    if owner:
        metadata["ownerReferences"] = [{"uid": owner}]
    return {"apiVersion": "v1", "kind": kind, "metadata": metadata, "data": {"k": digest}}


async def test_created_then_kept_when_owned_and_unchanged() -> None:
    kube = FakeKube(None)
    assert await create_owned(kube, child("ConfigMap", "a"), OWNER) is True  # type: ignore[arg-type]
    assert await create_owned(kube, child("ConfigMap", "a"), OWNER) is False  # type: ignore[arg-type]
    assert kube.patches == []


async def test_an_owned_configmap_with_other_content_is_brought_up_to_date() -> None:
    kube = FakeKube(child("ConfigMap", "old"))
    assert await create_owned(kube, child("ConfigMap", "new"), OWNER) is False  # type: ignore[arg-type]
    (patch,) = kube.patches
    assert patch["data"] == {"k": "new"}
    assert patch["metadata"]["annotations"][CONTENT_HASH] == "new"


async def test_an_owned_rayjob_with_other_content_waits_for_a_person() -> None:
    kube = FakeKube(child("RayJob", "old"))
    with pytest.raises(LaunchError) as info:
        await create_owned(kube, child("RayJob", "new"), OWNER)  # type: ignore[arg-type]
    assert (info.value.reason, info.value.retry) == ("RayJobOutOfDate", True)
    assert kube.patches == []


@pytest.mark.parametrize("owner", [None, "uid-of-someone-else"])
async def test_another_owners_object_is_never_adopted(owner: str | None) -> None:
    kube = FakeKube(child("RayJob", "same", owner=owner))
    with pytest.raises(LaunchError) as info:
        await create_owned(kube, child("RayJob", "same"), OWNER)  # type: ignore[arg-type]
    assert (info.value.reason, info.value.retry) == ("RayJobNameTaken", True)
