"""Generate the field reference in docs/ from the spec models, so the docs cannot drift from the code.

    python -m devtools.spec_reference > docs/spec-reference.md

A test regenerates it and fails when the committed file differs.
"""

from __future__ import annotations

import types
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from medbatch.spec.bounds import DNS1123_LABEL, DNS1123_SUBDOMAIN, QUALIFIED_NAME
from medbatch.spec.corpus import CorpusSpec
from medbatch.spec.model_profile import ModelProfileSpec


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _type_name(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(annotation) if a is not type(None))
    if origin is list:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if origin is dict:
        return "map"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    if get_origin(annotation) is not None and str(get_origin(annotation)) == "typing.Literal":
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "see below"
        if isinstance(value, list) and value and isinstance(value[0], Enum):
            return "all"
        return f"`{value}`"
    if field.default is None or field.default is PydanticUndefined:
        return "unset"
    value = field.default.value if isinstance(field.default, Enum) else field.default
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


_LIMITS = (
    ("minimum", ">= {}"),
    ("maximum", "<= {}"),
    ("minLength", "min {} chars"),
    ("maxLength", "max {} chars"),
    ("minItems", "min {} items"),
    ("maxItems", "max {} items"),
    ("maxProperties", "max {} entries"),
)


# The name patterns, by the name Kubernetes' docs give them.
_PATTERNS = {
    DNS1123_SUBDOMAIN: "a DNS-1123 subdomain",
    DNS1123_LABEL: "a DNS-1123 label",
    QUALIFIED_NAME: "a qualified name",
}


def _limits(node: dict[str, Any]) -> str:
    """The bounds the API server and `medbatch validate` enforce on one field, from its JSON Schema."""
    options = [o for o in node.get("anyOf", [node]) if o.get("type") != "null"]
    merged = {**(options[0] if len(options) == 1 else {}), **node}
    found = [text.format(merged[key]) for key, text in _LIMITS if key in merged]
    if merged.get("pattern") in _PATTERNS:
        found.append(_PATTERNS[merged["pattern"]])
    for key in ("items", "additionalProperties"):
        inner = merged.get(key)
        if isinstance(inner, dict) and "maxLength" in inner:
            found.append(f"each max {inner['maxLength']} chars")
    return ", ".join(found)


def _nested(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested(arg)
        if found is not None:
            return found
    return None


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    properties = model.model_json_schema(by_alias=True).get("properties", {})
    for name, field in model.model_fields.items():
        alias = field.alias or name
        path = f"{prefix}.{alias}" if prefix else alias
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        limits = _limits(properties.get(alias, {}))
        rows.append(
            f"| `{path}` | {_type_name(field.annotation)} | {_default(field)} | {limits} | {description} |"
        )
        nested = _nested(field.annotation)
        if nested is not None:
            rows.extend(_rows(nested, path))
    return rows


def render() -> str:
    """The reference as Markdown."""
    out = [
        "# Spec reference",
        "",
        "Generated from the pydantic models in `medbatch/spec/` by `python -m devtools.spec_reference`;",
        "a test fails when this file is stale. Field names are as written in YAML. The limits are enforced",
        "alike by `medbatch validate`, the operator and the API server (the CRDs carry them).",
        "",
    ]
    for title, model in (("Corpus `spec`", CorpusSpec), ("ModelProfile `spec`", ModelProfileSpec)):
        out += [
            f"## {title}",
            "",
            "| field | type | default | limits | description |",
            "|---|---|---|---|---|",
        ]
        out += _rows(model, "")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
