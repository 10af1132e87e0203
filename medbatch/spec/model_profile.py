"""The ``ModelProfile`` custom resource (cluster-scoped): how to run one model on GPUs.

Platform teams define profiles once; a Corpus names one in ``spec.model``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from medbatch.spec.base import SpecModel
from medbatch.spec.bounds import (
    AnnotationValue,
    Image,
    LabelValue,
    ObjectName,
    ResourceName,
    Text,
    Uri,
    cel,
)
from medbatch.spec.corpus import ObjectMeta, resource_document


class EngineKind(StrEnum):
    """Which engine runs the profile's model."""

    VLLM = "vllm"
    OPENAI = "openai"
    BASELINE = "baseline"


class ModelSource(SpecModel):
    """Where the weights come from. Exactly one of the fields is set."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel(
            (
                "(has(self.hub) ? 1 : 0) + (has(self.uri) ? 1 : 0) + (has(self.pvc) ? 1 : 0) == 1",
                "set exactly one of hub, uri, pvc",
            )
        )
    }

    hub: Text | None = Field(default=None, description="A model hub id, e.g. aaditya/Llama3-OpenBioLLM-70B.")
    uri: Uri | None = Field(
        default=None, min_length=1, description="An s3:// prefix or a local path holding the weights."
    )
    pvc: ObjectName | None = Field(default=None, description="A PersistentVolumeClaim holding the weights.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelSource:
        given = [name for name in ("hub", "uri", "pvc") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(f"set exactly one of hub, uri, pvc (got {', '.join(given) or 'none'})")
        return self


class GpuSpec(SpecModel):
    """GPUs per replica."""

    resource: ResourceName = Field(default="nvidia.com/gpu", description="Extended resource name of the GPU.")
    count: int = Field(default=1, ge=0, le=64, description="GPUs per replica (0 for a CPU profile).")


class SamplingSpec(SpecModel):
    """Default sampling; tasks need deterministic output, hence temperature 0."""

    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 makes outputs reproducible.")
    max_tokens: int = Field(default=1024, ge=1, le=65536, description="Upper bound on generated tokens.")


_NEEDS_SOURCE = "engine vllm needs source (hub, uri or pvc)"
_NEEDS_ENDPOINT = "engine openai needs endpoint (the server's base URL, e.g. http://vllm:8000/v1)"
_NOT_VLLM = "(has(self.engine) && self.engine != 'vllm')"
_GPUS = "(has(self.gpu) && has(self.gpu.count) ? self.gpu.count : 1)"
_TP = "(has(self.tensorParallelSize) ? self.tensorParallelSize : 1)"


class ModelProfileSpec(SpecModel):
    """How to run one model."""

    model_config = SpecModel.model_config | {
        "json_schema_extra": cel(
            (f"{_NOT_VLLM} || has(self.source)", _NEEDS_SOURCE, ".source"),
            (
                # a size under 1 is refused by its own minimum; the guard keeps this rule from dividing by it
                f"{_NOT_VLLM} || {_TP} < 1 || {_GPUS} % {_TP} == 0",
                "gpu.count must be a multiple of tensorParallelSize",
                ".tensorParallelSize",
            ),
            (
                "!has(self.engine) || self.engine != 'openai' || has(self.endpoint)",
                _NEEDS_ENDPOINT,
                ".endpoint",
            ),
        )
    }

    engine: EngineKind = Field(default=EngineKind.VLLM, description="vllm, openai or baseline.")
    source: ModelSource | None = Field(default=None, description="Model weights (vllm engine).")
    served_model_name: Text | None = Field(default=None, description="Name recorded in output provenance.")
    endpoint: Uri | None = Field(
        default=None, min_length=1, description="Base URL of an OpenAI-compatible server (openai)."
    )
    tensor_parallel_size: int = Field(default=1, ge=1, le=64, description="GPUs one engine spans.")
    quantization: Text | None = Field(
        default=None, description="e.g. fp8, awq; unset for the checkpoint's dtype."
    )
    max_model_len: int = Field(
        default=8192, ge=256, le=10_000_000, description="Context length (prompt + output tokens)."
    )
    gpu: GpuSpec = Field(default_factory=GpuSpec, description="GPUs per replica.")
    node_selector: dict[str, LabelValue] = Field(
        default_factory=dict, max_length=64, description="Node selector for GPU workers."
    )
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list, max_length=64, description="Tolerations for GPU workers."
    )
    affinity: dict[str, Any] = Field(
        default_factory=dict,
        max_length=3,
        description="Pod affinity of the Ray pods (Kubernetes `affinity`: nodeAffinity, podAffinity, "
        "podAntiAffinity).",
    )
    priority_class_name: ObjectName | None = Field(
        default=None,
        description="PriorityClass of the Ray pods; the chart's `jobs.priorityClassName` when unset.",
    )
    pod_annotations: dict[str, AnnotationValue] = Field(
        default_factory=dict,
        max_length=64,
        description="Annotations on the Ray pods (e.g. for a service mesh or a cost allocator).",
    )
    image_pull_secrets: list[ObjectName] = Field(
        default_factory=list,
        max_length=16,
        description="Secrets for pulling `image` from a private registry; added to the chart's "
        "`jobs.imagePullSecrets`.",
    )
    image: Image | None = Field(default=None, description="Job image; the chart's default when unset.")
    engine_args: dict[str, Any] = Field(
        default_factory=dict,
        max_length=256,
        description="Passed through to the engine unchanged (e.g. vLLM engine args).",
    )
    sampling: SamplingSpec = Field(default_factory=SamplingSpec, description="Default sampling parameters.")
    price_per_gpu_hour: float | None = Field(
        default=None,
        ge=0,
        le=10000,
        description="What one GPU-hour costs (in any currency): the Corpus status and the manifest then "
        "show the cost of a run as its GPU-hours x this price.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ModelProfileSpec:
        if self.engine is EngineKind.VLLM:
            if self.source is None:
                raise ValueError(_NEEDS_SOURCE)
            if self.gpu.count and self.gpu.count % self.tensor_parallel_size:
                raise ValueError(
                    f"gpu.count ({self.gpu.count}) must be a multiple of tensorParallelSize "
                    f"({self.tensor_parallel_size})"
                )
        if self.engine is EngineKind.OPENAI and not self.endpoint:
            raise ValueError(_NEEDS_ENDPOINT)
        return self


class ModelProfile(SpecModel):
    """A ``ModelProfile`` custom resource as found in YAML."""

    def document(self) -> dict[str, Any]:
        """The resource as a plain document: apiVersion, kind, name and spec."""
        return resource_document(self.api_version, self.kind, self.metadata, self.spec)

    model_config = SpecModel.model_config | {"extra": "allow"}

    api_version: Literal["medbatch.io/v1alpha1"] = Field(description="medbatch.io/v1alpha1")
    kind: Literal["ModelProfile"] = Field(description="ModelProfile")
    metadata: ObjectMeta
    spec: ModelProfileSpec
