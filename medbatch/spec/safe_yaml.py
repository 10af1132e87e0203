"""YAML for custom resources, hardened: bounded aliases, no duplicate keys, bounded size and depth.

A Corpus or ModelProfile is a small document written by a person. PyYAML's safe loader still expands
aliases without limit (a "billion laughs" document of a few hundred bytes takes minutes and all memory)
and keeps the last of two equal keys without a word. This loader refuses both, with a message that names
the line, never a value.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

# A few aliases are legitimate (a shared block of tolerations, say); an expansion bomb needs many.
MAX_ALIASES = 16
MAX_DOCUMENT_CHARS = 1_000_000
# A custom resource nests a dozen levels; PyYAML composes recursively, so a document of 50,000 "[" ends
# in a RecursionError traceback instead of a message.
MAX_DEPTH = 64


class YamlError(ValueError):
    """The document cannot be loaded; the message says why and where, with no value from it."""


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlError(
                    f"more than {MAX_ALIASES} YAML aliases (line {mark.line + 1}); write the values out"
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise YamlError(
                    f"the document nests more than {MAX_DEPTH} levels (line {mark.line + 1}); "
                    "a custom resource is shallow"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the constructor below says so
                continue
            if duplicate:
                raise YamlError(
                    f"duplicate key at line {key_node.start_mark.line + 1}: each key may appear once in a "
                    "mapping (YAML would silently keep the last)"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """One YAML document, or YamlError."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise YamlError(f"the document is over {MAX_DOCUMENT_CHARS} characters; a custom resource is small")
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except YamlError:
        raise
    except (yaml.YAMLError, ConstructorError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise YamlError(f"not valid YAML{where}") from None
    finally:
        loader.dispose()
