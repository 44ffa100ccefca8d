"""Saving a run as JSON and reading it back.

The file holds one column per node field (a list of every node's type, parent,
status, times, inputs, output) rather than one object per node: the field names
are written once, so the file is smaller than a dict per node and quicker to
write. Times are integer microseconds since the run started. Values JSON cannot
hold are tagged in place (`{"$type": ..., "$repr": ...}` or `"$value"`; see
`_encode`), so a NaN deep in an output leaves the rest of it data; nothing is
ever pickled. Writing goes to a temporary file in the same folder, renamed (or,
for a runner, hard-linked, so an existing run is never replaced) onto the target,
so a crash never leaves half a file. Reading checks the file (`_validate`) before
anything is built from it.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from ..errors import SavedRunError
from ._encode import Encoder
from ._validate import COLUMNS, check_document
from .records import UNKNOWN_KIND, ErrorInfo, NodeRecord
from .state import RCState

__all__ = [
    "MAX_FILE_BYTES",
    "SCHEMA_VERSION",
    "dumps",
    "encode_value",
    "inside_folder",
    "load_state",
    "open_new",
    "state_document",
    "write_all",
    "write_atomic",
]

SCHEMA_VERSION = 2
"""2: a type is ``[name, key, kind]`` (1 had no kind; such files still load, as "unknown")."""
_VALUE_COLUMNS = ("args", "kwargs", "output")
MAX_FILE_BYTES = 256 * 1024 * 1024
"""Loading refuses larger files (a saved run is data to look at, not a data store)."""


def dumps(document: dict[str, Any]) -> tuple[str, list[str]]:
    """The document as compact JSON, and what could not be stored as it was.

    Values JSON cannot hold are tagged in place (see `_encode`), never lost and never
    raised. Most runs hold only plain data and take the C encoder's path; the first
    value it refuses (NaN, a cycle, a huge int, an odd key, deep nesting), or a text
    over `MAX_FILE_BYTES`, sends the whole document through the encoder, section by
    section, which applies its size limits and names the place of each problem.
    """
    encoder = Encoder()
    try:
        text = json.dumps(
            document,
            default=functools.partial(encoder.value, where="a value"),
            allow_nan=False,
            separators=(",", ":"),
        )
        if not encoder.problems and len(text) <= MAX_FILE_BYTES:  # ASCII: chars are bytes
            return text, []
    except (ValueError, TypeError, RecursionError):
        pass
    encoder = Encoder()
    plain = {key: _section(encoder, key, value) for key, value in document.items()}
    text = json.dumps(plain, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_FILE_BYTES:
        encoder.problems.append(
            f"the file is {len(text):,} bytes, over the {MAX_FILE_BYTES:,} that loading accepts"
        )
    return text, encoder.problems


def encode_value(value: Any) -> Any:
    """One value as JSON-native data, tagged in place where JSON cannot hold it; never
    raises. Also a `default=` hook for `json`. What it cuts is not reported: the saved
    file (`dumps`) is the place that warns."""
    return Encoder().value(value, "a value")


# The names the journal (state/journal.py) uses: a json `default=` hook and a per-value
# fallback. Both are encode_value now, which never asks an instance for attributes.
_tag = _safe = encode_value


def _section(encoder: Encoder, key: str, value: Any) -> Any:
    if key == "nodes" and isinstance(value, dict):  # only the value columns hold user data
        return {
            column: [encoder.value(v, f"node {i} {column}") for i, v in enumerate(values)]
            if column in _VALUE_COLUMNS
            else values
            for column, values in value.items()
        }
    if key == "streamed" and isinstance(value, list):
        return [encoder.value(item, f"streamed item {i}") for i, item in enumerate(value)]
    return encoder.value(value, key)


def state_document(state: RCState, **run: Any) -> dict[str, Any]:
    """The saved form of a run: `run` adds run-level fields (outcome, config, resources)."""
    records = state.records
    t0 = state.t0
    # keyed by name as well as by module:qualname: two function_node(f, name=...) of one
    # function (or a factory's inner function) share a key but are different nodes
    types: dict[tuple[str, str, str], int] = {}
    type_list: list[list[str]] = []

    def type_index(record: NodeRecord) -> int:
        spec = record.spec
        name, key, kind = _as_text(spec.name), _as_text(spec.key), _as_text(spec.kind)
        index = types.get((name, key, kind))
        if index is None:
            index = types[name, key, kind] = len(type_list)
            type_list.append([name, key, kind])
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


def _as_text(value: Any) -> str:
    """A node's name as text: a `pretty_name` that returns something else must not make
    the file unloadable."""
    if type(value) is str:
        return value
    encoded = Encoder().value(value, "a node name")
    return encoded["$repr"] if isinstance(encoded, dict) and "$repr" in encoded else repr(encoded)


def _error_dict(error: BaseException | ErrorInfo) -> dict[str, str]:
    info = ErrorInfo.of(error)
    return {"type": info.type, "message": info.message, "traceback": info.traceback}


def write_atomic(path: Path, text: str, *, overwrite: bool = True, fsync: bool = False) -> Path:
    """Write `text` to `path` through a temporary file and a rename; return where it went
    (`path` itself when it went there, so a caller can tell by identity).

    With `overwrite=False` an existing file is never replaced: the text goes to the
    first free `{stem}.{n}{suffix}` (n = 2, 3, ...). A hard link claims the name, so
    two processes saving at once cannot both take it. The folder is made if missing.
    With `fsync`, the file and then its folder are fsynced: once this returns, a power
    cut keeps the file (without, a new file's data may not be on disk yet).
    Plain `os` calls, not `tempfile` and file objects: a short run's save is mostly
    this function, and they cost it more than its system calls do.
    """
    target = os.fspath(path)
    data = text.encode("utf-8")
    fd, tmp = _temporary(target)
    try:
        try:
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
            written = target
        else:
            written = _claim(tmp, target)
        if fsync:
            _fsync_folder(os.path.dirname(written))
        return path if written == target else Path(written)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


_tmp_numbers = itertools.count()
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def open_new(path: str | os.PathLike[str], mode: int) -> int:
    """Create the file `path` and return its fd, open for writing; FileExistsError if
    something is there. Its folder is made when missing (looked at only if the
    open fails, not on every run)."""
    try:
        return os.open(path, _NEW_FILE, mode)
    except FileNotFoundError:
        folder = os.path.dirname(os.fspath(path))
        if not folder or os.path.isdir(folder):
            raise
        os.makedirs(folder, exist_ok=True)
        return os.open(path, _NEW_FILE, mode)


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd` (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _temporary(target: str) -> tuple[int, str]:
    """Create a new private file beside `target` (making its folder if needed)."""
    folder, name = os.path.split(target)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.getpid()}-{next(_tmp_numbers)}.tmp")
        try:
            return open_new(tmp, 0o600), tmp
        except FileExistsError:  # left by a process that had this pid
            continue
    raise FileExistsError(f"no free temporary name beside {target!r}")


def _fsync_folder(folder: str) -> None:
    """Make a new name in `folder` durable (where a folder can be opened and fsynced)."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open a folder
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - a file system that refuses it
        pass
    finally:
        os.close(fd)


def _claim(tmp: str, target: str) -> str:
    stem, suffix = os.path.splitext(target)
    for n in itertools.count(1):
        candidate = target if n == 1 else f"{stem}.{n}{suffix}"
        try:
            os.link(tmp, candidate)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: check, then rename
            if os.path.lexists(candidate):
                continue
            os.replace(tmp, candidate)
            return candidate
        os.unlink(tmp)
        return candidate
    raise AssertionError("unreachable")  # pragma: no cover - count() never ends


class SavedType:
    """The type of a node in a loaded run: its name, key and kind, no code."""

    __slots__ = ("key", "kind", "name")

    def __init__(self, name: str, key: str, kind: str = UNKNOWN_KIND) -> None:
        self.name, self.key, self.kind = name, key, kind


def inside_folder(path: Path, folder: Path) -> Path:
    """`path`, found in the state `folder`, if it is not a symlink that leads out of it.

    What lists a state folder (`requestcompletion runs`, the viewer) never follows such
    a link: a file elsewhere is read only when the user names its path.

    Raises:
        SavedRunError: `path` is a symlink to somewhere outside `folder`.
    """
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(folder.resolve()):
            raise SavedRunError(
                f"{os.fspath(path)!r} is a symlink to {os.fspath(target)!r}, outside the state "
                f"folder; not followed (give its path to `show` to read it anyway)"
            )
    return path


def load_state(path: str | os.PathLike[str]) -> tuple[RCState, dict[str, Any]]:
    """Read a saved run back: the rebuilt state and the run-level fields of the file.

    Only regular files of at most `MAX_FILE_BYTES` are read (a FIFO or a link to a
    device is refused at once, never waited on), and the whole document is checked
    before the state is built, so neither loading nor any view of the run can fail
    on what the file holds.

    Raises:
        SavedRunError: the file is missing, not a regular file, too large, not JSON,
            not a run, malformed (naming the field), or from a newer version.
    """
    where = os.fspath(path)
    document = _parse(_read(where), where)
    if not isinstance(document, dict) or "schema_version" not in document:
        raise SavedRunError(f"{where!r} is JSON but not a saved requestcompletion run")
    version = document["schema_version"]
    if type(version) is not int or version > SCHEMA_VERSION:
        raise SavedRunError(
            f"{where!r} was saved with schema version {str(version)[:40]!r}, not one this "
            f"requestcompletion understands (1 to {SCHEMA_VERSION}); upgrade requestcompletion"
        )
    check_document(document, where)
    return _rebuild(document), document


def _read(where: str) -> bytes:
    try:
        # O_NONBLOCK: should a FIFO replace the file after the check, open() still returns
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SavedRunError(f"no saved run at {where!r}") from None
    except OSError as exc:
        raise SavedRunError(f"cannot read {where!r}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SavedRunError(
                f"{where!r} is not a regular file (a folder, a pipe or a device); "
                f"a saved run is a .json file"
            )
        if info.st_size > MAX_FILE_BYTES:
            raise SavedRunError(
                f"{where!r} is {info.st_size:,} bytes, over the {MAX_FILE_BYTES:,} a saved "
                f"run may have (persistence.MAX_FILE_BYTES); it is not a run this library wrote"
            )
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                break
    except OSError as exc:
        raise SavedRunError(f"cannot read {where!r}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_FILE_BYTES:  # it grew while we read
        raise SavedRunError(f"{where!r} is over the {MAX_FILE_BYTES:,} bytes a saved run may have")
    return data


def _parse(data: bytes, where: str) -> Any:
    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):  # 1e400: the saver never writes one
            raise ValueError(f"the number {text[:40]} is out of range")
        return value

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        return json.loads(data.decode("utf-8"), parse_float=finite, parse_constant=refuse)
    except UnicodeDecodeError as exc:
        raise SavedRunError(
            f"{where!r} is not UTF-8 text ({exc.reason}); the file is corrupt"
        ) from None
    except (ValueError, RecursionError) as exc:  # also JSONDecodeError, and 4300+ digit ints
        raise SavedRunError(f"{where!r} is not valid JSON ({exc}); the file is corrupt") from None


def _rebuild(document: dict[str, Any]) -> RCState:
    """The state of a document `check_document` accepted."""
    from ..pubsub.publisher import RCPublisher

    state = RCState(document["run_id"], RCPublisher(document["run_id"]))
    state.t0, state.wall0 = 0.0, float(document["started_at"])
    types = [SavedType(*entry) for entry in document["types"]]  # [name, key(, kind)]
    nodes = document["nodes"]
    records = state.records
    for i, (kind, parent, status, start, end, s_step, e_step, args, kwargs, output) in enumerate(
        zip(*(nodes[name] for name in COLUMNS), strict=True)
    ):
        record = NodeRecord(
            i,
            types[kind],
            tuple(args),
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
