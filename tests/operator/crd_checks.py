"""What a real API server enforces on a CRD, checked offline: structural schemas, validation, CEL rules."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.operator.cel_schema import CrdCel

# JSON Schema keywords a structural schema may not use (apiextensions.k8s.io/v1 JSONSchemaProps lacks them
# or forbids them).
_UNSUPPORTED = ("propertyNames", "$schema", "additionalItems", "dependencies", "patternProperties", "const")


def structural_problems(node: dict[str, Any], path: str = "") -> Iterator[str]:
    """Violations of Kubernetes' structural-schema rules (the ones a generator can get wrong)."""
    for banned in ("$ref", "anyOf", "oneOf", "allOf", "not", "definitions", "$defs"):
        if banned in node:
            yield f"{path or '/'}: {banned} is not allowed at the top of a structural node"
    for unsupported in _UNSUPPORTED:
        if unsupported in node:
            yield f"{path or '/'}: {unsupported} is not supported by Kubernetes"
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if "type" not in node and not preserve and not node.get("x-kubernetes-int-or-string"):
        yield f"{path or '/'}: no type"
    if "properties" in node and "additionalProperties" in node:
        yield f"{path or '/'}: properties and additionalProperties together"
    if node.get("type") == "array" and "items" not in node:
        yield f"{path or '/'}: array without items"
    if "default" in node and node["default"] is None and not node.get("nullable"):
        yield f"{path or '/'}: null default"
    for name, child in node.get("properties", {}).items():
        yield from structural_problems(child, f"{path}/{name}")
    if isinstance(node.get("items"), dict):
        yield from structural_problems(node["items"], f"{path}/items")
    if isinstance(node.get("additionalProperties"), dict):
        yield from structural_problems(node["additionalProperties"], f"{path}/additionalProperties")


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    """The openAPIV3Schema of a CRD's single version."""
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def schema_errors(crd: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """Schema violations of ``document`` (OpenAPI v3.0 = JSON Schema draft 4 semantics)."""
    validator = jsonschema.Draft4Validator(schema_of(crd))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def unbounded(node: dict[str, Any], path: str = "") -> Iterator[str]:
    """Strings without maxLength, lists without maxItems, maps without maxProperties: the API server's CEL
    cost estimate assumes the worst for them (preserve-unknown-fields subtrees are out of CEL's reach)."""
    kind = node.get("type")
    if kind == "string" and "maxLength" not in node:
        yield f"{path or '/'}: string without maxLength"
    if kind == "array" and "maxItems" not in node:
        yield f"{path or '/'}: list without maxItems"
    if isinstance(node.get("additionalProperties"), dict) and "maxProperties" not in node:
        yield f"{path or '/'}: map without maxProperties"
    for name, child in node.get("properties", {}).items():
        yield from unbounded(child, f"{path}/{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from unbounded(node[key], f"{path}/{key}")


def cel_type_errors(crd: dict[str, Any]) -> list[str]:
    """Rules of the CRD that the API server would refuse to compile against its declared schema."""
    return CrdCel(schema_of(crd)).type_errors()


def cel_failures(
    crd: dict[str, Any], document: dict[str, Any], old: dict[str, Any] | None = None
) -> list[str]:
    """Messages of the CEL rules, at any depth, that reject ``document`` (transition rules need ``old``)."""
    return CrdCel(schema_of(crd)).failures(document, old)


def pruned(node: Any, schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Fields of ``node`` that a structural schema does not declare (the API server would drop them)."""
    if schema.get("x-kubernetes-preserve-unknown-fields") or not isinstance(node, dict | list):
        return
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from pruned(item, schema.get("items", {}), f"{path}[{i}]")
        return
    properties = schema.get("properties")
    if properties is None:
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, value in node.items():
                yield from pruned(value, extra, f"{path}.{key}")
        return
    for key, value in node.items():
        if key not in properties:
            yield f"{path}.{key}"
        elif not (path == "" and key == "metadata"):
            yield from pruned(value, properties[key], f"{path}.{key}")


@cache
def crd_schema(path: Path, version: str = "v1") -> dict[str, Any]:
    """The openAPIV3Schema of one version of a CRD file, parsed once per test session (KubeRay's CRDs
    are megabytes of YAML: libyaml's loader, when PyYAML has it)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load(path.read_text(), Loader=loader)
    (found,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema: dict[str, Any] = found["schema"]["openAPIV3Schema"]
    return schema


def refused_or_pruned(node: Any, schema: dict[str, Any]) -> list[str]:
    """What the API server's validation of ``node`` against ``schema`` would refuse, and what it would
    prune: empty when the object goes through whole."""
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft4Validator(schema).iter_errors(node)
    ]
    return errors + [f"pruned: {p}" for p in pruned(node, schema)]
