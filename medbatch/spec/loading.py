"""Load custom resources from YAML and turn validation failures into messages people can act on."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from medbatch.spec.corpus import Corpus
from medbatch.spec.model_profile import ModelProfile
from medbatch.spec.safe_yaml import YamlError, load_yaml

M = TypeVar("M", bound=BaseModel)


class SpecError(ValueError):
    """A custom resource is invalid. ``problems`` holds one line per problem, each naming its field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source} is invalid:\n" + "\n".join(f"  - {p}" for p in problems))


def describe_errors(error: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per pydantic error: the camelCase field path, what is wrong, and how to fix it.

    Input values are not echoed (a mistyped field could hold note text or a secret); enum choices and
    allowed field names are, since they come from the schema.
    """
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        path = ".".join(str(part) for part in item["loc"]) or "(document)"
        kind = item["type"]
        message = item["msg"]
        if kind == "extra_forbidden":
            parent = _model_at(model, item["loc"][:-1])
            allowed = (
                ", ".join(sorted(f.alias or n for n, f in parent.model_fields.items())) if parent else ""
            )
            message = "unknown field" + (f"; allowed here: {allowed}" if allowed else "")
        elif kind == "missing":
            message = "required field is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return lines


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The nested model class that a location points into, if it can be followed by alias."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or isinstance(part, int):
            return None
        field = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        current = _first_model(field.annotation)
    return current


def _first_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def parse_resource(document: object, model: type[M], source: str) -> M:
    """Validate one parsed YAML/JSON document against ``model``, raising SpecError on failure."""
    if not isinstance(document, dict):
        raise SpecError(
            source,
            [
                f"(document): expected a mapping with apiVersion, kind, metadata, spec; "
                f"got {type(document).__name__}"
            ],
        )
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise SpecError(source, describe_errors(exc, model)) from None


def _load_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(str(path), [f"cannot read file ({type(exc).__name__})"]) from None
    try:
        return load_yaml(text)
    except YamlError as exc:
        raise SpecError(str(path), [f"(document): {exc}"]) from None


def load_corpus(path: Path) -> Corpus:
    """Read and validate a Corpus YAML file."""
    return parse_resource(_load_yaml(path), Corpus, str(path))


def load_model_profile(path: Path) -> ModelProfile:
    """Read and validate a ModelProfile YAML file."""
    return parse_resource(_load_yaml(path), ModelProfile, str(path))
