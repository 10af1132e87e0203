"""CEL rules checked the way the API server checks them: type-checked against the declared schema.

The API server compiles every ``x-kubernetes-validations`` rule with ``self`` (and ``oldSelf``) typed from
the schema node the rule sits on: an object's declared properties are its fields, a field under
``x-kubernetes-preserve-unknown-fields`` without declared properties does not exist ("undefined field"),
and types must match ("no matching overload"). A rule that fails to compile makes the whole CRD fail to
install.

Here each schema node becomes a protobuf message (proto2, so ``has()`` tests presence as in Kubernetes),
and Google's CEL implementation (cel-expr-python, the C++ runtime with its type checker) compiles and
evaluates the rules against it. Kubernetes' environment adds the strings and bindings extensions, which
are loaded too; its own library functions (``isURL``, ``quantity``...) are not declared, so a rule using
one fails here: declare it with its Kubernetes signature before using it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_strings
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2

_PACKAGE = "crd"
_SCALARS = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "integer": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "number": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
    "boolean": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
}
_CEL_SCALARS = {
    "string": cel.Type.STRING,
    "integer": cel.Type.INT,
    "number": cel.Type.DOUBLE,
    "boolean": cel.Type.BOOL,
}
# Kubernetes escapes property names that are CEL reserved words as __name__.
_RESERVED = frozenset(
    [
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ]
)
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE


def cel_name(prop: str) -> str:
    """How a property is named in CEL (Kubernetes' escaping of reserved words)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prop):
        raise ValueError(f"property {prop!r} needs Kubernetes' CEL escaping, which this checker lacks")
    return f"__{prop}__" if prop in _RESERVED else prop


@dataclass
class _Types:
    """The protobuf declarations of one schema, built node by node."""

    file: descriptor_pb2.FileDescriptorProto = field(
        default_factory=lambda: descriptor_pb2.FileDescriptorProto(
            name="crd.proto", package=_PACKAGE, syntax="proto2", dependency=["google/protobuf/struct.proto"]
        )
    )
    count: int = 0
    at: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def declare(
        self, node: dict[str, Any], path: str = "", *, root_metadata: bool = False
    ) -> tuple[str, Any]:
        """(protobuf type, CEL type) of a schema node and, in ``at``, of every node below it by path."""
        self.at[path] = self._declare(node, path, root_metadata=root_metadata)
        return self.at[path]

    def _declare(self, node: dict[str, Any], path: str, *, root_metadata: bool) -> tuple[str, Any]:
        kind = node.get("type")
        if kind in _SCALARS:
            return kind, _CEL_SCALARS[kind]
        if kind is None:  # no type: only x-kubernetes-preserve-unknown-fields / int-or-string, i.e. dyn
            return ".google.protobuf.Value", cel.Type.DYN
        if kind == "array":
            item_proto, item_cel = self.declare(node["items"], f"{path}/*")
            if item_proto == "array" or item_proto.startswith("map:"):
                raise ValueError(f"{path}: lists of lists or maps need wrappers this checker lacks")
            return f"list:{item_proto}", cel.Type.List(item_cel)
        properties = dict(node.get("properties") or {})
        if root_metadata:  # Kubernetes exposes only these two fields of the root's metadata to CEL
            properties = {"name": {"type": "string"}, "generateName": {"type": "string"}}
        extra = node.get("additionalProperties")
        if not properties and isinstance(extra, dict):
            value_proto, value_cel = self.declare(extra, f"{path}/*")
            if value_proto.startswith(("list:", "map:")):
                raise ValueError(f"{path}: maps of lists or maps need wrappers this checker lacks")
            return f"map:{value_proto}", cel.Type.Map(cel.Type.STRING, value_cel)
        self.count += 1
        name = f"M{self.count}_{re.sub(r'[^A-Za-z0-9]', '_', path)}"
        message = self.file.message_type.add(name=name)
        for number, (prop, child) in enumerate(properties.items(), start=1):
            child_proto, _ = self.declare(
                child, f"{path}/{prop}", root_metadata=path == "" and prop == "metadata"
            )
            self._field(message, cel_name(prop), prop, number, child_proto)
        return f".{_PACKAGE}.{name}", cel.Type(f"{_PACKAGE}.{name}")

    def _field(self, message: Any, name: str, json_name: str, number: int, proto: str) -> None:
        label = _OPTIONAL
        if proto.startswith("list:"):
            label, proto = _REPEATED, proto.removeprefix("list:")
        elif proto.startswith("map:"):
            entry = message.nested_type.add(
                name=f"{name[0].upper()}{name[1:]}Entry"
            )  # protobuf's naming rule
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, label=_OPTIONAL, type=_SCALARS["string"])
            self._field(entry, "value", "value", 2, proto.removeprefix("map:"))
            label, proto = _REPEATED, f".{_PACKAGE}.{message.name}.{entry.name}"
        spec = message.field.add(name=name, json_name=json_name, number=number, label=label)
        if proto in _SCALARS:
            spec.type = _SCALARS[proto]
        else:
            spec.type, spec.type_name = _MESSAGE, proto


