"""Structured output: the JSON schema sent for an output type, and checking a reply.

An output schema is usually a pydantic model, but any type pydantic can validate
works (a dataclass, a TypedDict, ``list[int]``). The adapter for each type is built
once and cached.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pydantic

from ..errors import StructuredOutputError
from ._jsonschema import clean_schema

__all__ = ["check_structured", "output_json_schema", "parse_structured", "schema_name"]


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
