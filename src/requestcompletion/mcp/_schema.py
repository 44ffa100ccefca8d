"""An MCP tool's input schema as a Python signature, so that it becomes an rc tool node.

rc describes tools by Python types (`rc.llm.Tool.from_function`): the model sees the
schema pydantic writes for them, and a call's arguments are validated against them
before anything is sent. So a server's JSON schema is read into types here —
str/int/float/bool/None, Literal for enum and const, unions for anyOf/oneOf and type
lists, list[...] for arrays, pydantic models for objects with properties,
dict[str, ...] for maps — keeping the constraints pydantic can check (lengths,
bounds, patterns). A schema that uses something these cannot mean (not, if/then,
patternProperties, tuple arrays, a recursive $ref, ...) is refused with its path,
rather than silently offering the model a looser tool than the server's.
"""

from __future__ import annotations

import keyword
from typing import Annotated, Any, Literal, Union

import pydantic

from ..errors import MCPError

__all__ = ["ABSENT", "Parameter", "parameters_of"]


class _Absent:
    """The default of an optional argument: not JSON, so no schema shows a default the
    server did not give; a model that leaves it out sends nothing for it."""

    def __repr__(self) -> str:
        return "<not given>"


ABSENT: Any = _Absent()

# keywords that only describe: safe to drop
_DESCRIPTIVE = frozenset(
    {
        "title", "description", "examples", "default", "format", "$schema", "$id",
        "$comment", "deprecated", "readOnly", "writeOnly", "contentMediaType",
        "contentEncoding", "$defs", "definitions",
    }
)  # fmt: skip
_CONSTRAINTS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "multipleOf": "multiple_of",
    "minItems": "min_length",
    "maxItems": "max_length",
}
_HANDLED = frozenset(
    {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "items", "properties",
     "required", "additionalProperties", "nullable", "uniqueItems"}
)  # fmt: skip
_LEAVES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": None,
}


class Parameter:
    """One top-level argument of a tool: its name, type, description, and if required."""

    __slots__ = ("annotation", "description", "name", "required")

    def __init__(self, name: str, annotation: Any, description: str, required: bool) -> None:
        self.name, self.annotation = name, annotation
        self.description, self.required = description, required


