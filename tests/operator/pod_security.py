"""The Pod Security Standards' "restricted" profile, checked offline over a pod spec.

Kubernetes' PodSecurity admission refuses pods in namespaces labelled
``pod-security.kubernetes.io/enforce: restricted`` for these reasons (the checks of the baseline and
restricted levels that a rendered pod can get wrong); each problem names the container and the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
_SECCOMP = {"RuntimeDefault", "Localhost"}


def restricted_problems(pod: dict[str, Any]) -> Iterator[str]:
    """Why the restricted profile would refuse ``pod`` (a PodSpec); nothing when it admits it."""
    pod_security = pod.get("securityContext") or {}
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            yield f"{host} is set"
    for volume in pod.get("volumes") or []:
        kind = next(k for k in volume if k != "name")
        if kind not in _VOLUMES:
            yield f"volume {volume['name']} is a {kind}"
    if pod_security.get("runAsUser") == 0:
        yield "pod runs as uid 0"
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    if not containers:
        yield "no containers"
    for container in containers:
        name, security = container["name"], container.get("securityContext") or {}
        if security.get("privileged"):
            yield f"{name}: privileged"
        if security.get("allowPrivilegeEscalation") is not False:
            yield f"{name}: allowPrivilegeEscalation is not false"
        capabilities = security.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield f"{name}: capabilities do not drop ALL"
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            yield f"{name}: adds capabilities"
        if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot")):
            yield f"{name}: runAsNonRoot is not true"
        if security.get("runAsUser") == 0:
            yield f"{name}: runs as uid 0"
        seccomp = (security.get("seccompProfile") or pod_security.get("seccompProfile") or {}).get("type")
        if seccomp not in _SECCOMP:
            yield f"{name}: seccompProfile is not RuntimeDefault or Localhost"
        if any(port.get("hostPort") for port in container.get("ports") or []):
            yield f"{name}: uses a hostPort"
