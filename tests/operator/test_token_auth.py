"""KubeRay's token authentication, checked on the installed RayJob CRD before a RayJob is made."""

from __future__ import annotations

from typing import Any, cast

import pytest

from medbatch.operator import admission
from medbatch.operator.errors import LaunchError
from medbatch.operator.kube import Kube
from tests.operator.cluster import rayjob_crd


class _CrdSource:
    """The one call ``check_token_auth`` makes, over a CRD the test swaps."""

    def __init__(self, crd: dict[str, Any]) -> None:
        self.crd, self.reads, self.token_auth_checked_at = crd, 0, None

    async def rayjob_crd(self) -> dict[str, Any]:
        self.reads += 1
        return self.crd


@pytest.mark.asyncio(loop_scope="function")
async def test_a_rayjob_crd_found_fit_is_read_again_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    """KubeRay's CRDs may be downgraded while the operator runs: trusting the first answer for ever
    would start heads without a token from then on."""
    now = [1000.0]
    monkeypatch.setattr("medbatch.operator.admission.monotonic", lambda: now[0])
    source = _CrdSource(rayjob_crd())
    kube = cast(Kube, source)
    await admission.check_token_auth(kube)
    source.crd = rayjob_crd(auth_options=False)
    await admission.check_token_auth(kube)  # within the window: not read again
    assert source.reads == 1
    now[0] += admission.TOKEN_AUTH_RECHECK_S + 1
    with pytest.raises(LaunchError) as refused:
        await admission.check_token_auth(kube)
    assert refused.value.reason == "RayTokenAuthUnsupported"
    assert source.reads == 2
