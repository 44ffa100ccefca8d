"""The journal's lines: their format, and turning a batch of queued changes into them.

Separate from `journal` (the file, its batches and its writer's hand-offs) because
this is the part that costs: every change of a run passes through `LineEncoder`,
on the writer thread, and whatever it spends there the run's loop waits for (the
GIL). Reading lines back is `journal_reader`.

The format (JSON Lines, ``JOURNAL_VERSION`` 2; version 1 is the same without the
column lines ``r``, ``s`` and ``n``). Every line is a JSON array whose first
element says what it is. Times (``us``) are integer microseconds since the run
started and steps are the run's logical clock, as in the saved JSON; values JSON
cannot hold are tagged, as in the saved JSON (see `persistence`).

=====================================================  ====================================
``["H", {journal_version, schema_version, run_id,      the header, always the first line
started_at, pid, config}]``
``["T", type, name, key, kind]``                       a node type, before its first call;
                                                       ``type`` numbers it in this file
``["R", id, parent, type, us, step, args, kwargs]``    a call registered (it starts then);
                                                       ``parent`` None for a top-level one
``["S", id, us, step, output]``                        the call returned ``output``
``["N", id, parent, type, us, step, args, kwargs,      a call registered and returned in
end_us, end_step, output]``                            one batch: an ``R`` and its ``S``
``["r", id, parents, types, us, steps, args,           consecutive ``R`` rows, in columns:
kwargs]``                                              calls ``id``, ``id + 1``, ...
``["s", ids, us, steps, outputs]``                     consecutive ``S`` rows, in columns
``["n", id, parents, types, us, steps, args,           consecutive ``N`` rows, in columns:
kwargs, end_us, end_steps, outputs]``                  calls ``id``, ``id + 1``, ...
``["F", id, us, step, {type, message, traceback}]``    the call raised
``["X", id, us, step, reason]``                        the call was cancelled
``["I", id, us, item]``                                ``rc.stream(item)`` (id None: no node)
``["C", id, key, value]`` / ``["D", id, key]``         ``rc.context`` put / delete (id of the
                                                       writing node, None for the runner)
``["M", id, n, digest, response]``                     model call ``n`` (from 0) of agent node
                                                       ``id``: its request's digest
                                                       (`RequestDigest`) and full response
``["Q", id, k, question_id, text, schema]``            ``rc.ask``: node ``id`` asked its k-th
                                                       question (`requestcompletion.human`)
``["A", question_id, answer]``                         the question was answered
``["E", id, extras]``                                  extras of a node a resumed run copied
                                                       (``replayed``; see `replay`)
``["Z", {outcome, ended_at, resources}]``              the runner closed (before the JSON)
=====================================================  ====================================

A column line stands for the rows it packs, in order: its i-th row takes the
i-th element of each column. Columns are lists, except where one value serves
every row: ``parents`` (an int or null), ``types`` (an int) and ``kwargs``
(null) may be that value, and ``ids``, ``steps`` and ``end_steps`` an int, the
first of consecutive ones (ids, parents, type indexes and steps are never lists
and kwargs are objects, so the two forms cannot be confused). They exist for
cost: a run's calls are most of its changes, and a column of plain ints is
written and parsed much faster than the same ints spread over many small arrays.
A column line holds at most `COLUMN_ROWS` rows, so a torn last line loses
little; a run of one row, and every row of a batch of fewer than `PLAIN_BATCH`
changes, keeps its plain form.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from itertools import groupby
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import itemgetter
from typing import Any

from .persistence import _safe, _tag
from .records import ErrorInfo, NodeRecord

__all__ = ["COLUMN_ROWS", "JOURNAL_VERSION", "PLAIN_BATCH", "LineEncoder", "RequestDigest"]

JOURNAL_VERSION = 2
COLUMN_ROWS = 256  # rows per column line: small enough that a torn line loses little
# Batches of fewer changes are written a row per change: columns pay off only in
# bulk, and a short batch (a quiet run, the end of a short request) then stays
# readable line by line and a tear loses one change, not the line's many.
PLAIN_BATCH = 64

_encode = json.JSONEncoder(default=_tag, allow_nan=False, separators=(",", ":")).encode
# The C encoder made once: `JSONEncoder.encode` builds a new one per call, which is
# most of the cost of a short line. Without the cycle check (markers None) a cyclic
# value raises RecursionError, and `_encode_row` tags it like any other bad value.
_c_encoder = (
    None
    if c_make_encoder is None
    else c_make_encoder(None, _tag, encode_basestring_ascii, None, ":", ",", False, False, False)
)


def _encode_fast(row: list[Any]) -> str:
    return _encode(row) if _c_encoder is None else "".join(_c_encoder(row, 0))


_canonical_encode = json.JSONEncoder(default=_tag, sort_keys=True, separators=(",", ":")).encode


def _canonical(value: Any) -> bytes:
    return _canonical_encode(value).encode()


class RequestDigest:
    """Digests of the requests of one growing conversation (an agent's history).

    The digest of a request is sha256 over each message's canonical JSON (its
    ``to_dict()``, keys sorted) followed by a newline, in order, then the canonical
    JSON of `about` (provider, model, tool names, output schema), cut to 32 hex
    digits. An agent appends to its history, so each message is encoded once for
    the whole conversation, not once per turn: a model call's cost stays the size of
    what was added since the last one. A history that changed other than by
    appending (its last digested message is no longer where it was) is digested
    again from the start.
    """

    __slots__ = ("_count", "_hash", "_last")

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._count = 0
        self._last: Any = None

    def of(self, messages: Sequence[Any], about: dict[str, Any]) -> str:
        """The digest of a request of `messages` (objects with ``to_dict()``)."""
        count = self._count
        if count > len(messages) or (count and messages[count - 1] is not self._last):
            self._hash, count = hashlib.sha256(), 0
        for message in messages[count:]:
            self._hash.update(_canonical(message.to_dict()) + b"\n")
        if messages:
            self._count, self._last = len(messages), messages[-1]
        digest = self._hash.copy()
        digest.update(_canonical(about))
        return digest.hexdigest()[:32]


class LineEncoder:
    """Turns one journal's queued changes into its lines (the writer's side).

    Args:
        records: the run's records (`RCState.records`): a returned call is queued
            as its id, looked up here.
        t0: the run's start on `time.perf_counter`, to turn times into offsets.
    """

    def __init__(self, records: list[NodeRecord], t0: float) -> None:
        self._records, self._t0 = records, t0
        self._types: dict[tuple[str, str, str], int] = {}  # (name, key, kind) -> number
        self._numbers: dict[Any, int] = {}  # NodeSpec -> the number of its type
        self._plain = False  # this batch is written a row per change

    def lines(self, items: list[Any]) -> list[str]:
        """The lines of a batch, in order. Queued are a `NodeRecord` (registered), an
        int (that record returned) or a tuple (any other change). Calls are most of
        a run's changes: runs of them become column lines; a call that returned in
        the same batch is one ``N`` row instead of an ``R`` and an ``S``.

        Written for the writer's CPU (which the run's loop waits for, through the
        GIL): the batch is cut into runs by C-level `groupby` and comprehensions,
        never by a Python statement per change.
        """
        returned = {item for item in items if type(item) is int}
        both: set[int] = set()  # registered and returned in this batch: N rows
        if returned:
            both = returned.intersection([item.id for item in items if type(item) is NodeRecord])
            if both:  # their returned items are in their N rows
                items = [item for item in items if type(item) is not int or item not in both]
        lines: list[str] = []
        self._plain = len(items) < PLAIN_BATCH
        for kind, group in groupby(items, type):
            if kind is tuple:
                lines += [_encode_row(self._row(item)) for item in group]
            elif kind is int:
                self._runs("S", list(group), lines)
            elif not both:
                self._runs("R", list(group), lines)
            else:
                records = list(group)
                flags = [record.id in both for record in records]
                for is_n, run in groupby(zip(flags, records, strict=True), itemgetter(0)):
                    self._runs("N" if is_n else "R", [record for _, record in run], lines)
        return lines

    def _runs(self, kind: str, run: list[Any], lines: list[str]) -> None:
        for start in range(0, len(run), COLUMN_ROWS):
            self._flush(kind, run[start : start + COLUMN_ROWS], lines)

    def _flush(self, kind: str, run: list[Any], lines: list[str]) -> None:
        """Append the line(s) of a run of R, N or S items: new types' T lines, then
        one column line (plain rows for a run of one, or in a small batch)."""
        t0 = self._t0
        if kind == "S":
            everything = self._records
            records = [everything[i] for i in run]
            ends = [int((r.end - t0) * 1e6) for r in records]
            row: list[Any] = ["s", _first_if_consecutive(run), ends]
            row.append(_first_if_consecutive([r.end_step for r in records]))
            row.append([r.output for r in records])
        else:
            records = run
            row = ["r" if kind == "R" else "n", records[0].id, *self._starts(records, lines)]
            if kind == "N":
                row.append([int((r.end - t0) * 1e6) for r in records])
                row.append(_first_if_consecutive([r.end_step for r in records]))
                row.append([r.output for r in records])
        if len(run) > 1 and not self._plain:
            try:
                lines.append(_encode_fast(row))
                return
            except Exception:  # an odd value (NaN, a cycle, ...): its own rows, each tagged
                pass
        lines += [_encode_row(plain) for plain in _plain_rows(row)]

    def _starts(self, records: list[NodeRecord], lines: list[str]) -> list[Any]:
        """The registration columns of `records` (parents to kwargs); the T line of
        each type first seen here goes to `lines`."""
        specs = [r.spec for r in records]
        numbers = self._numbers
        for spec in dict.fromkeys(specs):  # each spec once: looked up by identity
            if spec not in numbers:
                numbers[spec] = self._number(spec, lines)
        t0 = self._t0
        parents = [None if r.parent is None else r.parent.id for r in records]
        kwargs = [r.kwargs for r in records]
        return [
            _one_or_all(parents),
            _one_or_all([numbers[spec] for spec in specs]),
            [int((r.start - t0) * 1e6) for r in records],
            _first_if_consecutive([r.start_step for r in records]),
            [r.args for r in records],
            None if kwargs.count(None) == len(kwargs) else kwargs,  # None: none had any
        ]

    def _number(self, spec: Any, lines: list[str]) -> int:
        """The number of `spec`'s type in this file, given by a T line the first time.
        Types are told apart by name, key and kind, as in the saved JSON: two nodes
        made from one function under different names are different types."""
        name = spec.name if type(spec.name) is str else repr(spec.name)
        number = self._types.get((name, spec.key, spec.kind))
        if number is None:
            number = self._types[name, spec.key, spec.kind] = len(self._types)
            lines.append(_encode_row(["T", number, name, spec.key, spec.kind]))
        return number

    def _row(self, item: tuple[Any, ...]) -> list[Any]:
        kind = item[0]
        if kind in ("F", "X"):
            record: NodeRecord = item[1]
            row = [kind, record.id, self._us(record.end), record.end_step]
            if kind == "F":
                error = ErrorInfo.of(record.error)  # type: ignore[arg-type]
                text = {"type": error.type, "message": error.message}
                row.append({**text, "traceback": error.traceback})
            else:
                row.append(item[2])
            return row
        if kind == "I":
            return ["I", item[1], self._us(item[2]), item[3]]
        return list(item)  # H, C, D, E, M, Q, A, Z: already in their written form

    def _us(self, t: float | None) -> int | None:
        return None if t is None else int((t - self._t0) * 1e6)


def _one_or_all(column: list[Any]) -> Any:
    """The column's one value if every row has it, else the column."""
    first = column[0]
    return first if column.count(first) == len(column) else column


