"""Reading a journal back: its lines (`read_journal`) and the run they describe (`load_journal`).

The format is described in `requestcompletion.state._journal_lines`; a column line
(``r``, ``s``, ``n``, from version 2) is read as the rows it packs, so everything
after `read_journal` sees one row per change, whichever version wrote the file.
A journal is what a process left behind when it died before closing its runner,
so reading it expects a torn last line (dropped, and said so) but nothing else
out of place: any other damage is a `SavedRunError`, raised before anything is
built.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from ..errors import SavedRunError
from ._journal_lines import expand
from .journal import JOURNAL_VERSION, MAX_JOURNAL_BYTES
from .persistence import SCHEMA_VERSION, SavedType
from .records import ErrorInfo, NodeRecord
from .state import RCState

__all__ = ["load_journal", "read_journal"]


def read_journal(path: str | os.PathLike[str]) -> tuple[list[list[Any]], bool]:
    """The journal's lines, parsed, and whether its last line was torn (and dropped).

    Raises:
        SavedRunError: the file is missing, not a regular file, too big, not a
            journal, damaged before its last line, or from a newer journal version.
    """
    where = os.fspath(path)
    try:
        info = os.stat(where)
        if not stat.S_ISREG(info.st_mode):
            raise SavedRunError(f"{where!r} is not a regular file; give the path of a .journal")
        if info.st_size > MAX_JOURNAL_BYTES:
            raise SavedRunError(
                f"{where!r} is {info.st_size:,} bytes, more than the {MAX_JOURNAL_BYTES:,} a "
                f"journal may have (journal.MAX_JOURNAL_BYTES); it was not read"
            )
        with open(where, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise SavedRunError(f"no journal at {where!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SavedRunError(f"cannot read {where!r}: {exc}") from None
    pieces = text.split("\n")
    tail = pieces.pop()  # after the last newline: "" unless the last write was cut short
    lines, torn = [], False
    for number, piece in enumerate(pieces, start=1):
        try:
            lines.append(_row(piece))
        except ValueError as exc:
            raise SavedRunError(
                f"{where!r} line {number} is not a journal line ({exc}); the file is damaged "
                f"before its end, which a crash does not do"
            ) from None
    if tail:
        try:
            lines.append(_row(tail))  # cut just before its newline: the line is whole
        except ValueError:
            torn = True
    if not lines or lines[0][0] != "H" or not isinstance(lines[0][1], dict):
        raise SavedRunError(f"{where!r} is not a requestcompletion journal (no header line)")
    version = lines[0][1].get("journal_version")
    if not isinstance(version, int) or version > JOURNAL_VERSION:
        raise SavedRunError(
            f"{where!r} was written with journal version {version!r}, newer than this "
            f"requestcompletion understands ({JOURNAL_VERSION}); upgrade requestcompletion"
        )
    return lines, torn


def _row(text: str) -> list[Any]:
    try:
        row = json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(row, list) or not row or not isinstance(row[0], str):
        raise ValueError("not a JSON array starting with its kind")
    return row


def load_journal(path: str | os.PathLike[str]) -> tuple[RCState, dict[str, Any]]:
    """The run a journal describes: its state, and its run-level fields.

    The fields hold ``outcome`` (``"interrupted"`` unless the runner closed) and
    ``journal``: ``{"path", "lines", "torn", "last_us", "pid", "context"}``
    (``last_us``: the time of its last recorded change; ``pid``: the process that
    wrote it; ``context``: the `rc.context` values as last written).

    Raises:
        SavedRunError: see `read_journal`; also lines that do not fit together.
    """
    where = os.fspath(path)
    lines, torn = read_journal(where)
    header = lines[0][1]
    try:
        state, last_us, context, closed = _replay_lines(header, lines)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise SavedRunError(f"{where!r} is not a well-formed journal: {exc!r}") from None
    run: dict[str, Any] = {
        "schema_version": header.get("schema_version", SCHEMA_VERSION),
        "started_at": state.wall0,
        "config": header.get("config", {}),
        "outcome": "interrupted",
        **closed,
        "journal": {
            "path": where,
            "lines": len(lines),
            "torn": torn,
            "last_us": last_us,
            "pid": header.get("pid"),
            "context": context,
        },
    }
    resumed = header.get("resumed_from")
    if isinstance(resumed, str):  # a run that Runner.from_state started
        run["resumed_from"] = resumed
    return state, run


def _replay_lines(
    header: dict[str, Any], lines: list[list[Any]]
) -> tuple[RCState, int, dict[str, Any], dict[str, Any]]:
    from ..pubsub.publisher import RCPublisher

    run_id = str(header["run_id"])
    state = RCState(run_id, RCPublisher(run_id))
    state.t0, state.wall0 = 0.0, float(header["started_at"])
    records = state.records
    types: dict[int, SavedType] = {}
    context: dict[str, Any] = {}
    closed: dict[str, Any] = {}
    last_us = 0
    for row in (row for line in lines[1:] for row in expand(line)):
        kind = row[0]
        if kind in ("R", "N"):
            node_id, parent, kind_index, us, step, args, kwargs = row[1:8]
            if node_id != len(records):
                raise ValueError(f"call {node_id!r} registered out of order")
            record = NodeRecord(
                node_id,
                types[kind_index],
                tuple(args) if isinstance(args, list) else args,
                kwargs,
                None if parent is None else records[parent],
                us / 1e6,
                step,
                None,
            )
            records.append(record)
            if parent is None:
                state.roots.append(node_id)
            last_us = max(last_us, us)
            if kind == "N":
                _, _, _, _, _, _, _, _, end_us, end_step, output = row
                record.end, record.end_step = end_us / 1e6, end_step
                record.status, record.output = "succeeded", output
                last_us = max(last_us, end_us)
        elif kind in ("S", "F", "X"):
            _, node_id, us, step, value = row
            record = records[node_id]
            record.end, record.end_step = us / 1e6, step
            if kind == "S":
                record.status, record.output = "succeeded", value
            elif kind == "F":
                record.status = "failed"
                record.error = ErrorInfo(value["type"], value["message"], value["traceback"])
            else:
                record.status = "cancelled"
            last_us = max(last_us, us)
        elif kind == "T":
            types[row[1]] = SavedType(*row[2:5])  # a journal of version 1 has no kind
        elif kind == "I":
            state.streamed.append((row[1], (row[2] or 0) / 1e6, row[3]))
        elif kind == "C":
            context[row[2]] = row[3]
        elif kind == "D":
            context.pop(row[2], None)
        elif kind == "M":
            _, node_id, _n, digest, response = row
            extras = state.extras.setdefault(node_id, {})
            extras.setdefault("model_calls", []).append({"digest": digest, "response": response})
            _count_usage(extras, response)
        elif kind == "Q":  # rc.ask: open until its "A" line
            _, node_id, _k, question_id, text, schema = row
            asked = {"id": question_id, "question": text, "schema": schema, "status": "open"}
            state.extras.setdefault(node_id, {}).setdefault("questions", []).append(asked)
        elif kind == "A":
            node_id = int(row[1].split(".")[0])
            for asked in state.extras.get(node_id, {}).get("questions", ()):
                if asked["id"] == row[1]:
                    asked.update(status="answered", answer=row[2])
        elif kind == "E":  # a resumed run's extras of a node, e.g. that it replayed
            extras = row[2] if isinstance(row[2], dict) else {}
            state.extras.setdefault(records[row[1]].id, {}).update(extras)
        elif kind == "Z":
            # only the fields a runner writes, so an odd line cannot become a run field
            closed = {k: v for k, v in row[1].items() if k in ("outcome", "ended_at", "resources")}
        # unknown kinds are skipped: a newer writer of the same version may add some
    state.step = max((r.end_step or r.start_step for r in records), default=0)
    return state, last_us, context, closed


def _count_usage(extras: dict[str, Any], response: dict[str, Any]) -> None:
    """Token totals from the responses (what the agent's ``llm`` extras held; no cost,
    which needs the price list of the llm layer)."""
    usage = response.get("usage") or {}
    llm = extras.setdefault("llm", {"input_tokens": 0, "output_tokens": 0, "calls": 0})
    llm["input_tokens"] += usage.get("input_tokens") or 0
    llm["output_tokens"] += usage.get("output_tokens") or 0
    llm["calls"] += 1
    llm["model"] = response.get("model")
    llm["cost"] = None
