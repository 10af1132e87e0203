"""Generate the Corpus and ModelProfile CustomResourceDefinitions from the spec models.

The pydantic models are the single source of truth; ``manifests/crds/`` holds this module's output and a
test fails when it drifts. pydantic's JSON Schema is turned into a Kubernetes *structural* schema: refs
inlined, optional fields without ``null`` types, maps with ``additionalProperties`` only where they have no
``properties``, free-form objects marked ``x-kubernetes-preserve-unknown-fields``. What a schema cannot say
is written as CEL rules (``x-kubernetes-validations``).

    python -m devtools.crds manifests/crds
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from medbatch.spec import API_GROUP, API_VERSION, CorpusSpec, ModelProfileSpec
from medbatch.spec.bounds import DNS1123_LABEL, LABEL_CHARS
from medbatch.spec.corpus_status import MUTABLE_WHILE_RUNNING, STARTED_MARKERS, CorpusStatus

_DROP = {"title", "$defs", "discriminator"}


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}
            return _resolve(merged, defs)
        return {k: _resolve(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, defs) for v in node]
    return node


def _structural(node: dict[str, Any]) -> dict[str, Any]:
    """One JSON Schema node as a structural OpenAPI v3 node."""
    node = {k: v for k, v in node.items() if k not in _DROP}
    for key in ("anyOf", "oneOf"):
        if key in node:  # Optional[X] is X (absence means unset); a real union has no structural form
            options = [o for o in node.pop(key) if o.get("type") != "null"]
            if len(options) != 1:
                raise ValueError(f"cannot express a union of {len(options)} types structurally")
            node = {**_structural(options[0]), **node}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("type") == "string" and "enum" in node:  # bounds the API server's CEL cost estimate
        node.setdefault("maxLength", max(len(str(v)) for v in node["enum"]))
    if "exclusiveMinimum" in node and not isinstance(node["exclusiveMinimum"], bool):
        node["minimum"], node["exclusiveMinimum"] = node["exclusiveMinimum"], True
    if "exclusiveMaximum" in node and not isinstance(node["exclusiveMaximum"], bool):
        node["maximum"], node["exclusiveMaximum"] = node["exclusiveMaximum"], True
    if node.get("type") == "object" or "properties" in node:
        node["type"] = "object"
        properties = node.get("properties")
        extra = node.pop("additionalProperties", None)
        if properties:
            node["properties"] = {k: _structural(v) for k, v in properties.items()}
        elif isinstance(extra, dict) and extra:
            node["additionalProperties"] = _structural(extra)
        else:  # dict[str, Any]: free-form, kept as written
            node["x-kubernetes-preserve-unknown-fields"] = True
    if node.get("type") == "array":
        node["items"] = _structural(node.get("items", {"type": "object"}))
    if "default" in node and (node["default"] is None or isinstance(node["default"], dict | list)):
        del node["default"]  # unset means absent; object defaults are applied by the models
    if node == {}:  # Any
        node = {"x-kubernetes-preserve-unknown-fields": True}
    return node


def openapi_schema(model: type[BaseModel], mode: str = "validation") -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a spec model, camelCase field names."""
    raw = model.model_json_schema(by_alias=True, mode=mode)  # type: ignore[arg-type]
    return _structural(_resolve(raw, raw.get("$defs", {})))


