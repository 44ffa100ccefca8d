"""Saving a run as JSON and reading it back.

The file holds one column per node field (a list of every node's type, parent,
status, times, inputs, output) rather than one object per node: the field names
are written once, so the file is smaller than a dict per node and quicker to
write. Times are integer microseconds since the run started. Values JSON cannot
hold (objects, bytes, NaN, cycles) are written as a tagged repr
`{"$type": ..., "$repr": ...}`; nothing is ever pickled. Writing goes to a
temporary file in the same folder, renamed over the target, so a crash never
leaves half a file.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..errors import SavedRunError
from .records import ErrorInfo, NodeRecord
from .state import RCState

__all__ = ["SCHEMA_VERSION", "dumps", "load_state", "state_document", "write_atomic"]

SCHEMA_VERSION = 1
_COLUMNS = ("type", "parent", "status", "start_us", "end_us", "start_step", "end_step")
_VALUE_COLUMNS = ("args", "kwargs", "output")


def _tag(value: Any) -> Any:
    """json's `default`: a pydantic model as its JSON dump, anything else as a tagged repr."""
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    dump = getattr(value, "model_dump", None)
    if dump is not None and "pydantic" in sys.modules:
        try:
            return {"$type": kind, "$value": dump(mode="json")}
        except Exception:
            pass
    try:
        text = repr(value)
    except Exception as exc:  # a repr that raises must not lose the run
        text = f"<unrepresentable: {type(exc).__name__}>"
    return {"$type": kind, "$repr": text[:20_000]}


def _safe(value: Any) -> Any:
    """`value` if json can write it exactly, else its tagged repr (for NaN, cycles, odd keys)."""
    try:
        json.dumps(value, default=_tag, allow_nan=False)
        return value
    except (ValueError, TypeError, RecursionError):
        if isinstance(value, float) and not math.isfinite(value):
            return {"$type": "float", "$repr": repr(value)}
        return _tag(value)


def dumps(document: dict[str, Any]) -> str:
    """The document as compact JSON; values JSON cannot hold are tagged, never lost."""
    try:
        return json.dumps(document, default=_tag, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        pass  # some value is NaN, cyclic or has odd keys: tag each value on its own
    nodes = document["nodes"]
    for column in _VALUE_COLUMNS:
        nodes[column] = [_safe(v) for v in nodes[column]]
    document["streamed"] = [[n, t, _safe(item)] for n, t, item in document["streamed"]]
    document["extras"] = {k: _safe(v) for k, v in document["extras"].items()}
    document["config"] = {k: _safe(v) for k, v in document["config"].items()}
    return json.dumps(document, default=_tag, allow_nan=False, separators=(",", ":"))


def state_document(state: RCState, **run: Any) -> dict[str, Any]:
    """The saved form of a run: `run` adds run-level fields (outcome, config, resources)."""
    records = state.records
    t0 = state.t0
    # keyed by name as well as by module:qualname: two function_node(f, name=...) of one
    # function (or a factory's inner function) share a key but are different nodes
    types: dict[tuple[str, str], int] = {}
    type_list: list[list[str]] = []

    def type_index(record: NodeRecord) -> int:
        spec = record.spec
        index = types.get((spec.name, spec.key))
        if index is None:
            index = types[spec.name, spec.key] = len(type_list)
            type_list.append([spec.name, spec.key])
        return index

    def us(t: float | None) -> int | None:
        return None if t is None else int((t - t0) * 1e6)

    errors = {str(r.id): _error_dict(r.error) for r in records if r.error is not None}
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": state.run_id,
        "started_at": state.wall0,
        **run,
        "types": type_list,
        "roots": state.roots,
        "nodes": {
            "type": [type_index(r) for r in records],
            "parent": [None if r.parent is None else r.parent.id for r in records],
            "status": [r.status for r in records],
            "start_us": [int((r.start - t0) * 1e6) for r in records],
            "end_us": [us(r.end) for r in records],
            "start_step": [r.start_step for r in records],
            "end_step": [r.end_step for r in records],
            "args": [r.args for r in records],
            "kwargs": [r.kwargs for r in records],
            "output": [r.output for r in records],
        },
        "errors": errors,
        "extras": {str(k): v for k, v in state.extras.items()},
        "streamed": [[n, us(t), item] for n, t, item in state.streamed],
    }


def _error_dict(error: BaseException | ErrorInfo) -> dict[str, str]:
    info = ErrorInfo.of(error)
    return {"type": info.type, "message": info.message, "traceback": info.traceback}


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class SavedType:
    """The type of a node in a loaded run: its name and key, no code."""

    __slots__ = ("key", "name")

    def __init__(self, name: str, key: str) -> None:
        self.name, self.key = name, key


def load_state(path: str | os.PathLike[str]) -> tuple[RCState, dict[str, Any]]:
    """Read a saved run back: the rebuilt state and the run-level fields of the file.

    Raises:
        SavedRunError: the file is missing, not JSON, not a run, or from a newer version.
    """
    where = os.fspath(path)
    try:
        with open(where, encoding="utf-8") as file:
            document = json.load(file)
    except FileNotFoundError:
        raise SavedRunError(f"no saved run at {where!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SavedRunError(f"cannot read {where!r}: {exc}") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SavedRunError(f"{where!r} is not valid JSON ({exc}); the file is corrupt") from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise SavedRunError(f"{where!r} is JSON but not a saved requestcompletion run")
    version = document["schema_version"]
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise SavedRunError(
            f"{where!r} was saved with schema version {version!r}, newer than this "
            f"requestcompletion understands ({SCHEMA_VERSION}); upgrade requestcompletion"
        )
    try:
        return _rebuild(document), document
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise SavedRunError(f"{where!r} is not a well-formed saved run: {exc!r}") from None


def _rebuild(document: dict[str, Any]) -> RCState:
    from ..pubsub.publisher import RCPublisher

    state = RCState(document["run_id"], RCPublisher(document["run_id"]))
    state.t0, state.wall0 = 0.0, float(document["started_at"])
    types = [SavedType(name, key) for name, key in document["types"]]
    nodes = document["nodes"]
    columns = [nodes[name] for name in (*_COLUMNS, *_VALUE_COLUMNS)]
    records = state.records
    for i, (kind, parent, status, start, end, s_step, e_step, args, kwargs, output) in enumerate(
        zip(*columns, strict=True)
    ):
        record = NodeRecord(
            i,
            types[kind],
            tuple(args) if isinstance(args, list) else args,
            kwargs,
            None if parent is None else records[parent],
            start / 1e6,
            s_step,
            None,
        )
        record.status, record.output = status, output
        record.end = None if end is None else end / 1e6
        record.end_step = e_step
        records.append(record)
    for key, error in document.get("errors", {}).items():
        records[int(key)].error = ErrorInfo(error["type"], error["message"], error["traceback"])
    state.roots = list(document["roots"])
    state.extras = {int(k): v for k, v in document.get("extras", {}).items()}
    state.streamed = [(n, (t or 0) / 1e6, item) for n, t, item in document.get("streamed", [])]
    state.step = max((r.end_step or r.start_step for r in records), default=0)
    return state
