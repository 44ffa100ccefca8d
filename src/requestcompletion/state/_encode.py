"""Turning whatever a node returned into JSON, losing as little as possible.

A run is saved whatever its nodes returned or raised, so this encoder never
raises for a value: what JSON cannot hold is replaced *in place* by a tag, and
the rest of the value is kept as data:

- a non-finite float becomes ``{"$type": "float", "$repr": "nan"}``; an int too
  long for a decimal literal, ``{"$type": "int", "$repr": "0x..."}`` (hex has no
  length limit and loses nothing);
- sets, dataclasses and types with a ``model_dump`` method (pydantic models,
  `AgentResult`) become ``{"$type": ..., "$value": <their data>}``;
- anything else becomes ``{"$type": ..., "$repr": <its repr>}``; a repr that
  raises is named, not raised.

Values are inspected through their real type (``type(value)``): a method or a
dataclass field is looked up on the type, never asked of the instance, because a
proxy or a `MagicMock` answers any attribute with a callable, which once made
saving recurse without end.
Cycles, nesting deeper than `MAX_DEPTH`, strings longer than `MAX_STRING` and
values of more than `MAX_ITEMS` items are cut, and each cut is reported in
`problems` so that the saver can warn about it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "MAX_STRING", "Encoder"]

MAX_DEPTH = 100  # far below the JSON reader's recursion limit, so the file loads back
MAX_ITEMS = 1_000_000  # per top-level value: keeps the file under the loader's size limit
MAX_STRING = 4_000_000  # characters per string
_CONTAINERS = frozenset({dict, list, tuple})
_MAX_REPR = 20_000  # a repr is a description, not data: a short one serves
# a subclass of a plain type (an enum, a str subclass) is stored as its plain data, read
# through the base type's own method so an override cannot change (or break) it
_AS_PLAIN: tuple[tuple[type, Any], ...] = (
    (str, str.__str__),
    (int, int.__int__),
    (float, float.__float__),
)


class Encoder:
    """Encodes values one at a time and collects what it could not store as it was."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._budget = MAX_ITEMS
        self._path: set[int] = set()  # ids of the containers being encoded: cycles
        self._where = ""

    def value(self, value: Any, where: str) -> Any:
        """`value` as JSON-native data; `where` names it in `problems`."""
        self._budget, self._where = MAX_ITEMS, where
        return self._encode(value, 0)

    def _note(self, what: str) -> None:
        self.problems.append(f"{self._where}: {what}")

    def _encode(self, value: Any, depth: int) -> Any:
        kind = type(value)
        self._budget -= 1
        if self._budget < 0:
            if self._budget == -1:
                self._note(f"more than {MAX_ITEMS:,} items; the rest is not stored")
            return _tag(_kind(kind), "<not stored: the value is too large>")
        if kind is str:
            return value if len(value) <= MAX_STRING else self._cut_string(value)
        if kind is int or kind is bool or value is None:
            return value if kind is not int or _short_int(value) else _tag("int", hex(value))
        if kind is float:
            return value if math.isfinite(value) else _tag("float", repr(value))
        if depth >= MAX_DEPTH:
            self._note(f"nested deeper than {MAX_DEPTH} levels; the deeper part is not stored")
            return _tag(_kind(kind), "<not stored: nested too deep>")
        try:
            return self._structured(value, kind, depth + 1)
        except Exception as exc:  # a value that breaks while read must not lose the run
            self._note(f"reading a {_kind(kind)} raised {type(exc).__name__}; its repr is stored")
            return self._repr(value, kind)

    def _structured(self, value: Any, kind: type, depth: int) -> Any:
        if kind not in _CONTAINERS:  # the common containers skip the subclass checks
            for base, plain in _AS_PLAIN:
                if issubclass(kind, base):
                    return self._encode(plain(value), depth)
            if issubclass(kind, bytes | bytearray):
                return self._repr(value, kind)
        marker = id(value)
        if marker in self._path:
            self._note(f"a {_kind(kind)} contains itself; the inner reference is not stored")
            return _tag(_kind(kind), "<cycle>")
        self._path.add(marker)
        try:
            return self._container(value, kind, depth)
        finally:
            self._path.discard(marker)

    def _container(self, value: Any, kind: type, depth: int) -> Any:
        encode = self._encode
        if kind is dict:
            return {
                k if type(k) is str and len(k) <= MAX_STRING else _key(k): encode(v, depth)
                for k, v in value.items()
            }
        if kind is list or kind is tuple:
            return [encode(item, depth) for item in value]
        if issubclass(kind, list | tuple):
            items = list.__iter__(value) if issubclass(kind, list) else tuple.__iter__(value)
            return [encode(item, depth) for item in items]
        if issubclass(kind, dict):
            return {_key(k): encode(v, depth) for k, v in dict.items(value)}
        if issubclass(kind, set | frozenset):
            return {"$type": _kind(kind), "$value": [encode(item, depth) for item in value]}
        dump = getattr(kind, "model_dump", None)  # looked up on the type: proxies cannot fake it
        if callable(dump):
            return {"$type": _kind(kind), "$value": encode(_dumped(dump, value), depth)}
        if dataclasses.is_dataclass(kind):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(kind)}
            return {"$type": _kind(kind), "$value": encode(fields, depth)}
        return self._repr(value, kind)

    def _repr(self, value: Any, kind: type) -> dict[str, str]:
        try:
            text = repr(value)
        except Exception as exc:
            self._note(f"repr() of a {_kind(kind)} raised {type(exc).__name__}")
            text = f"<unrepresentable: repr() raised {type(exc).__name__}>"
        return _tag(_kind(kind), text[:_MAX_REPR])

    def _cut_string(self, value: str) -> str:
        self._note(f"a string of {len(value):,} characters is cut to {MAX_STRING:,}")
        return value[:MAX_STRING]


def _dumped(dump: Any, value: Any) -> Any:
    try:
        return dump(value, mode="json")
    except Exception:  # e.g. a field pydantic cannot serialise: its raw data, encoded by us
        return dump(value, mode="python")


def _tag(kind: str, text: str) -> dict[str, str]:
    return {"$type": kind, "$repr": text}


def _kind(kind: type) -> str:
    try:
        return f"{kind.__module__}.{kind.__qualname__}"
    except Exception:  # a metaclass with odd attributes: the name is only a label
        return "?"


def _short_int(value: int) -> bool:
    # CPython refuses decimal conversion beyond 4300 digits; 14000 bits is safely below
    return value.bit_length() < 14_000


def _key(key: Any) -> str:
    """A dict key as JSON's (always a string): the way `json` writes the plain ones."""
    kind = type(key)
    if kind is str:
        text: str = key
        return text if len(text) <= MAX_STRING else text[:MAX_STRING]
    if key is None or kind is bool:
        return {None: "null", True: "true", False: "false"}[key]
    if kind is int:
        return str(key) if _short_int(key) else hex(key)
    if kind is float:
        return repr(key)
    try:
        return repr(key)[:_MAX_REPR]
    except Exception as exc:
        return f"<unrepresentable key: repr() raised {type(exc).__name__}>"
