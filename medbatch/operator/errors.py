"""Why a Corpus cannot start: the one error every admission check and runner step raises."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from medbatch.operator.kube import InvalidNameError, KubeError


class LaunchError(Exception):
    """Why a Corpus cannot start (reason in CamelCase, message for a platform engineer, no note content).

    Args:
        retry: whether it may resolve itself (a ModelProfile or Secret created later, the platform
            widening a bound); otherwise only a corrected spec helps.
    """

    def __init__(self, reason: str, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.reason, self.message, self.retry = reason, message, retry


class RbacRefusedError(LaunchError):
    """A request the operator's RBAC does not allow (HTTP 403), as opposed to a refusal of the operator's
    own (a Secret the platform has not marked, reason ``Forbidden`` too)."""


def kube_problem(exc: KubeError) -> LaunchError:
    """What a failed Kubernetes call means for the Corpus (the message holds no text from the server)."""
    if isinstance(exc, InvalidNameError):
        return LaunchError("InvalidName", f"{exc}; nothing was read or sent", retry=False)
    if exc.code == 403:
        return RbacRefusedError(
            "Forbidden",
            f"{exc.action} was forbidden (HTTP 403): the operator's RBAC lacks a permission (see the chart's "
            "ClusterRole); retrying",
            retry=True,
        )
    if exc.code in (400, 422):
        # Validation or an admission webhook (KubeRay's, a policy engine's) refused it: retrying cannot help.
        # The server's own message is not repeated: it may quote the object.
        return LaunchError(
            "Rejected",
            f"{exc}; `medbatch render` prints the objects, and `kubectl create --dry-run=server -f -` "
            "shows the API server's reason",
            retry=False,
        )
    return LaunchError("KubernetesUnavailable", f"{exc}; retrying", retry=True)


@contextlib.contextmanager
def as_launch_errors(opt_in: str | None = None) -> Iterator[None]:
    """Raise a failed Kubernetes call inside as the LaunchError it means for the Corpus.

    Args:
        opt_in: where the operator may act only in namespaces that opted in, the command that opts the
            Corpus's namespace in: a refusal there says it has not (reason ``NamespaceNotOptedIn``).
    """
    try:
        try:
            yield
        except KubeError as exc:
            raise kube_problem(exc) from None
    except RbacRefusedError:
        if opt_in is None:
            raise
        raise LaunchError(
            "NamespaceNotOptedIn",
            f"the operator may not act in this namespace until its admin opts it in: `{opt_in}`; retrying",
            retry=True,
        ) from None
