"""Bounded string types for the spec models, and the CEL rules the CRDs carry beside the Python checks.

Every string and list in a CRD needs a ``maxLength``/``maxItems``: the API server estimates the cost of each
CEL rule from them and refuses a CRD whose rules could cost too much on unbounded input. The limits live here,
once, so ``medbatch validate`` and the API server refuse the same over-long values.

``cel`` attaches a CEL rule (``x-kubernetes-validations``) to a field's or model's JSON Schema: the rule sits
next to the Python validator that checks the same thing, and the admission parity test runs both.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

# DNS-1123 subdomain (Secret, ModelProfile, PVC, PriorityClass names) and label (what medbatch derives child
# object names and label values from).
NAME_CHARS = 253
LABEL_CHARS = 63
URI_CHARS = 2048
TEXT_CHARS = 256
IMAGE_CHARS = 512
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

ObjectName = Annotated[str, Field(min_length=1, max_length=NAME_CHARS)]
"""The name of another Kubernetes object (Secret, PVC, PriorityClass...)."""
DnsName = Annotated[str, Field(min_length=1, max_length=NAME_CHARS, pattern=DNS1123_SUBDOMAIN)]
"""The name of another Kubernetes object that must be a DNS-1123 subdomain (ServiceAccount, PriorityClass)."""
LabelName = Annotated[str, Field(min_length=1, max_length=LABEL_CHARS)]
"""A name that medbatch builds other names or label values from (at most 63 characters)."""
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
