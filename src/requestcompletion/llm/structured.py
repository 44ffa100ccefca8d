"""Structured output: the JSON schema sent for an output type, and checking a reply.

An output schema is usually a pydantic model, but any type pydantic can validate
works (a dataclass, a TypedDict, ``list[int]``, a union, ``int``). The adapter for
each type is built once and cached.

Providers accept only an object at the root of a structured-output schema (OpenAI
answers HTTP 400 "schema must be a JSON Schema of type object"; Anthropic's tool
input is an object). So `wire_schema` wraps any other root in ``{"value": ...}``,
and `parse_structured` / `check_structured` take the answer out of that wrapper
again; an answer the model gave unwrapped is accepted too.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pydantic

from ..errors import StructuredOutputError
from ._jsonschema import clean_schema

__all__ = [
    "WRAPPER_KEY",
    "check_structured",
    "output_json_schema",
    "parse_structured",
    "schema_name",
    "wire_schema",
]

WRAPPER_KEY = "value"
"""The one property of the object a non-object answer is wrapped in for providers."""


@functools.lru_cache(maxsize=256)
def _adapter(output_schema: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(output_schema)


def schema_name(output_schema: Any) -> str:
    """A name for the schema that providers accept (letters, digits, ``_``, ``-``)."""
    name = getattr(output_schema, "__name__", "output")
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "output"


def output_json_schema(output_schema: Any) -> dict[str, Any]:
    """The JSON schema a reply must match, without pydantic's titles."""
    schema: dict[str, Any] = clean_schema(_adapter(output_schema).json_schema())
    return schema


@functools.lru_cache(maxsize=256)
def _wrapped(output_schema: Any) -> bool:
    """Whether the schema's root is not an object, so that providers get it wrapped."""
    return output_json_schema(output_schema).get("type") != "object"


def wire_schema(output_schema: Any) -> dict[str, Any]:
    """The schema to send a provider: `output_json_schema`, its root always an object.

    A list, a union, a scalar (anything whose root is not an object) becomes the one
    required property ``value`` of an object; shared definitions stay at the root so
    that their references still resolve.
    """
    schema = output_json_schema(output_schema)
    if not _wrapped(output_schema):
        return schema
    definitions = schema.pop("$defs", None)
    wrapper: dict[str, Any] = {
        "type": "object",
        "properties": {WRAPPER_KEY: schema},
        "required": [WRAPPER_KEY],
        "additionalProperties": False,
    }
    if definitions is not None:
        wrapper["$defs"] = definitions
    return wrapper


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and WRAPPER_KEY in value:
        return value[WRAPPER_KEY]
    return value


def parse_structured(output_schema: Any, text: str) -> Any:
    """Validate a model's JSON reply against `output_schema`.

    Args:
        output_schema: the type the reply must be.
        text: the model's reply; a fenced ```json block is unwrapped first.

    Returns:
        The validated object.

    Raises:
        StructuredOutputError: the text is not JSON or does not fit; the message lists
            the problems (suitable for a repair prompt) and `raw` holds the text.
    """
    body = _unfence(text)
    try:
        if _wrapped(output_schema):
            try:
                value = json.loads(body)
            except json.JSONDecodeError:
                pass  # let pydantic say what is wrong with it
            else:
                return _adapter(output_schema).validate_python(_unwrap(value))
        return _adapter(output_schema).validate_json(body)
    except pydantic.ValidationError as exc:
        raise StructuredOutputError(
            f"the reply does not match {schema_name(output_schema)}: {_problems(exc)}", raw=text
        ) from None


def check_structured(output_schema: Any, value: Any) -> Any:
    """`value` if it already is an instance of `output_schema`, else `value` validated.

    For models that hand back a dict, or an object they did not validate themselves.

    Raises:
        StructuredOutputError: the value does not fit; the message lists the problems.
    """
    if isinstance(output_schema, type) and isinstance(value, output_schema):
        return value
    if _wrapped(output_schema):
        value = _unwrap(value)
    try:
        return _adapter(output_schema).validate_python(value)
    except pydantic.ValidationError as exc:
        raise StructuredOutputError(
            f"the reply does not match {schema_name(output_schema)}: {_problems(exc)}"
        ) from None


def _problems(exc: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'reply'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


def _unfence(text: str) -> str:
    stripped = text.strip()
    match = re.fullmatch(r"```(?:json)?\s*\n(.*?)\n?```", stripped, re.DOTALL)
    return match.group(1) if match else stripped
