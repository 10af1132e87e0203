"""Bounded string types for the spec models, and the CEL rules the CRDs carry beside the Python checks.

Every string and list in a CRD needs a ``maxLength``/``maxItems``: the API server estimates the cost of each
CEL rule from them and refuses a CRD whose rules could cost too much on unbounded input. The limits live here,
once, so ``medbatch validate`` and the API server refuse the same over-long values.

``cel`` attaches a CEL rule (``x-kubernetes-validations``) to a field's or model's JSON Schema: the rule sits
next to the Python validator that checks the same thing, and the admission parity test runs both.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# DNS-1123 subdomain (Secret, ModelProfile, PVC, PriorityClass names) and label (what medbatch derives child
# object names and label values from).
NAME_CHARS = 253
LABEL_CHARS = 63
URI_CHARS = 2048
TEXT_CHARS = 256
IMAGE_CHARS = 512
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

# An extended resource name (``nvidia.com/gpu``): a qualified name, an optional DNS prefix and a name.
QUALIFIED_NAME = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"

_SUBDOMAIN, _LABEL = re.compile(DNS1123_SUBDOMAIN), re.compile(DNS1123_LABEL)
NOT_A_SUBDOMAIN = (
    "must be a Kubernetes object name (a DNS-1123 subdomain): lowercase letters, digits, '-' and '.', "
    f"starting and ending with a letter or digit, at most {NAME_CHARS} characters"
)
NOT_A_LABEL = (
    "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or "
    f"digit, at most {LABEL_CHARS} characters"
)


def is_object_name(value: str) -> bool:
    """Whether ``value`` is a DNS-1123 subdomain: safe as one path segment of an API URL (no ``/``,
    no ``..``, no ``%``)."""
    return len(value) <= NAME_CHARS and _SUBDOMAIN.fullmatch(value) is not None


def is_label_name(value: str) -> bool:
    """Whether ``value`` is a DNS-1123 label (a namespace, a name medbatch derives other names from)."""
    return len(value) <= LABEL_CHARS and _LABEL.fullmatch(value) is not None


def _object_name(value: str) -> str:
    # The message never repeats the value: it may be anything an author typed.
    if not is_object_name(value):
        raise ValueError(NOT_A_SUBDOMAIN)
    return value


def _label_name(value: str) -> str:
    if not is_label_name(value):
        raise ValueError(NOT_A_LABEL)
    return value


ObjectName = Annotated[
    str,
    Field(min_length=1, max_length=NAME_CHARS, json_schema_extra={"pattern": DNS1123_SUBDOMAIN}),
    AfterValidator(_object_name),
]
"""The name of another Kubernetes object (Secret, ServiceAccount, ModelProfile, PVC, PriorityClass): a
DNS-1123 subdomain, so it can never step out of its URL segment (``../other-team/secrets/x``)."""
LabelName = Annotated[
    str,
    Field(min_length=1, max_length=LABEL_CHARS, json_schema_extra={"pattern": DNS1123_LABEL}),
    AfterValidator(_label_name),
]
"""A name that medbatch builds other names or label values from (a RayCluster, an object's own name)."""
ResourceName = Annotated[str, Field(min_length=1, max_length=NAME_CHARS, pattern=QUALIFIED_NAME)]
"""An extended resource name such as ``nvidia.com/gpu``."""
Uri = Annotated[str, Field(max_length=URI_CHARS)]
Text = Annotated[str, Field(min_length=1, max_length=TEXT_CHARS)]
"""A short identifier-like string (column name, model id, quantization name...)."""
Image = Annotated[str, Field(min_length=1, max_length=IMAGE_CHARS)]
LabelValue = Annotated[str, Field(max_length=LABEL_CHARS)]
AnnotationValue = Annotated[str, Field(max_length=4096)]


def cel(*rules: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules as (rule, message) pairs, or (rule, message, fieldPath)
    when one field is at fault: the API server then names that field instead of the object."""
    return {
        "x-kubernetes-validations": [
            {"rule": rule[0], "message": rule[1], **({"fieldPath": rule[2]} if len(rule) == 3 else {})}
            for rule in rules
        ]
    }
