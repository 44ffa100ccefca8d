"""`requestcompletion runs` and `requestcompletion show RUN`: saved runs in the terminal.

Both read the files a runner writes (``.covailence/<run id>.json``, or the
``<run id>.journal`` a run leaves while it goes and when its process dies)
through `ExecutionInfo.load`, so they accept exactly what the library accepts,
and draw with `rich`, imported here only.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._text import escape_controls as clean
from ..errors import SavedRunError
from ..state import ExecutionInfo
from ..state.persistence import inside_folder as _inside

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from ..state.records import NodeInfo

__all__ = ["find_run", "list_runs", "show_run"]

_STATUS = {
    "succeeded": ("✓", "green"),
    "failed": ("✗", "red"),
    "cancelled": ("⊘", "yellow"),
    "running": ("…", "cyan"),
}
_OUTCOME_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "timeout": "red",
    "cancelled": "yellow",
    "interrupted": "magenta",
    "running": "cyan",
    "waiting": "cyan",
}


def list_runs(state_dir: str) -> int:
    """Print a table of the runs in `state_dir`, oldest first; return the exit code.

    A file that cannot be loaded is listed as unreadable, with the reason; a symlink
    pointing outside the folder is listed as not followed (it is never read).
    """
    from rich.table import Table
    from rich.text import Text

    folder = Path(state_dir)
    files = _run_files(folder.glob("*")) if folder.is_dir() else []
    loaded: list[tuple[Path, ExecutionInfo]] = []
    unreadable: list[tuple[str, str]] = []
    for path in files:
        try:
            loaded.append((path, ExecutionInfo.load(_inside(path, folder))))
        except SavedRunError as error:
            unreadable.append((path.name, str(error)))
    console = _console()
    if not loaded and not unreadable:
        where = clean(os.fspath(folder))
        console.print(Text(f"No saved runs in {where!r}. Make one with: requestcompletion demo"))
        return 0
    loaded.sort(key=lambda entry: entry[1].run_fields.get("started_at") or 0.0)
    table = Table(title=Text(f"Saved runs in {clean(os.fspath(folder))}"), title_justify="left")
    for column in ("run id", "started", "duration", "outcome", "nodes", "tokens"):
        table.add_column(column, justify="right" if column in ("nodes", "tokens") else "left")
    for path, info in loaded:
        fields = info.run_fields
        # a second run saved under a taken id (<id>.2.json): say which file, for `show`
        where = "" if path.stem == info.run_id else f" ({path.stem})"
        outcome = clean(_outcome(fields))
        asked = len(_open_questions(info))
        table.add_row(
            Text(clean(info.run_id + where)),
            _when(fields.get("started_at")),
            _seconds(_duration(fields)),
            Text(
                outcome + (f" ({asked} open questions)" if asked else ""),
                style=_OUTCOME_STYLE.get(outcome, "white"),
            ),
            _progress(info),
            _tokens(info.usage),
        )
    for name, _ in unreadable:
        table.add_row(Text(clean(name)), "", "", Text("unreadable", style="red"), "", "")
    console.print(table)
    for name, reason in unreadable:
        console.print(Text(f"unreadable {clean(name)}: {clean(reason)}", style="dim"))
    console.print("Look at one with: requestcompletion show <run id>")
    return 0


def find_run(run: str, state_dir: str) -> Path:
    """The file of `run`: a path to a file, a run id, or a unique start of a run id.

    Raises:
        SavedRunError: no such run, or the start of an id matches several runs.
    """
    given = Path(run)
    if given.suffix in (".json", ".journal") or os.sep in run or given.is_file():
        if not given.is_file():
            raise SavedRunError(f"no saved run at {run!r}")
        return given
    folder = Path(state_dir)
    for suffix in (".json", ".journal"):
        exact = folder / f"{run}{suffix}"
        if exact.is_file():
            return _inside(exact, folder)
    matches = _run_files(folder.glob(f"{_glob_escape(run)}*")) if folder.is_dir() else []
    if len(matches) == 1:
        return _inside(matches[0], folder)
    if len(matches) > 1:
        names = ", ".join(m.stem for m in matches[:5])
        raise SavedRunError(f"{run!r} matches several runs ({names}); give more of the id")
    raise SavedRunError(
        f"no run {run!r} in {os.fspath(folder)!r}; list the saved runs with: "
        f"requestcompletion runs --state-dir {os.fspath(folder)}"
    )


def show_run(run: str, state_dir: str) -> int:
    """Draw the call tree of a saved run; return the exit code."""
    from rich.text import Text
    from rich.tree import Tree

    info = ExecutionInfo.load(find_run(run, state_dir))
    fields = info.run_fields
    outcome = clean(_outcome(fields))
    header = Text.assemble(
        (f"run {clean(info.run_id)}", "bold"),
        " · ",
        (outcome, _OUTCOME_STYLE.get(outcome, "white")),
        f" · started {_when(fields.get('started_at'))} · {_seconds(_duration(fields))} · "
        f"{_progress(info)} nodes · {_tokens(info.usage)} tokens",
    )
    if isinstance(fields.get("resumed_from"), str):
        header.append(f" · resumed from {clean(fields['resumed_from'])}", "cyan")
    if info.journal_torn:
        header.append(" · its journal's last line was cut short by the crash and dropped", "dim")
    tree = Tree(header)
    branches: dict[int, Tree] = {}
    for node in info.nodes:  # parents come before their children
        parent = branches.get(node.parent_id) if node.parent_id is not None else None
        branches[node.id] = (parent or tree).add(_label(node))
    if not info.nodes:
        tree.add(Text("(no nodes ran)", style="dim"))
    console = _console()
    console.print(tree)
    waiting = _open_questions(info)
    if waiting:
        console.print(Text(f"{len(waiting)} open questions (rc.ask), by id:", style="cyan"))
        for asker, question in waiting:
            text = f"  {clean(str(question.get('id')))}  {clean(asker)}: "
            schema = question.get("schema")
            fits = "" if schema is None else f"  (answer: {_clip(json.dumps(schema), 120)})"
            console.print(Text(text + _clip(str(question.get("question")), 200) + fits))
    return 0


def _open_questions(info: ExecutionInfo) -> list[tuple[str, dict[str, Any]]]:
    """(node name, question) of each `rc.ask` question of the run left unanswered."""
    return [
        (node.name, question)
        for node in info.nodes
        for question in (node.extras or {}).get("questions", ())
        if isinstance(question, dict) and question.get("status") == "open"
    ]


def _label(node: NodeInfo) -> Text:
    """One node's line, built as rich Text: saved strings are never read as markup."""
    from rich.text import Text

    icon, colour = _STATUS.get(node.status, ("?", "white"))
    parts: list[str | tuple[str, str]] = [
        (icon, colour),
        " ",
        (clean(node.name), "bold"),
        " ",
        (f"#{node.id}", "dim"),
        "  ",
        (node.status, colour),
    ]
    if node.replayed:  # a resumed run took its output from the run it resumed
        parts.append(("  replayed", "cyan"))
    if node.end is not None:
        parts.append(f"  {_seconds(node.end - node.start)}")
    llm = (node.extras or {}).get("llm")
    if isinstance(llm, dict):
        parts.append(
            f"  {llm.get('input_tokens') or 0}→{llm.get('output_tokens') or 0} tokens"
            f" ({_clip(str(llm.get('model', '?')))})"
        )
    inputs = _short([*node.args, *(f"{k}={v!r}" for k, v in node.kwargs.items())])
    if inputs:
        parts.append(("  in: " + inputs, "dim"))
    if node.error is not None:
        parts.append((f"  {_clip(node.error.type)}: {_clip(node.error.message)}", "red"))
    elif node.status == "succeeded":
        parts.append(("  out: " + _clip(_output(node.output)), "dim"))
    return Text.assemble(*parts)


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
    text = clean(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _run_files(paths: Any) -> list[Path]:
    """The saved runs among `paths`: the JSON files and the journals. A journal is
    removed once its run's JSON is written, so one that is left is a run of its own
    (one whose process died), even beside a JSON of the same name (a later run that
    reused the run_identifier)."""
    return sorted(path for path in paths if path.suffix in (".json", ".journal"))


def _outcome(fields: dict[str, Any]) -> str:
    """The outcome to show; a journal whose process is still alive here is "running"."""
    outcome = str(fields.get("outcome") or "unfinished")
    journal = fields.get("journal")
    if outcome == "interrupted" and isinstance(journal, dict) and _alive(journal.get("pid")):
        return "running"
    return outcome


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or pid == os.getpid():
        return False  # not a process, or this one (reading a journal it left, or a copy)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def _progress(info: ExecutionInfo) -> str:
    """How many nodes ran; for a run that did not close, how many never finished."""
    nodes = info.nodes
    unfinished = sum(1 for node in nodes if node.status == "running")
    return f"{len(nodes)} ({unfinished} unfinished)" if unfinished else str(len(nodes))


def _duration(fields: dict[str, Any]) -> float | None:
    start, end = fields.get("started_at"), fields.get("ended_at")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return float(end - start)
    journal = fields.get("journal")
    if isinstance(journal, dict) and isinstance(journal.get("last_us"), int):
        return float(journal["last_us"]) / 1e6  # how far it got: its last recorded change
    return None


def _when(timestamp: Any) -> str:
    if not isinstance(timestamp, int | float):
        return "?"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
    except (OverflowError, OSError, ValueError):  # a year the C library cannot show
        return "?"


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _tokens(usage: dict[str, Any]) -> str:
    return str((usage.get("input_tokens") or 0) + (usage.get("output_tokens") or 0))


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)
