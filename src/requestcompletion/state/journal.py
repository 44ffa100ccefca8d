"""The journal: every state change of a run, appended to a file while the run goes.

With ``save_state=True`` a runner writes ``<state_dir>/<run id>.journal`` as it
runs, so that a process that dies (SIGKILL, the OOM killer, a power cut) leaves
its run behind up to the last flush. A clean close writes the final
``<run id>.json`` atomically and removes the journal; `load_journal` reads one
that was left behind.

Cost on the run's loop: `RCState` appends the record itself to the journal's
queue when a call registers, and the record's id when it returns: no object is
made, so a busy run gives the garbage collector nothing more to look at. Rarer
changes (failed, cancelled, a stream item, a context write, a model call) go in
as a small tuple of their values (`Journal.add`). The process's journal writer
thread (`_journal_writer`: one for every runner) turns them into lines, in batches,
at most `FLUSH_INTERVAL` seconds after the first of a batch arrived, and at the end
of every top-level request (the runner awaits `Journal.barrier`). Each batch is
written with one ``write`` and flushed to the OS; ``journal_fsync=True`` adds an
``fsync``.

The format of its lines is described in `_journal_lines`, which writes them
(and reading them back in `journal_reader`).

What resume and replay match on, all in the registration rows (``R``, ``N``, or
their column forms ``r``, ``n``): the parent's id, the node type's ``key``
(through its ``T`` line) and the canonical inputs (``args`` and ``kwargs`` as
written here: encode the new call's inputs the same way and compare the parsed
values). The k-th call with those three under one parent is the k-th such row in
the file: rows are written in registration order, so parallel calls match
whatever order they finished in. Model calls match by node and ``digest``; ``n``
orders the turns of one agent node.

A crash can cut the last line short: loading drops it and says so
(``journal["torn"]`` in the run's fields, `ExecutionInfo.journal_torn`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._journal_lines import JOURNAL_VERSION, LineEncoder, RequestDigest
from ._journal_writer import FLUSH_INTERVAL, hub
from .persistence import MAX_FILE_BYTES, SCHEMA_VERSION, open_new, write_all
from .records import NodeRecord

if TYPE_CHECKING:
    import asyncio

    from .state import RCState

__all__ = [
    "FLUSH_INTERVAL",
    "JOURNAL_VERSION",
    "Journal",
    "JournaledVariables",
    "RequestDigest",
]

# the most queued changes a request's end writes itself; a longer batch is the writer's
# (a burst of 10,000 lines would hold up the loop's other tasks for milliseconds)
INLINE_MAX = 256
CLOSE_TIMEOUT = 30.0  # seconds a close waits for its last lines (a hung disk must not hang it)
# Loading refuses bigger journals: a journal is at most about twice its run's JSON
# (issue 13's size target), and the JSON's own limit is MAX_FILE_BYTES.
MAX_JOURNAL_BYTES = 2 * MAX_FILE_BYTES

_log = logging.getLogger("RC.journal")


class Journal:
    """Appends a run's state changes to its journal file, from the process's writer.

    Args:
        path: the journal file (created; its folder too).
        header: the run-level fields of the ``H`` line.
        records: the run's records (`RCState.records`): a returned call is queued
            as its id, looked up here.
        t0: the run's start on `time.perf_counter`, to turn times into offsets.
        fsync: fsync after every batch.

    Raises:
        OSError: the file cannot be created.
    """

    def __init__(
        self,
        path: Path,
        header: dict[str, Any],
        records: list[NodeRecord],
        t0: float,
        fsync: bool,
    ) -> None:
        self.path, self._fd = _claim(path)
        self._fsync = fsync
        self._encoder = LineEncoder(records, t0)
        # what the run queued and the writer has not written: a NodeRecord (registered),
        # an int (that record returned) or a tuple (any other change). `RCState`
        # appends to it directly on its hottest paths, then calls `wake` if not `awake`.
        self.queue: deque[Any] = deque([("H", header)])
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()
        self.awake = False  # the writer was told something is queued, and has not taken it
        self._closing = False
        self._closed = False  # the Z line is written and the file closed (under the lock)
        self.error: Exception | None = None  # why the journal stopped, if it did
        # held while a batch is taken and written: by the writer, or by the run itself
        # (`barrier`, `close`), which writes a short batch at once rather than wake a
        # thread and wait for it (two thread switches cost a short run more than the write)
        self._lock = threading.Lock()
        with self._lock:
            self._write_batch()  # the header: `runs` can tell this run is live from now on
        hub.add(self)

    @classmethod
    def start(
        cls, state_dir: Path, state: RCState, config: dict[str, Any], fsync: bool
    ) -> Journal | None:
        """The journal of the run `state` records, in `state_dir`; None (logged as a
        warning) if it cannot be created. `config` is the run's config summary."""
        path = state_dir / f"{state.run_id}.journal"
        header = {
            "journal_version": JOURNAL_VERSION,
            "schema_version": SCHEMA_VERSION,
            "run_id": state.run_id,
            "started_at": state.wall0,
            "pid": os.getpid(),  # so `runs` can tell a live run from one whose process died
            "config": config,
        }
        if state.replay is not None:  # Runner.from_state: the run it resumes
            header["resumed_from"] = state.replay.source
        try:
            return cls(path, header, state.records, state.t0, fsync)
        except OSError as error:
            _log.warning(
                "could not start the journal of run %r at %r: %s. The run goes on and is "
                "saved when it closes, but a crash would lose it; set state_dir to a "
                "writable folder",
                state.run_id,
                os.fspath(path),
                error,
            )
            return None

    # --- the run's side (its loop) ----------------------------------------------

    def add(self, item: tuple[Any, ...]) -> None:
        """Queue one change; the writer turns it into a line."""
        self.queue.append(item)
        if not self.awake:  # only the first item of a batch pays for the wake-up
            self.wake()

    def wake(self) -> None:
        """Tell the writer something is queued (it writes within `FLUSH_INTERVAL`)."""
        self.awake = True
        hub.wake()

    def flush(self) -> None:
        """Ask the writer to write what is queued now, without waiting for it."""
        self.awake = True
        hub.wake(now=True)

    async def barrier(self) -> None:
        """Wait until everything queued so far has been written to the OS."""
        import asyncio  # the state layer runs without a loop too (loading)

        if self._closing:  # closed: everything was written, and no writer is left to answer
            return
        # A short batch is written here (no fsync: that can take milliseconds), unless
        # the writer is busy with this journal; the loop's other tasks wait meanwhile.
        if not self._fsync and len(self.queue) <= INLINE_MAX and self._lock.acquire(False):
            try:
                self._write_batch()
            finally:
                self._lock.release()
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._waiters.append((loop, future))
        self.flush()
        await future

    def close(self, outcome: dict[str, Any]) -> None:
        """Write the ``Z`` line and everything before it, and close the file.

        Written here, once the writer is not writing this journal; waits for it at
        most `CLOSE_TIMEOUT` seconds (then logs a warning, and the writer writes the
        rest when it can): a disk that hangs must not hang the runner's close for ever.
        """
        if self._closing:
            return
        self.queue.append(("Z", outcome))
        self._closing = True
        if self._lock.acquire(timeout=CLOSE_TIMEOUT):
            try:
                if not self._closed:
                    self._write_batch()
                    self._finish()
            finally:
                self._lock.release()
        else:
            self.flush()  # the writer writes the rest once the disk answers
            _log.warning(
                "the journal %r was not written within %s s of the run's close; the run "
                "is saved as JSON without waiting for it. Check the disk of state_dir",
                os.fspath(self.path),
                CLOSE_TIMEOUT,
            )

    def remove(self) -> None:
        """Delete the journal (the run's final JSON is written)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    # --- the writer's side (`_journal_writer`) ---------------------------------

    def write_queued(self) -> bool:
        """Write what is queued, answer the barriers that were waiting before it,
        and close the file after the ``Z`` line; True once closed."""
        with self._lock:
            if self._closed:  # closed by the run itself
                return True
            waiters = self._waiters
            self.awake = False  # before the drain: a change queued after it wakes the writer
            ready = [waiters.popleft() for _ in range(len(waiters))]  # before the drain
            self._write_batch()
            _release(ready)
            if not (self._closing and not self.queue):
                return False
            self._finish()
            return True

    def _write_batch(self) -> None:
        """Take what is queued and write it (the caller holds the lock)."""
        queue = self.queue
        batch = [queue.popleft() for _ in range(len(queue))]
        if batch and self.error is None:
            try:
                self._write("\n".join(self._encoder.lines(batch)) + "\n")
            except Exception as error:  # a bug here must not hang the run's barriers
                self._stop(error)

    def abandon(self, error: Exception) -> bool:
        """Stop writing after `error` (the writer's own failure); answer every
        barrier. True if the journal is closing (it is then closed)."""
        with self._lock:
            self._stop(error)
            self.queue.clear()
            _release([self._waiters.popleft() for _ in range(len(self._waiters))])
            if self._closing and not self._closed:
                self._finish()
            return self._closing

    def _finish(self) -> None:
        try:
            os.close(self._fd)
        except OSError as error:
            self._stop(error)
        self._closed = True

    def _write(self, text: str) -> None:
        write_all(self._fd, text.encode("utf-8"))  # no file object to flush
        if self._fsync:
            os.fsync(self._fd)

    def _stop(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
            _log.warning(
                "the journal %r stopped (%s: %s). The run goes on and is saved as JSON "
                "when it closes; for a disk error, free space or choose another state_dir",
                os.fspath(self.path),
                type(error).__name__,
                error,
            )


def _claim(path: Path) -> tuple[Path, int]:
    """Create `path` (and its folder), or `{stem}.2.journal` (the next free number) if a
    file is there: the journal of a run that died under the same run_identifier is that
    run's only record, and a new run must not write over it. Returns it and its fd."""
    for number in range(1, 10_000):
        candidate = path if number == 1 else path.with_name(f"{path.stem}.{number}.journal")
        try:
            return candidate, open_new(candidate, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"{os.fspath(path)!r} and 9,998 numbered journals beside it exist")


def _release(ready: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    for loop, future in ready:
        try:
            loop.call_soon_threadsafe(_resolve, future)
        except RuntimeError:  # that loop is closed: nobody waits any more
            pass


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class JournaledVariables(dict[str, Any]):
    """The runner's `rc.context` variables, journaling every write (``C`` / ``D`` lines).

    Args:
        values: the initial values (journaled as writes of the runner, id None).
        journal: where the writes go.
        writer: the id of the node writing now, or None (the runner, or no node).
    """

    def __init__(
        self, values: MutableMapping[str, Any], journal: Journal, writer: Callable[[], int | None]
    ) -> None:
        super().__init__(values)
        self._journal, self._writer = journal, writer
        for key, value in values.items():
            journal.add(("C", None, key, value))

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._journal.add(("C", self._writer(), key, value))

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._journal.add(("D", self._writer(), key))

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    _MISSING: Any = object()

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        if key in self:
            value = super().pop(key)
            self._journal.add(("D", self._writer(), key))
            return value
        if default is JournaledVariables._MISSING:
            raise KeyError(key)
        return default

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]