def status_schema() -> dict[str, Any]:
    """The Corpus status schema: every field the operator writes declared, so CEL rules can read them.

    Nothing is required: status patches merge, and an object written before a field existed stays valid.
    """

    def optional(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: optional(v) for k, v in node.items() if k != "required"}
        if isinstance(node, list):
            return [optional(v) for v in node]
        return node

    schema: dict[str, Any] = optional(openapi_schema(CorpusStatus, mode="serialization"))
    # One condition per type, merged by type (server-side apply and kubectl see them as a map).
    conditions = schema["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    conditions["items"]["required"] = ["type"]
    return schema


def _unchanged(field: str) -> str:
    return (
        f"(has(self.spec.{field}) == has(oldSelf.spec.{field})) && "
        f"(!has(self.spec.{field}) || self.spec.{field} == oldSelf.spec.{field})"
    )


def corpus_rules() -> list[dict[str, str]]:
    """CEL rules on the Corpus object that its schema cannot express."""
    spec = openapi_schema(CorpusSpec)
    frozen = [f for f in spec["properties"] if f not in MUTABLE_WHILE_RUNNING]
    not_started = " && ".join(f"!has(oldSelf.status.{m})" for m in STARTED_MARKERS)
    return [
        {
            # The job and the operator derive object names and label values from it.
            "rule": f"size(self.metadata.name) <= {LABEL_CHARS} && self.metadata.name.matches('{DNS1123_LABEL}')",
            "message": f"metadata.name must be a DNS-1123 label (at most {LABEL_CHARS} lowercase letters, digits "
            "and '-'): medbatch names the Corpus's Ray objects after it",
            # No fieldPath: the API server accepts only paths its schema declares, and metadata's fields are
            # Kubernetes' own. A root rule without one is reported at the object (the server's "<nil>").
        },
        {
            # Until the operator has started the job, the spec may be fixed (it then starts); afterwards the
            # RayJob would no longer match it.
            "rule": f"!has(oldSelf.status) || ({not_started}) || ("
            + " && ".join(_unchanged(f) for f in frozen)
            + ")",
            "message": "a Corpus that has started cannot change except spec.suspend: create a new Corpus (or delete "
            "and re-create this one) to change it",
            "fieldPath": ".spec",
        },
        {
            # The spec freeze above reads these: whoever may write the status must not be able to lift it.
            "rule": "!has(oldSelf.status) || !has(oldSelf.status.rayJob) || "
            "(has(self.status) && has(self.status.rayJob) && self.status.rayJob == oldSelf.status.rayJob)",
            "message": "status.rayJob cannot change or be removed once set: it records the started job and "
            "keeps the spec frozen",
            "fieldPath": ".status.rayJob",
        },
        {
            # A resumed Jobs API run gets a new submission id, so it may change, but never go.
            "rule": "!has(oldSelf.status) || !has(oldSelf.status.submissionId) || "
            "(has(self.status) && has(self.status.submissionId))",
            "message": "status.submissionId cannot be removed once set: it records the started job and keeps "
            "the spec frozen",
            "fieldPath": ".status.submissionId",
        },
    ]


def _root(spec: type[BaseModel], *, with_status: bool) -> dict[str, Any]:
    """The object schema around a spec: apiVersion, kind, metadata, spec and (written by the operator) status."""
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string", "maxLength": 253},
        "kind": {"type": "string", "maxLength": 63},
        "metadata": {"type": "object"},
        "spec": openapi_schema(spec),
    }
    if with_status:
        properties["status"] = status_schema()
    return {"type": "object", "required": ["spec"], "properties": properties}


def corpus_crd() -> dict[str, Any]:
    """The Corpus CRD (namespaced, status subresource, printer columns)."""
    root = _root(CorpusSpec, with_status=True)
    root["x-kubernetes-validations"] = corpus_rules()
    return _crd(
        plural="corpora",
        kind="Corpus",
        singular="corpus",
        short=["corp"],
        scope="Namespaced",
        schema=root,
        columns=[
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Reason", "type": "string", "jsonPath": ".status.reason"},
            {"name": "Progress", "type": "string", "jsonPath": ".status.progress"},
            {"name": "ETA", "type": "string", "jsonPath": ".status.eta"},
            {"name": "GPU-h", "type": "string", "jsonPath": ".status.gpuHours", "priority": 1},
            {"name": "Model", "type": "string", "jsonPath": ".spec.model"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )


def model_profile_crd() -> dict[str, Any]:
    """The ModelProfile CRD (cluster-scoped)."""
    root = _root(ModelProfileSpec, with_status=False)
    return _crd(
        plural="modelprofiles",
        kind="ModelProfile",
        singular="modelprofile",
        short=["mprof"],
        scope="Cluster",
        schema=root,
        columns=[
            {"name": "Engine", "type": "string", "jsonPath": ".spec.engine"},
            {"name": "TP", "type": "integer", "jsonPath": ".spec.tensorParallelSize"},
            {"name": "GPUs", "type": "integer", "jsonPath": ".spec.gpu.count"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    )


def _crd(
    *,
    plural: str,
    kind: str,
    singular: str,
    short: list[str],
    scope: str,
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": API_VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "additionalPrinterColumns": columns,
    }
    if "status" in schema["properties"]:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{API_GROUP}"},
        "spec": {
            "group": API_GROUP,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": singular,
                "kind": kind,
                "shortNames": short,
                "categories": ["medbatch"],
            },
            "versions": [version],
        },
    }


def render_all() -> dict[str, str]:
    """File name -> YAML of every CRD."""
    header = "# Generated by `python -m devtools.crds manifests/crds` from medbatch/spec; do not edit.\n"
    return {
        f"{crd['metadata']['name']}.yaml": header + yaml.safe_dump(crd, sort_keys=False, width=110)
        for crd in (corpus_crd(), model_profile_crd())
    }


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (out / name).write_text(text)
