"""Shared pydantic base for the custom-resource models: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    """Base of every spec model.

    Unknown fields are rejected (a typo such as ``fromat`` must not be silently ignored, which is what a
    Kubernetes API server would do with a pruned field), and fields are read and written in camelCase
    as in every Kubernetes resource.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=False,
    )

    def to_wire(self) -> dict[str, object]:
        """The model as it appears in YAML: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
