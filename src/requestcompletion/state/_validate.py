"""Checking a loaded saved-run document before anything is built from it.

Loading any file must be safe: a file that parses as JSON can still hold a list
where a number belongs, a parent that points forward, or a count too large for a
float. Every field a view of the run reads (`answer`, `nodes`, `to_graph`,
timing, usage, stamps, `get_info`) is checked here once, so the views can trust
the records, and the only error a malformed file gives is a `SavedRunError` that
says which field is wrong and how.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import SavedRunError

__all__ = ["COLUMNS", "check_document"]

COLUMNS = (
    "type",
    "parent",
    "status",
    "start_us",
    "end_us",
    "start_step",
    "end_step",
    "args",
    "kwargs",
    "output",
)
_STATUSES = frozenset({"running", "succeeded", "failed", "cancelled"})
_LIMIT = 2**62  # any count or time in microseconds a real run can have, and a float holds


class _Bad(Exception):
    """A field is wrong: its place and what it should be."""


def check_document(document: dict[str, Any], where: str) -> None:
    """Raise SavedRunError naming the first field of `document` that a view could not use."""
    try:
        _check(document)
    except _Bad as bad:
        raise SavedRunError(f"{where!r} is not a well-formed saved run: {bad}") from None


def _check(document: dict[str, Any]) -> None:
    _need(isinstance(document.get("run_id"), str), "run_id", "a string", document.get("run_id"))
    _number(document.get("started_at"), "started_at")
    if document.get("ended_at") is not None:
        _number(document["ended_at"], "ended_at")
    for key in ("outcome", "resumed_from"):
        value = document.get(key)
        _need(value is None or isinstance(value, str), key, "a string or null", value)
    for key in ("config", "resources"):
        value = document.get(key)
        _need(value is None or isinstance(value, dict), key, "an object", value)
    types = _list(document.get("types"), "types")
    for i, entry in enumerate(types):
        # [name, key, kind]; a file of schema version 1 has no kind
        ok = isinstance(entry, list) and len(entry) in (2, 3)
        ok = ok and all(isinstance(s, str) for s in entry)
        _need(ok, f"types[{i}]", "a [name, key, kind] list of strings", entry)
    count = _nodes(document.get("nodes"), len(types))
    roots = _list(document.get("roots"), "roots")
    parents = document["nodes"]["parent"]
    for i, root in enumerate(roots):
        _index(root, count, f"roots[{i}]")
        _need(parents[root] is None, f"roots[{i}]", "a node without a parent", root)
    _errors(document.get("errors", {}), count)
    _extras(document.get("extras", {}), count)
    _streamed(document.get("streamed", []), count)


def _nodes(nodes: Any, type_count: int) -> int:
    _need(isinstance(nodes, dict), "nodes", "an object of columns", nodes)
    for name in COLUMNS:
        _need(isinstance(nodes.get(name), list), f"nodes.{name}", "a list", nodes.get(name))
    count = len(nodes["type"])
    for name in COLUMNS:
        got = len(nodes[name])
        _need(got == count, f"nodes.{name}", f"{count} entries, like nodes.type", f"{got}")
    if _columns_fine(nodes, type_count):
        return count
    for i in range(count):  # something is wrong: find the first fault, to name it
        _index(nodes["type"][i], type_count, f"nodes.type[{i}]")
        parent = nodes["parent"][i]
        if parent is not None:
            _index(parent, i, f"nodes.parent[{i}]")  # a parent starts before its children
        status = nodes["status"][i]
        ok = isinstance(status, str) and status in _STATUSES
        _need(ok, f"nodes.status[{i}]", " or ".join(sorted(_STATUSES)), status)
        for name in ("start_us", "start_step"):
            _integer(nodes[name][i], f"nodes.{name}[{i}]")
        for name in ("end_us", "end_step"):
            if nodes[name][i] is not None:
                _integer(nodes[name][i], f"nodes.{name}[{i}]")
        _need(isinstance(nodes["args"][i], list), f"nodes.args[{i}]", "a list", nodes["args"][i])
        kwargs = nodes["kwargs"][i]
        _need(kwargs is None or isinstance(kwargs, dict), f"nodes.kwargs[{i}]", "an object", kwargs)
    return count


_NONE = type(None)
_KINDS: dict[str, set[type]] = {
    "type": {int},
    "parent": {int, _NONE},
    "status": {str},
    "start_us": {int},
    "end_us": {int, _NONE},
    "start_step": {int},
    "end_step": {int, _NONE},
    "args": {list},
    "kwargs": {dict, _NONE},
}


def _columns_fine(nodes: dict[str, list[Any]], type_count: int) -> bool:
    """The per-node checks of `_nodes`, a column at a time at C speed (set, map, min,
    max): a 10,000-node file is checked in about a millisecond. False means some
    check fails, or may: the per-node loop then finds and names the fault."""
    for name, kinds in _KINDS.items():
        if not set(map(type, nodes[name])) <= kinds:
            return False
    if not set(nodes["status"]) <= _STATUSES or not _within(nodes["type"], 0, type_count):
        return False
    for name in ("start_us", "end_us", "start_step", "end_step"):
        if not _within([v for v in nodes[name] if v is not None], 1 - _LIMIT, _LIMIT):
            return False
    return all(p is None or 0 <= p < i for i, p in enumerate(nodes["parent"]))


def _within(values: list[int], low: int, high: int) -> bool:
    return not values or (low <= min(values) and max(values) < high)


def _errors(errors: Any, count: int) -> None:
    _need(isinstance(errors, dict), "errors", "an object", errors)
    for key, error in errors.items():
        _id_key(key, count, "errors")
        ok = isinstance(error, dict) and all(
            isinstance(error.get(field), str) for field in ("type", "message", "traceback")
        )
        _need(ok, f"errors[{key!r}]", "an object of type, message and traceback strings", error)


def _extras(extras: Any, count: int) -> None:
    _need(isinstance(extras, dict), "extras", "an object", extras)
    for key, extra in extras.items():
        _id_key(key, count, "extras")
        _need(isinstance(extra, dict), f"extras[{key!r}]", "an object", extra)
        llm = extra.get("llm")
        if llm is None:
            continue
        _need(isinstance(llm, dict), f"extras[{key!r}].llm", "an object", llm)
        for field in ("input_tokens", "output_tokens"):
            if llm.get(field) is not None:
                _integer(llm[field], f"extras[{key!r}].llm.{field}")
        if llm.get("cost") is not None:
            _number(llm["cost"], f"extras[{key!r}].llm.cost")


def _streamed(streamed: Any, count: int) -> None:
    _need(isinstance(streamed, list), "streamed", "a list", streamed)
    for i, entry in enumerate(streamed):
        _need(
            isinstance(entry, list) and len(entry) == 3,
            f"streamed[{i}]",
            "[node, time, item]",
            entry,
        )
        if entry[0] is not None:
            _index(entry[0], count, f"streamed[{i}][0]")
        if entry[1] is not None:
            _integer(entry[1], f"streamed[{i}][1]")


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(f"{where} should be a list, not {type(value).__name__}")
    return value


def _id_key(key: str, count: int, what: str) -> None:
    ok = key.isdecimal() and len(key) < 19 and int(key) < count
    _need(ok, f"{what}[{key!r}]", f"the id of one of the {count} nodes", key)


def _index(value: Any, below: int, where: str) -> None:
    ok = type(value) is int and 0 <= value < below
    _need(
        ok,
        where,
        f"an index from 0 to {below - 1}" if below else "absent (nothing to point at)",
        value,
    )


def _integer(value: Any, where: str) -> None:
    _need(type(value) is int and -_LIMIT < value < _LIMIT, where, "an integer", value)


def _number(value: Any, where: str) -> None:
    ok = type(value) in (int, float) and -_LIMIT < value < _LIMIT and math.isfinite(value)
    _need(ok, where, "a finite number", value)


def _need(ok: bool, where: str, expected: str, got: Any) -> None:
    if not ok:
        shown = (
            repr(got)
            if isinstance(got, (str, int, float, bool, type(None)))
            else type(got).__name__
        )
        raise _Bad(f"{where} should be {expected}, not {shown[:80]}")
