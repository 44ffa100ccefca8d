"""`requestcompletion runs` and `requestcompletion show RUN`: saved runs in the terminal.

Both read the files a runner writes (``.covailence/<run id>.json``) through
`ExecutionInfo.load`, so they accept exactly what the library accepts, and draw
with `rich`, imported here only.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SavedRunError
from ..state import ExecutionInfo

if TYPE_CHECKING:
    from rich.console import Console

    from ..state.records import NodeInfo

__all__ = ["find_run", "list_runs", "show_run"]

_STATUS = {
    "succeeded": ("✓", "green"),
    "failed": ("✗", "red"),
    "cancelled": ("⊘", "yellow"),
    "running": ("…", "cyan"),
}
_OUTCOME_STYLE = {"succeeded": "green", "failed": "red", "timeout": "red", "cancelled": "yellow"}


def list_runs(state_dir: str) -> int:
    """Print a table of the runs in `state_dir`, oldest first; return the exit code."""
    from rich.table import Table

    folder = Path(state_dir)
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    loaded: list[ExecutionInfo] = []
    for path in files:
        try:
            loaded.append(ExecutionInfo.load(path))
        except SavedRunError as error:
            print(f"requestcompletion: skipped {error}", file=sys.stderr)
    console = _console()
    if not loaded:
        console.print(
            f"No saved runs in {os.fspath(folder)!r}. Make one with: requestcompletion demo"
        )
        return 0
    loaded.sort(key=lambda info: info.run_fields.get("started_at") or 0.0)
    table = Table(title=f"Saved runs in {os.fspath(folder)}", title_justify="left")
    for column in ("run id", "started", "duration", "outcome", "nodes", "tokens"):
        table.add_column(column, justify="right" if column in ("nodes", "tokens") else "left")
    for info in loaded:
        fields = info.run_fields
        outcome = str(fields.get("outcome") or "unfinished")
        table.add_row(
            info.run_id,
            _when(fields.get("started_at")),
            _seconds(_duration(fields)),
            f"[{_OUTCOME_STYLE.get(outcome, 'white')}]{outcome}[/]",
            str(len(info.nodes)),
            _tokens(info.usage),
        )
    console.print(table)
    console.print("Look at one with: requestcompletion show <run id>")
    return 0


def find_run(run: str, state_dir: str) -> Path:
    """The file of `run`: a path to a file, a run id, or a unique start of a run id.

    Raises:
        SavedRunError: no such run, or the start of an id matches several runs.
    """
    given = Path(run)
    if given.suffix == ".json" or os.sep in run or given.is_file():
        if not given.is_file():
            raise SavedRunError(f"no saved run at {run!r}")
        return given
    folder = Path(state_dir)
    exact = folder / f"{run}.json"
    if exact.is_file():
        return exact
    matches = sorted(folder.glob(f"{_glob_escape(run)}*.json")) if folder.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(m.stem for m in matches[:5])
        raise SavedRunError(f"{run!r} matches several runs ({names}); give more of the id")
    raise SavedRunError(
        f"no run {run!r} in {os.fspath(folder)!r}; list the saved runs with: "
        f"requestcompletion runs --state-dir {os.fspath(folder)}"
    )


def show_run(run: str, state_dir: str) -> int:
    """Draw the call tree of a saved run; return the exit code."""
    from rich.tree import Tree

    info = ExecutionInfo.load(find_run(run, state_dir))
    fields = info.run_fields
    outcome = str(fields.get("outcome") or "unfinished")
    style = _OUTCOME_STYLE.get(outcome, "white")
    header = (
        f"[bold]run {info.run_id}[/] · [{style}]{outcome}[/] · started "
        f"{_when(fields.get('started_at'))} · {_seconds(_duration(fields))} · "
        f"{len(info.nodes)} nodes · {_tokens(info.usage)} tokens"
    )
    tree = Tree(header)
    branches: dict[int, Tree] = {}
    for node in info.nodes:  # parents come before their children
        parent = branches.get(node.parent_id) if node.parent_id is not None else None
        branches[node.id] = (parent or tree).add(_label(node))
    if not info.nodes:
        tree.add("[dim](no nodes ran)[/]")
    _console().print(tree)
    return 0


def _label(node: NodeInfo) -> str:
    from rich.markup import escape

    icon, colour = _STATUS.get(node.status, ("?", "white"))
    parts = [f"[{colour}]{icon}[/] [bold]{escape(node.name)}[/] [dim]#{node.id}[/]"]
    parts.append(f"[{colour}]{node.status}[/]")
    if node.end is not None:
        parts.append(_seconds(node.end - node.start))
    llm = (node.extras or {}).get("llm")
    if isinstance(llm, dict):
        parts.append(
            f"{llm.get('input_tokens') or 0}→{llm.get('output_tokens') or 0} tokens"
            f" ({escape(str(llm.get('model', '?')))})"
        )
    inputs = _short([*node.args, *(f"{k}={v!r}" for k, v in node.kwargs.items())])
    if inputs:
        parts.append(f"[dim]in: {escape(inputs)}[/]")
    if node.error is not None:
        parts.append(f"[red]{escape(node.error.type)}: {escape(_clip(node.error.message))}[/]")
    elif node.status == "succeeded":
        parts.append(f"[dim]out: {escape(_clip(_output(node.output)))}[/]")
    return "  ".join(parts)


def _console() -> Console:
    from rich.console import Console

    # a pipe or a file gets long lines rather than rich's default of 80 columns
    return Console(highlight=False, width=None if sys.stdout.isatty() else 200)


def _output(value: Any) -> str:
    if isinstance(value, dict) and "$value" in value:
        value = value["$value"]  # a pydantic-style object saved as data
    if isinstance(value, dict) and "output" in value and "history" in value:
        value = value["output"]  # an agent's saved AgentResult: show its answer
    if isinstance(value, dict) and "$repr" in value:
        value = value["$repr"]
    return value if isinstance(value, str) else repr(value)


def _short(values: list[Any]) -> str:
    return _clip(", ".join(v if isinstance(v, str) else repr(v) for v in values))


def _clip(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(fields: dict[str, Any]) -> float | None:
    start, end = fields.get("started_at"), fields.get("ended_at")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return float(end - start)
    return None


def _when(timestamp: Any) -> str:
    if not isinstance(timestamp, int | float):
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _tokens(usage: dict[str, Any]) -> str:
    return str((usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0))


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)
