"""Operator-wide settings, read from the environment (the Helm chart sets them on the Deployment)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from medbatch.operator.render import HTTPS_EGRESS, KUBERAY_OPERATOR_PEER, KUEUE_QUEUE_LABEL, RenderSettings
from medbatch.operator.run_files import ReadPolicy


class OperatorConfig(BaseSettings):
    """``MEDBATCH_*`` environment variables of the operator.

    Args:
        job_image: default job image (a ModelProfile's ``image`` wins).
        ray_version: the Ray version inside the job image.
        poll_interval_s: how often a running Corpus's RayJob and progress file are read.
        retry_delay_s: how soon a Corpus waiting for its ModelProfile or Secret looks again.
        metrics_port: Prometheus metrics port (0 turns the endpoint off).
        head_cpu, head_memory: requests of the Ray head pod (it runs the driver, not the engines).
        priority_class_name, image_pull_secrets: defaults for the Ray pods (a ModelProfile may override).
        network_policy: render a NetworkPolicy per Corpus that admits only its own pods and
            ``dashboard_peers`` (NetworkPolicy peers allowed to reach the head's dashboard port), and lets
            its pods reach only each other, DNS and ``egress`` (NetworkPolicy egress rules).
        delete_timeout_s: how long deleting (or suspending) a Jobs API Corpus waits for its Ray job to stop.
        peering_name: the KopfPeering object replicas of one release share.
        tenant_cluster_role, service_account: with the chart's ``namespaceOptIn``, the ClusterRole a
            namespace's admin binds to opt the namespace in, and the operator's ServiceAccount
            (``namespace:name``) to bind it to; a refusal in a namespace then says how to opt it in.
        active_deadline_seconds, backoff_limit, ttl_seconds_after_finished: RayJob lifecycle bounds.
        allowed_ray_clusters: the RayClusters a Corpus may run on through ``spec.ray``, as
            ``namespace/name`` (or ``namespace/*``), set by the platform in the chart's values; empty
            allows none. A label alone is not enough: whoever creates a RayCluster sets its labels.
        ray_cluster_selector: labels (``key=value`` or ``key``, comma-separated) an allowed RayCluster must
            carry as well; empty adds no condition.
        ray_head_url: how the Jobs API of a RayCluster's head is reached (``{scheme}``, ``{service}``,
            ``{namespace}``, ``{port}``); change it for a cluster domain other than the default.
            ``{scheme}`` is ``https`` where the head Service's dashboard port declares
            ``appProtocol: https`` (a TLS proxy or mesh in front of the dashboard), else ``http``.
        require_ray_head_https: refuse a RayCluster whose Jobs API would be reached over plain HTTP (the
            Ray token would travel in the clear).
        ray_head_ca_file: the CA bundle that signs Ray heads' certificates (the chart mounts it from a
            ConfigMap); default: the system's.
        allowed_service_accounts: ServiceAccounts a Corpus may run its Ray pods as
            (``spec.serviceAccountName``): ``namespace/name`` or ``namespace/*`` for one namespace, a bare
            name for every watched namespace; empty allows none (the pods run with no token).
        credentials_secret_label: a label a Secret must carry with the value ``true`` before a Corpus may
            inject it (``spec.credentials``) and the operator reads it; empty allows every Secret.
        allowed_endpoints: S3 endpoints (origins, ``https://minio.storage.svc:9000``) a credentials Secret
            may name for the operator's progress reads; empty allows only the default AWS endpoints.
        read_local_output: allow local source and output paths and read progress from them (development
            against a local Ray cluster only: in a cluster it would let a Corpus make the operator read its
            own filesystem).
        allowed_locations: patterns (``fnmatch``; ``{namespace}`` is the Corpus's namespace) that a
            Corpus's source and output URIs, as prefixes ending in ``/``, must match, e.g.
            ``s3://phi-results/{namespace}/*``; empty allows any object-storage URI.
        max_replicas, max_gpus: the most engine replicas, and GPUs (replicas x the profile's GPUs per
            replica), one Corpus may ask for; None sets no cap (a ResourceQuota still bounds a namespace).
        child_labels: label keys a Corpus's labels may pass to its RayJob (Kueue's queue name by
            default; add Kueue's priority-class label only where authors may pick priorities).
    """

    model_config = SettingsConfigDict(env_prefix="MEDBATCH_", extra="ignore")

    job_image: str = RenderSettings.image
    ray_version: str = RenderSettings.ray_version
    poll_interval_s: float = Field(default=15.0, gt=0)
    retry_delay_s: float = Field(default=60.0, gt=0)
    metrics_port: int = Field(default=9090, ge=0, le=65535)
    active_deadline_seconds: int = RenderSettings.active_deadline_seconds
    backoff_limit: int = RenderSettings.backoff_limit
    ttl_seconds_after_finished: int = RenderSettings.ttl_seconds_after_finished
    head_cpu: str = RenderSettings.head_cpu
    head_memory: str = RenderSettings.head_memory
    priority_class_name: str | None = None
    image_pull_secrets: list[str] = Field(default_factory=list)
    network_policy: bool = True
    dashboard_peers: list[dict[str, Any]] = Field(default_factory=lambda: [KUBERAY_OPERATOR_PEER])
    egress: list[dict[str, Any]] = Field(default_factory=lambda: [HTTPS_EGRESS])
    delete_timeout_s: float = Field(default=30.0, gt=0)
    peering_name: str = "medbatch"
    tenant_cluster_role: str | None = None
    service_account: str | None = None
    allowed_ray_clusters: list[str] = Field(default_factory=list)
    ray_cluster_selector: str = "medbatch.io/allow-corpora=true"
    ray_head_url: str = "{scheme}://{service}.{namespace}.svc:{port}"
    require_ray_head_https: bool = False
    ray_head_ca_file: str | None = None
    allowed_service_accounts: list[str] = Field(default_factory=list)
    credentials_secret_label: str = "medbatch.io/credentials"  # noqa: S105 (a label key, not a secret)
    allowed_endpoints: list[str] = Field(default_factory=list)
    read_local_output: bool = False
    allowed_locations: list[str] = Field(default_factory=list)
    max_replicas: int | None = Field(default=None, ge=1)
    max_gpus: int | None = Field(default=None, ge=0)
    child_labels: list[str] = Field(default_factory=lambda: [KUEUE_QUEUE_LABEL])

    def opt_in_command(self, namespace: str) -> str | None:
        """How a namespace's admin opts ``namespace`` in (None unless namespaces opt in)."""
        if not self.tenant_cluster_role:
            return None
        account = self.service_account or "<operator namespace>:<operator ServiceAccount>"
        return (
            f"kubectl -n {namespace} create rolebinding medbatch --clusterrole={self.tenant_cluster_role} "
            f"--serviceaccount={account}"
        )

    def read_policy(self) -> ReadPolicy:
        """What the operator may read when it follows a job's progress."""
        return ReadPolicy(allowed_endpoints=tuple(self.allowed_endpoints), local=self.read_local_output)

    def lists_ray_cluster(self, namespace: str, name: str) -> bool:
        """Whether ``rayClusters.allowed`` lists the RayCluster ``namespace/name`` (its labels aside)."""
        return (
            f"{namespace}/{name}" in self.allowed_ray_clusters
            or f"{namespace}/*" in self.allowed_ray_clusters
        )

    def allows_ray_cluster(self, namespace: str, name: str, labels: Mapping[str, str]) -> bool:
        """Whether the RayCluster ``namespace/name`` is allowed and its ``labels`` match the selector."""
        if not self.lists_ray_cluster(namespace, name):
            return False
        for term in filter(None, (t.strip() for t in self.ray_cluster_selector.split(","))):
            key, equals, value = term.partition("=")
            if key.strip() not in labels or (equals and labels[key.strip()] != value.strip()):
                return False
        return True

    def render_settings(self) -> RenderSettings:
        """The rendering defaults these settings imply."""
        return RenderSettings(
            image=self.job_image,
            ray_version=self.ray_version,
            active_deadline_seconds=self.active_deadline_seconds,
            backoff_limit=self.backoff_limit,
            ttl_seconds_after_finished=self.ttl_seconds_after_finished,
            head_cpu=self.head_cpu,
            head_memory=self.head_memory,
            priority_class_name=self.priority_class_name,
            image_pull_secrets=tuple(self.image_pull_secrets),
            dashboard_peers=tuple(self.dashboard_peers),
            egress=tuple(self.egress),
            child_labels=tuple(self.child_labels),
        )