def _first_if_consecutive(ids: list[int]) -> int | list[int]:
    first = ids[0]
    return first if ids == list(range(first, first + len(ids))) else ids


def expand(line: list[Any]) -> list[list[Any]]:
    """The rows a column line (``r``, ``s``, ``n``) stands for; any other line is its
    own row. Malformed columns raise (IndexError, TypeError, ...)."""
    kind = line[0]
    if kind not in ("r", "s", "n"):
        return [line]
    return _plain_rows(line)


# the columns (after the kind) that may be given as the first of consecutive ints
_SEQUENCES = {"r": (0, 4), "s": (0, 2), "n": (0, 4, 8)}


def _plain_rows(line: list[Any]) -> list[list[Any]]:
    kind, *columns = line
    count = len(columns[1] if kind == "s" else columns[3])  # us: always a list
    sequences = _SEQUENCES[kind]
    cells = [
        column
        if type(column) is list
        else list(range(column, column + count))
        if index in sequences
        else [column] * count
        for index, column in enumerate(columns)
    ]
    for column in cells:
        if len(column) != count:
            raise ValueError(f"a {kind!r} line's columns differ in length")
    plain = kind.upper()
    return [[plain, *row] for row in zip(*cells, strict=True)]


def _encode_row(row: list[Any]) -> str:
    try:
        return _encode_fast(row)
    except Exception:  # NaN, a cycle, odd keys, or a value changed while being written
        pass
    safe = []
    for value in row:
        try:
            safe.append(_safe(value))
        except Exception as error:
            safe.append({"$type": type(value).__name__, "$repr": f"<unwritable: {error!r}>"})
    return _encode(safe)
