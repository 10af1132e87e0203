"""The Pod Security Standards' "restricted" profile, checked offline over a pod spec.

Kubernetes' PodSecurity admission refuses pods in namespaces labelled
``pod-security.kubernetes.io/enforce: restricted`` for these reasons: every control of the baseline and
restricted levels as of Kubernetes 1.35 (host namespaces, privileged, capabilities, HostPath and other
volume types, host ports, AppArmor, SELinux, /proc mount, seccomp, sysctls, Windows HostProcess, privilege
escalation, running as non-root); each problem names the container and the field.
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
_APPARMOR = {"RuntimeDefault", "Localhost"}
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
# The sysctls the baseline level allows (the "safe" set, as of 1.29).
_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def _context_problems(where: str, security: dict[str, Any]) -> Iterator[str]:
    """Controls that a pod's and each container's securityContext share."""
    apparmor = (security.get("appArmorProfile") or {}).get("type")
    if apparmor is not None and apparmor not in _APPARMOR:
        yield f"{where}: appArmorProfile is {apparmor}"
    selinux = security.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in _SELINUX_TYPES:
        yield f"{where}: seLinuxOptions.type is {selinux['type']}"
    for field in ("user", "role"):
        if selinux.get(field):
            yield f"{where}: seLinuxOptions.{field} is set"
    if (security.get("windowsOptions") or {}).get("hostProcess"):
        yield f"{where}: windowsOptions.hostProcess is set"


def restricted_problems(pod: dict[str, Any], annotations: dict[str, str] | None = None) -> Iterator[str]:
    """Why the restricted profile would refuse ``pod`` (a PodSpec, with its template's ``annotations``);
    nothing when it admits it."""
    pod_security = pod.get("securityContext") or {}
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            yield f"{host} is set"
    yield from _context_problems("pod", pod_security)
    for sysctl in pod_security.get("sysctls") or []:
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            yield f"pod: sysctl {sysctl.get('name')} is not in the safe set"
    if (pod_security.get("seccompProfile") or {}).get("type") == "Unconfined":
        yield "pod: seccompProfile is Unconfined"
    for key, value in (annotations or {}).items():
        if (
            key.startswith(_APPARMOR_ANNOTATION)
            and value != "runtime/default"
            and not value.startswith("localhost/")
        ):
            yield f"annotation {key} is {value}"
    for volume in pod.get("volumes") or []:
        kind = next(k for k in volume if k != "name")
        if kind not in _VOLUMES:
            yield f"volume {volume['name']} is a {kind}"
    if pod_security.get("runAsUser") == 0:
        yield "pod runs as uid 0"
    containers = [
        *(pod.get("initContainers") or []),
        *(pod.get("containers") or []),
        *(pod.get("ephemeralContainers") or []),
    ]
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
        yield from _context_problems(name, security)
        if security.get("procMount", "Default") != "Default":
            yield f"{name}: procMount is {security['procMount']}"