@dataclass(frozen=True)
class Rule:
    """One rule, where it sits (a JSON-pointer-like path), and the CEL type of ``self`` there."""

    path: str
    rule: str
    message: str
    self_type: Any
    proto: str


class CrdCel:
    """The CEL environment of one CRD schema: type-check its rules, evaluate them on documents."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        types = _Types()
        types.declare(schema)
        self._nodes = types.at
        self.pool = descriptor_pool.DescriptorPool()
        self.pool.AddSerializedFile(struct_pb2.DESCRIPTOR.serialized_pb)
        self.pool.Add(types.file)
        self.rules = [
            Rule(path, item["rule"], item.get("message", ""), self._nodes[path][1], self._nodes[path][0])
            for path, node in _walk(schema)
            for item in node.get("x-kubernetes-validations", [])
        ]
        self._compiled: dict[tuple[str, str], Any] = {}

    def _compile(self, rule: Rule) -> Any:
        """The rule compiled once against ``self``'s type (raises RuntimeError when it does not check)."""
        key = (rule.path, rule.rule)
        if key not in self._compiled:
            env = cel.NewEnv(
                self.pool,
                variables={"self": rule.self_type, "oldSelf": rule.self_type},
                extensions=[ext_strings.ExtStrings(), ext_bindings.ExtBindings()],
            )
            self._compiled[key] = env.compile(rule.rule)
        return self._compiled[key]

    def type_errors(self) -> list[str]:
        """Every rule that would not compile on the API server, with the checker's reason."""
        errors = []
        for rule in self.rules:
            try:
                compiled = self._compile(rule)
            except RuntimeError as exc:
                errors.append(f"{rule.path or '/'}: {rule.rule!r}: {exc}")
                continue
            if compiled.return_type() != cel.Type.BOOL:
                errors.append(f"{rule.path or '/'}: {rule.rule!r} does not return a bool")
        return errors

    def failures(self, document: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
        """Messages of the rules ``document`` breaks; transition rules (``oldSelf``) run only with ``old``."""
        failed = []
        for rule in self.rules:
            is_transition = "oldSelf" in rule.rule
            if is_transition and old is None:
                continue
            for value, old_value in _values_at(document, old, rule.path):
                if is_transition and old_value is _ABSENT:
                    continue  # Kubernetes runs a transition rule only where an old value correlates
                data = {"self": self._value(rule.proto, value)}
                if is_transition:
                    data["oldSelf"] = self._value(rule.proto, old_value)
                result = self._compile(rule).eval(data=data).value()
                if result is not True:
                    failed.append(rule.message)
        return failed

    def _value(self, proto: str, value: Any) -> Any:
        if proto.startswith(f".{_PACKAGE}."):
            message = message_factory.GetMessageClass(self.pool.FindMessageTypeByName(proto[1:]))()
            return json_format.ParseDict(value, message, ignore_unknown_fields=True)
        return value


_ABSENT = object()


def _walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for prop, child in (node.get("properties") or {}).items():
        yield from _walk(child, f"{path}/{prop}")
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}/*")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}/*")


def _values_at(document: Any, old: Any, path: str) -> Iterator[tuple[Any, Any]]:
    """(value, old value or _ABSENT) at every place ``path`` names in ``document``."""
    if not path:
        yield document, (old if old is not None else _ABSENT)
        return
    head, _, rest = path.lstrip("/").partition("/")
    rest = f"/{rest}" if rest else ""
    if head == "*":
        items = document.items() if isinstance(document, dict) else enumerate(document or [])
        for key, value in items:
            # Map entries correlate by key; list items (no listType=map here) do not.
            before = (
                old.get(key, _ABSENT) if isinstance(old, dict) and isinstance(document, dict) else _ABSENT
            )
            yield from _values_at(value, None if before is _ABSENT else before, rest)
        return
    if isinstance(document, dict) and head in document:
        before = old.get(head, _ABSENT) if isinstance(old, dict) else _ABSENT
        yield from _values_at(document[head], None if before is _ABSENT else before, rest)