class _Reader:
    def __init__(self, tool: str, root: dict[str, Any]) -> None:
        self.tool = tool
        self.defs: dict[str, Any] = {**root.get("definitions", {}), **root.get("$defs", {})}
        self.resolving: list[str] = []
        self.models = 0

    def fail(self, where: str, problem: str) -> MCPError:
        return MCPError(
            f"MCP tool {self.tool!r}: its input schema at {where} {problem}, which rc "
            f"cannot express as a tool; leave this tool out (tools(..., exclude=[{self.tool!r}])) "
            f"or change its schema on the server"
        )

    def read(self, schema: Any, where: str) -> Any:
        if schema is True or schema == {}:
            return Any
        if not isinstance(schema, dict):
            raise self.fail(where, f"is {schema!r}, not a schema object")
        unknown = sorted(set(schema) - _DESCRIPTIVE - _HANDLED - set(_CONSTRAINTS))
        if unknown:
            raise self.fail(where, f"uses {', '.join(repr(k) for k in unknown)}")
        if "$ref" in schema:
            return self._ref(schema["$ref"], where)
        if "const" in schema:
            return self._literal([schema["const"]], where)
        if "enum" in schema:
            return self._literal(schema["enum"], where)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = schema[key]
                if not isinstance(options, list) or not options:
                    raise self.fail(where, f"has an empty or malformed {key!r}")
                return self._union(
                    [self.read(option, f"{where}.{key}[{i}]") for i, option in enumerate(options)]
                )
        if "allOf" in schema:
            parts = schema["allOf"]
            if not isinstance(parts, list) or len(parts) != 1:
                raise self.fail(where, "combines several schemas with 'allOf'")
            return self.read(parts[0], f"{where}.allOf[0]")
        kind = schema.get("type")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        if kind is None:
            return Any
        if isinstance(kind, list):
            return self._union([self._typed(schema, k, where) for k in kind])
        annotation = self._typed(schema, kind, where)
        return Union[annotation, None] if schema.get("nullable") else annotation  # noqa: UP007

    def _typed(self, schema: dict[str, Any], kind: Any, where: str) -> Any:
        if kind in _LEAVES:
            annotation = _LEAVES[kind]
        elif kind == "array":
            items = schema.get("items", True)
            if isinstance(items, list):
                raise self.fail(where, "is a tuple array (a list of 'items' schemas)")
            annotation = list[self.read(items, f"{where}.items")]  # type: ignore[misc]
        elif kind == "object":
            annotation = self._object(schema, where)
        else:
            raise self.fail(where, f"has type {kind!r}")
        constraints = {
            _CONSTRAINTS[key]: value
            for key, value in schema.items()
            if key in _CONSTRAINTS and _applies(key, kind)
        }
        return Annotated[annotation, pydantic.Field(**constraints)] if constraints else annotation

    def _object(self, schema: dict[str, Any], where: str) -> Any:
        extra = schema.get("additionalProperties", True)
        properties = schema.get("properties")
        if not properties:
            value = self.read(extra, f"{where}.additionalProperties") if extra is not False else Any
            return dict[str, value]  # type: ignore[valid-type]
        required = set(schema.get("required", ()))
        fields: dict[str, Any] = {}
        for index, (name, part) in enumerate(properties.items()):
            annotation = self.read(part, f"{where}.properties.{name}")
            description = part.get("description") if isinstance(part, dict) else None
            # an optional property left out is simply not sent: its default (None) is
            # never seen by the server, so the schema does not show it either
            fields[f"f{index}"] = (
                annotation,
                pydantic.Field(
                    ... if name in required else None,
                    alias=name,
                    description=description,
                    json_schema_extra=_no_default,
                ),
            )
        self.models += 1
        return pydantic.create_model(
            f"{self.tool}_object{self.models}",
            __config__=pydantic.ConfigDict(
                extra="forbid" if extra is False else "allow", populate_by_name=True
            ),
            **fields,
        )

    def _ref(self, ref: Any, where: str) -> Any:
        prefixes = ("#/$defs/", "#/definitions/")
        name = next(
            (ref[len(p) :] for p in prefixes if isinstance(ref, str) and ref.startswith(p)), None
        )
        if name is None or name not in self.defs:
            raise self.fail(where, f"refers to {ref!r}, which is not in the schema's $defs")
        if name in self.resolving:
            raise self.fail(where, f"is recursive ({ref!r} refers back to itself)")
        self.resolving.append(name)
        try:
            return self.read(self.defs[name], f"$defs.{name}")
        finally:
            self.resolving.pop()

    def _literal(self, values: Any, where: str) -> Any:
        if not isinstance(values, list) or not values:
            raise self.fail(where, "has an empty or malformed 'enum'")
        bad = [v for v in values if not isinstance(v, str | int | float | bool) and v is not None]
        if bad:
            raise self.fail(where, f"allows the value {bad[0]!r} (only scalars can be listed)")
        return Literal[tuple(values)]

    @staticmethod
    def _union(options: list[Any]) -> Any:
        return options[0] if len(options) == 1 else Union[tuple(options)]  # noqa: UP007


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _applies(key: str, kind: Any) -> bool:
    if key in ("minLength", "maxLength", "pattern"):
        return bool(kind == "string")
    if key in ("minItems", "maxItems"):
        return bool(kind == "array")
    return kind in ("integer", "number")


def parameters_of(tool: str, schema: Any) -> list[Parameter]:
    """The arguments of MCP tool `tool`, read from its input schema.

    Raises:
        MCPError: a part of the schema cannot be expressed (the message gives its path).
    """
    reader = _Reader(tool, schema if isinstance(schema, dict) else {})
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise reader.fail("the top", f"is {schema!r}, not an object schema")
    unknown = sorted(set(schema) - _DESCRIPTIVE - _HANDLED - set(_CONSTRAINTS))
    if unknown:
        raise reader.fail("the top", f"uses {', '.join(repr(k) for k in unknown)}")
    required = set(schema.get("required", ()))
    out = []
    for name, part in (schema.get("properties") or {}).items():
        if not name.isidentifier() or keyword.iskeyword(name):
            raise reader.fail(f"properties.{name}", "names an argument that is not a Python name")
        description = part.get("description", "") if isinstance(part, dict) else ""
        annotation = reader.read(part, f"properties.{name}")
        out.append(Parameter(name, annotation, str(description or ""), name in required))
    return out
