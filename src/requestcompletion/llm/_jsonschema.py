"""Which Python types can become JSON schema, and tidying the schema pydantic makes.

pydantic generates the schemas and validates the arguments; this module decides up
front which annotations a tool may use, so that a bad one fails when the tool is
defined — naming the exact part that cannot be expressed — rather than when a model
first calls it.
"""

from __future__ import annotations

import collections.abc
import enum
import types
import typing
from typing import Any

__all__ = ["clean_schema", "type_name", "unsupported_part"]

_LEAVES: frozenset[Any] = frozenset({str, int, float, bool, type(None), Any, object})
_SEQUENCES: frozenset[Any] = frozenset(
    {list, set, frozenset, tuple, collections.abc.Sequence, collections.abc.Set}
)
_MAPPINGS: frozenset[Any] = frozenset({dict, collections.abc.Mapping})
# kept as written: these keys hold values, not schemas
_VALUE_KEYS = frozenset({"default", "enum", "const", "examples"})
# these keys map names to schemas
_NAMED_SCHEMA_KEYS = frozenset({"properties", "$defs", "definitions", "patternProperties"})


def _is_string_key(tp: Any) -> bool:
    if tp is str:
        return True
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return all(isinstance(member.value, str) for member in tp)
    if typing.get_origin(tp) is typing.Literal:
        return all(isinstance(value, str) for value in typing.get_args(tp))
    return False


def _pydantic_can_express(tp: Any) -> bool:
    import pydantic

    try:
        pydantic.TypeAdapter(tp).json_schema()
    except pydantic.PydanticUserError:
        return False
    return True


def unsupported_part(tp: Any) -> str | None:
    """Return a description of the part of `tp` JSON schema cannot express, or None.

    Understood: str, int, float, bool, None, Any, Literal, Enum, Optional and other
    unions, list/set/tuple/Sequence of such types, dict/Mapping with string keys,
    Annotated, and any class pydantic can describe (BaseModel, dataclass, TypedDict,
    datetime, UUID, ...).
    """
    if tp in _LEAVES:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return unsupported_part(args[0])
    if origin is typing.Literal:
        bad = [value for value in args if not isinstance(value, str | int | bool | None)]
        return f"Literal value {bad[0]!r}" if bad else None
    if origin is typing.Union or origin is types.UnionType:
        return next((part for arg in args if (part := unsupported_part(arg))), None)
    if tp in _SEQUENCES or origin in _SEQUENCES:
        items = [arg for arg in args if arg is not Ellipsis]
        return next((part for arg in items if (part := unsupported_part(arg))), None)
    if tp in _MAPPINGS:
        return None
    if origin in _MAPPINGS:
        key, value = args
        if not _is_string_key(key):
            return f"dict keys of type {type_name(key)} (JSON object keys are strings)"
        return unsupported_part(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        bad_values = [m.value for m in tp if not isinstance(m.value, str | int | float | bool)]
        return f"enum {tp.__name__} with value {bad_values[0]!r}" if bad_values else None
    if origin is None and isinstance(tp, type) and _pydantic_can_express(tp):
        return None
    return type_name(tp)


def type_name(tp: Any) -> str:
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return f"{tp.__module__}.{tp.__qualname__}" if tp.__module__ != "builtins" else tp.__name__
    return repr(tp).replace("typing.", "")


def clean_schema(schema: Any) -> Any:
    """Drop the ``title`` keys pydantic adds everywhere; they only cost the model tokens."""
    if isinstance(schema, list):
        return [clean_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _VALUE_KEYS:
            cleaned[key] = value
        elif key in _NAMED_SCHEMA_KEYS and isinstance(value, dict):
            cleaned[key] = {name: clean_schema(sub) for name, sub in value.items()}
        else:
            cleaned[key] = clean_schema(value)
    return cleaned
