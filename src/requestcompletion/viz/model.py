"""What the viewer's page is given: saved runs turned into plain JSON-ready data.

Runs are read only through `ExecutionInfo.load`, the library's own loading path, so
the viewer accepts exactly the files the library accepts (a saved `.json` today, a
`.journal` once the loader reads one) and shows a file it refuses as unreadable,
with the loader's own message.

A run is sent as columns (one list per node field), the way the saved file stores
it: a 10,000-node run stays a few hundred kilobytes and the page indexes it once.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SavedRunError
from ..state import ExecutionInfo
from ..state.records import ErrorInfo, NodeInfo

__all__ = ["RUN_SUFFIXES", "run_files", "run_model", "runs_listing", "summary", "to_json"]

# The forms a run is saved in: the final file, and the journal of a run in progress.
RUN_SUFFIXES = (".json", ".journal")


def run_files(folder: Path) -> dict[str, Path]:
    """The run files in `folder` by run id; a run's final `.json` wins over its journal."""
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        wanted = path.suffix in RUN_SUFFIXES and not path.name.startswith(".")
        if wanted and (path.stem not in found or path.suffix == ".json"):
            found[path.stem] = path
    return found


def summary(info: ExecutionInfo, nodes: list[NodeInfo] | None = None) -> dict[str, Any]:
    """The run-level figures shown in the list and the run's header (`nodes`: its
    nodes, when the caller has them already)."""
    if nodes is None:
        nodes = info.nodes
    fields = info.run_fields
    start, end = fields.get("started_at"), fields.get("ended_at")
    numbers = (int, float)
    duration = end - start if isinstance(start, numbers) and isinstance(end, numbers) else None
    usage = info.usage
    budget = usage.get("budget")
    return {
        "id": info.run_id,
        "started_at": start if isinstance(start, numbers) else None,
        "duration": duration,
        "outcome": _outcome(fields),
        "nodes": len(nodes),
        "input_tokens": usage.get("input_tokens") or 0,
        "output_tokens": usage.get("output_tokens") or 0,
        "cost": usage.get("cost"),
        "resumed_from": fields.get("resumed_from"),
        "open_questions": sum(q["status"] == "open" for q in _questions(nodes)),
        # the run's rc.Budget: limits, spent, reserved (a field the page reads defensively)
        "budget": budget if isinstance(budget, dict) else None,
    }


def _questions(nodes: list[NodeInfo]) -> list[dict[str, Any]]:
    """Every `rc.ask` question of the run with its asking node (loading checked their form)."""
    return [
        {"node": node.id, **question}
        for node in nodes
        for question in (node.extras or {}).get("questions", ())
    ]


def _outcome(fields: dict[str, Any]) -> str:
    """The run's outcome; a journal whose writing process is still alive is "running"."""
    outcome = fields.get("outcome")
    journal = fields.get("journal")
    if outcome == "interrupted" and isinstance(journal, dict):
        pid = journal.get("pid")
        if isinstance(pid, int) and pid > 0 and _alive(pid):
            return "running"
    return str(outcome or "running")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _summarise(path: Path) -> dict[str, Any]:
    return summary(ExecutionInfo.load(path))


def runs_listing(
    folder: Path, summarise: Callable[[Path], dict[str, Any]] = _summarise
) -> list[dict[str, Any]]:
    """Every run in `folder`, newest first; an unreadable file is listed with its error.

    Args:
        folder: the state folder.
        summarise: one run file's `summary` (the server passes one that keeps what it read).
    """
    listing: list[dict[str, Any]] = []
    for name, path in run_files(folder).items():
        try:
            figures = summarise(path)
        except SavedRunError as error:
            entry: dict[str, Any] = {"id": name, "unreadable": str(error)}
        else:
            # keyed by file name: a run id used twice is saved as `<id>.json`, `<id>.2.json`
            entry = {**figures, "id": name, "run_id": figures["id"]}
        entry["file"] = path.name
        entry["mtime"] = _mtime(path)
        listing.append(entry)
    listing.sort(key=lambda e: e.get("started_at") or e["mtime"], reverse=True)
    return listing


def run_model(info: ExecutionInfo) -> dict[str, Any]:
    """One run for the page: its summary and its nodes as columns.

    Times are seconds since the run started. Values stay as the saved file holds
    them (tagged reprs included); the page shows them as text.
    """
    nodes = info.nodes
    t0 = info.run_fields.get("started_at")
    if not isinstance(t0, int | float):
        t0 = min((n.start for n in nodes), default=0.0)
    names: dict[str, int] = {}
    # one pass per column: a 10,000-node run is built in a few milliseconds per column
    columns: dict[str, list[Any]] = {
        "name": [names.setdefault(n.name, len(names)) for n in nodes],
        "parent": [n.parent_id for n in nodes],
        "status": [n.status for n in nodes],
        "start": [round(n.start - t0, 6) for n in nodes],
        "end": [None if n.end is None else round(n.end - t0, 6) for n in nodes],
        "args": [n.args for n in nodes],
        "kwargs": [n.kwargs for n in nodes],
        "output": [n.output for n in nodes],
        "error": [None if n.error is None else _error(n.error) for n in nodes],
        "extras": [n.extras for n in nodes],
        "replayed": [n.replayed for n in nodes],  # reused by Runner.from_state
    }
    return {
        "summary": summary(info, nodes),
        "names": list(names),
        "nodes": columns,
        "streamed": [[node_id, item] for node_id, item in info.streamed],
        "questions": _questions(nodes),
    }


def _error(error: ErrorInfo) -> dict[str, str]:
    return {"type": error.type, "message": error.message, "traceback": error.traceback}


def to_json(value: Any) -> str:
    """`value` as JSON for the page: anything JSON cannot hold becomes its repr."""
    try:
        return json.dumps(value, default=repr, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or infinity (json.load accepts them): JSON.parse would not
        return json.dumps(_finite(value), default=repr, separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
