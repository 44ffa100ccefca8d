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
import types
import typing
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


KIND_KEY, DATA_KEY = "kind", "data"
"""A union's answer on the wire: ``{"kind": <member name>, "data": <the member>}``."""


@functools.lru_cache(maxsize=256)
def union_members(output_schema: Any) -> dict[str, Any] | None:
    """A union's members by the name the model chooses them with; None if not a union."""
    if typing.get_origin(output_schema) not in (typing.Union, types.UnionType):
        return None
    members: dict[str, Any] = {}
    for member in typing.get_args(output_schema):
        name = schema_name(member) if member is not type(None) else "None"
        while name in members:  # two members that print alike (list[int], list[str])
            name += "_"
        members[name] = member
    return members


def _choices(members: dict[str, Any]) -> dict[str, Any]:
    """Each member of a union as its own tagged choice, so that the model says which one
    it means and its answer is checked against that member alone."""
    choices: list[dict[str, Any]] = []
    definitions: dict[str, Any] = {}
    for name, member in members.items():
        schema = output_json_schema(member)
        definitions.update(schema.pop("$defs", {}))
        choices.append(
            {
                "type": "object",
                "properties": {KIND_KEY: {"const": name}, DATA_KEY: schema},
                "required": [KIND_KEY, DATA_KEY],
                "additionalProperties": False,
            }
        )
    union: dict[str, Any] = {"anyOf": choices}
    if definitions:
        union["$defs"] = definitions
    return union


def wire_schema(output_schema: Any) -> dict[str, Any]:
    """The schema to send a provider: `output_json_schema`, its root always an object.

    A list, a union, a scalar (anything whose root is not an object) becomes the one
    required property ``value`` of an object; shared definitions stay at the root so
    that their references still resolve. A union's members are offered as tagged
    choices (``{"kind": "Found", "data": {...}}``): a discriminated wrapper.
    """
    members = union_members(output_schema)
    schema = output_json_schema(output_schema) if members is None else _choices(members)
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
        text: the model's reply; a JSON block fenced in Markdown is unwrapped first.

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
                return _validate(output_schema, _unwrap(value), text)
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
        return _validate(output_schema, _unwrap(value), None)
    try:
        return _adapter(output_schema).validate_python(value)
    except pydantic.ValidationError as exc:
        raise StructuredOutputError(
            f"the reply does not match {schema_name(output_schema)}: {_problems(exc)}"
        ) from None


def _validate(output_schema: Any, value: Any, raw: str | None) -> Any:
    """`value` (unwrapped) validated; a union's answer against the member it names."""
    members = union_members(output_schema)
    if members is None:
        try:
            return _adapter(output_schema).validate_python(value)
        except pydantic.ValidationError as exc:
            raise StructuredOutputError(
                f"the reply does not match {schema_name(output_schema)}: {_problems(exc)}",
                raw=raw,
            ) from None
    if isinstance(value, dict) and value.keys() == {KIND_KEY, DATA_KEY}:
        kind = value[KIND_KEY]
        if kind not in members:
            raise StructuredOutputError(
                f"the reply's kind {kind!r} is not one of {list(members)}", raw=raw
            )
        try:
            return _adapter(members[kind]).validate_python(value[DATA_KEY])
        except pydantic.ValidationError as exc:
            # no other member is tried: an answer meant as one must not pass as another
            raise StructuredOutputError(
                f"the reply does not match {kind} (the kind it chose): {_problems(exc)}", raw=raw
            ) from None
    return _untagged(members, value, raw)


def _untagged(members: dict[str, Any], value: Any, raw: str | None) -> Any:
    """An answer that did not say its kind: accepted only when exactly one member fits."""
    fits: list[Any] = []
    problems: list[str] = []
    for name, member in members.items():
        try:
            fit = _adapter(member).validate_python(value)
        except pydantic.ValidationError as exc:
            problems.append(f"as {name}: {_problems(exc)}")
            continue
        if isinstance(fit, pydantic.BaseModel) and isinstance(value, dict):
            known = {f.alias or key for key, f in type(fit).model_fields.items()}
            if not value.keys() <= known | type(fit).model_fields.keys():
                # it fitted by ignoring what it does not know (an empty-default model):
                # not a fit, or an answer meant as another kind would pass as this one
                problems.append(f"as {name}: unexpected {sorted(value.keys() - known)}")
                continue
        fits.append(fit)
    if len(fits) == 1:
        return fits[0]
    wanted = f'say which with {{"{KIND_KEY}": one of {list(members)}, "{DATA_KEY}": ...}}'
    if fits:
        raise StructuredOutputError(f"the reply fits more than one kind; {wanted}", raw=raw)
    raise StructuredOutputError(
        f"the reply fits none of the kinds ({'; '.join(problems)}); {wanted}", raw=raw
    )


def _problems(exc: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'reply'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


def _unfence(text: str) -> str:
    stripped = text.strip()
    match = re.fullmatch(r"```(?:json)?\s*\n(.*?)\n?```", stripped, re.DOTALL)
    return match.group(1) if match else stripped
