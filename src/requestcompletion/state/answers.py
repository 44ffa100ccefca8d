"""Fitting a human's answer to its question's schema, and the early check `from_state` makes.

`rc.ask` validates an answer into the Python type the node gave (`validate`).
A resumed run is given its answers before any node runs, when only the saved
run is at hand: it holds each question's JSON schema, not the type. So
`answer_problem` reads that schema back into a Python type that accepts every
answer the node's own type could (pydantic's lax reading: ``"5"`` or ``5.0``
for an integer, ``"yes"`` for a boolean), and refuses only an answer that this
looser type refuses too. Constraints (bounds, lengths, patterns) are left to
the ask, and so is any schema whose Python type cannot be told from it
(objects with fields, strings with a ``format``, which a date or a path would
read): the node's type still checks the answer when it asks.
"""

from __future__ import annotations

from typing import Any, Literal, Union

__all__ = ["answer_problem", "as_data", "validate"]


def validate(schema: Any, answer: Any) -> Any:
    """`answer` as `schema` (text is read as JSON first); None: unchanged.

    Raises:
        ValueError: it does not fit.
    """
    if schema is None:
        return answer
    import pydantic

    adapter = pydantic.TypeAdapter(schema)
    if isinstance(answer, str):
        try:
            return adapter.validate_json(answer)
        except pydantic.ValidationError:
            pass
    try:
        return adapter.validate_python(answer)
    except pydantic.ValidationError as error:
        problems = "; ".join(f"{e['msg']}" for e in error.errors())
        raise ValueError(f"the answer {answer!r} does not fit: {problems}") from None


def as_data(schema: Any, answer: Any) -> Any:
    """A validated `answer` as JSON data that `validate(schema, ...)` reads back into it
    (what a saved run records); `answer` itself if there is no schema or no such form."""
    if schema is None:
        return answer
    import pydantic
    from pydantic_core import PydanticSerializationError

    try:
        return pydantic.TypeAdapter(schema).dump_python(answer, mode="json")
    except (PydanticSerializationError, TypeError, ValueError):
        return answer  # saved as the file saves any value


def answer_problem(json_schema: Any, answer: Any) -> str | None:
    """Why `answer` cannot fit a question whose saved schema is `json_schema`; None if
    it may (or if only the node's own type can tell)."""
    if not isinstance(json_schema, dict) or not _plain(answer):
        return None  # a named type, or an object only the node's code can judge
    try:
        loose = _type_of(json_schema, json_schema, 0)
    except _CannotTell:
        return None
    try:
        validate(loose, answer)
    except ValueError as error:
        return str(error)
    return None


class _CannotTell(Exception):
    """The schema's Python type cannot be told from it (the ask will check)."""


_LEAVES: dict[str, Any] = {
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": None,
    "string": str,
}
_MAX_DEPTH = 20  # a deeper (or self-referring) schema or answer is left to the ask


def _type_of(schema: Any, root: dict[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH or not isinstance(schema, dict):
        raise _CannotTell
    if "$ref" in schema:
        return _type_of(_resolve(schema["$ref"], root), root, depth + 1)
    if "const" in schema:
        return _literal([schema["const"]])
    if "enum" in schema:
        return _literal(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _union([_type_of(s, root, depth + 1) for s in _listed(schema[key])])
    if "allOf" in schema:
        parts = _listed(schema["allOf"])
        if len(parts) != 1:
            raise _CannotTell
        return _type_of(parts[0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        return _union([_type_of({**schema, "type": k}, root, depth + 1) for k in kind])
    if kind == "array":
        if "prefixItems" in schema:
            raise _CannotTell
        items = schema.get("items")
        return list[Any] if items is None else list[_type_of(items, root, depth + 1)]  # type: ignore[misc]
    if kind == "object":
        if schema.get("properties"):
            raise _CannotTell  # a model: its fields, aliases and extras are the code's
        values = schema.get("additionalProperties")
        if not isinstance(values, dict):
            return dict[str, Any]
        return dict[str, _type_of(values, root, depth + 1)]  # type: ignore[misc]
    if kind == "string" and "format" in schema:
        raise _CannotTell  # a date, a path, a UUID...: their types read other values too
    if isinstance(kind, str) and kind in _LEAVES:
        return _LEAVES[kind]
    raise _CannotTell


def _resolve(ref: Any, root: dict[str, Any]) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise _CannotTell
    found: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(found, dict) or part not in found:
            raise _CannotTell
        found = found[part]
    return found


def _listed(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _CannotTell
    return value


def _literal(values: Any) -> Any:
    if not isinstance(values, list) or not values or not all(map(_scalar, values)):
        raise _CannotTell
    return Literal[tuple(values)]


def _union(types: list[Any]) -> Any:
    return Union[tuple(types)]  # noqa: UP007  # built from a list: no `|` spelling


def _scalar(value: Any) -> bool:
    return value is None or type(value) in (str, int, float, bool)


def _plain(value: Any, depth: int = 0) -> bool:
    """True if `value` is JSON data (what a saved answer or a typed-in one is)."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return _scalar(value)
