"""`rc.context` across the Ray boundary: versioned deltas, cached per run on each worker.

Pickling the whole context on every remote call and every answer to a call-back
costs what the context weighs (a 1 MB context made each call 7–8 ms). Instead:

- the driver numbers the states of a run's context (`DriverContext.version`) and
  remembers, per key, the version of its last change, and per worker, the last
  version that worker is known to hold (confirmed: the call that carried it was
  run there);
- each message that starts a node or answers its call-back carries a
  `ContextDelta`: the keys changed since the worker's confirmed version (all of
  them when it holds none), or nothing at all when it is up to date;
- each worker keeps one `WorkerContext` per run (by the run's token, so two runs
  sharing an actor never mix), brought forward by the deltas it receives;
- a remote node's view (`NodeView`) is a copy of that cache taken when it
  starts and again whenever a call-back is answered; its own writes go to the
  driver one by one (`ContextPut`, `ContextDeleted`), and are kept on top of the
  refreshed copy until the driver has applied them, so a node always reads its
  own writes back.

Deltas are computed against *confirmed* versions, never against ones merely in
flight, so a worker never receives a delta whose base it lacks, whatever order
Ray runs concurrent calls in; a delta older than the cache is skipped unread.
Changes made by nodes on the driver are found by comparing each value with the
one last numbered (by identity): a value changed in place (a list appended to)
is not a change; put it again to send it.
"""

from __future__ import annotations

import itertools
import logging
import pickle
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .messages import ContextDeleted, ContextDelta, ContextPut, Message

__all__ = ["DriverContext", "NodeView", "WorkerContext"]

logger = logging.getLogger("RC.execution")

_MISSING: Any = object()
loads = pickle.loads  # what Ray's cloudpickle writes is plain pickle data


def dumps(value: Any) -> bytes:
    """`value` pickled by Ray's cloudpickle, imported on first use: the driver imports
    this module without Ray, which only a distributed node needs."""
    from .wire import dumps as pickled

    return pickled(value)


class DriverContext:
    """A run's `rc.context` as the driver sends it to workers.

    Args:
        variables: the run's live variables (the runner's dict); kept, and only read.
    """

    def __init__(self, variables: dict[str, Any]) -> None:
        self.token = uuid.uuid4().hex  # names this run's cache on every worker
        self.variables = variables
        self.version = 0  # version 0: empty, which every new worker cache is
        self._numbered: dict[str, Any] = {}  # key -> the value object of `version`
        self._changed: dict[str, int] = {}  # key -> version of its last change (or removal)
        self._confirmed: dict[Any, int] = {}  # worker -> the version it holds

    def _catch_up(self) -> None:
        """Number the changes made since the last look (by any node, here or remote)."""
        variables, numbered = self.variables, self._numbered
        changed = [k for k, value in variables.items() if numbered.get(k, _MISSING) is not value]
        gone = [key for key in numbered if key not in variables]
        if not changed and not gone:
            return
        self.version += 1
        for key in changed:
            numbered[key] = variables[key]
            self._changed[key] = self.version
        for key in gone:
            del numbered[key]
            self._changed[key] = self.version

    def delta_for(self, worker: Any) -> ContextDelta:
        """What `worker` lacks of the context now: the keys changed since its version."""
        self._catch_up()
        base = self._confirmed.get(worker, 0)
        if base >= self.version:
            return ContextDelta(self.token, base, base, None)
        if base == 0:
            values, deleted = dict(self._numbered), []
        else:
            keys = [key for key, version in self._changed.items() if version > base]
            values = {key: self._numbered[key] for key in keys if key in self._numbered}
            deleted = [key for key in keys if key not in self._numbered]
        return ContextDelta(self.token, base, self.version, _pack(values, deleted))

    def confirm(self, worker: Any, version: int) -> None:
        """A call carrying the delta up to `version` ran on `worker`."""
        if version > self._confirmed.get(worker, 0):
            self._confirmed[worker] = version

    def apply(self, message: ContextPut | ContextDeleted) -> None:
        """A remote node's write, into the run's variables (numbered on the next look)."""
        if isinstance(message, ContextPut):
            self.variables[message.key] = loads(message.blob)
        else:
            self.variables.pop(message.key, None)


def _pack(values: dict[str, Any], deleted: list[str]) -> bytes:
    """The changed values and removed keys, pickled; a value that cannot be is left out
    (a remote node then sees its key as unset), as it never could be sent."""
    try:
        return dumps((values, deleted))
    except Exception:
        kept = {}
        for key, value in values.items():
            try:
                dumps(value)
            except Exception:
                logger.debug("rc.context key %r cannot be pickled: not sent to Ray", key)
            else:
                kept[key] = value
        return dumps((kept, deleted))


class WorkerContext:
    """One run's context, as a worker holds it: the values of `version`."""

    __slots__ = ("values", "version")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.version = 0

    def apply(self, delta: ContextDelta) -> None:
        """Bring the cache forward to `delta.version`; an older delta is skipped unread.

        Raises:
            RuntimeError: the delta starts from a version this cache never had (the
                driver and this worker disagree: a bug in rc, not in the node).
        """
        if delta.version <= self.version or delta.blob is None:
            return
        if delta.base > self.version:
            raise RuntimeError(
                f"rc.context delta {delta.base}->{delta.version} of run {delta.token} reached a "
                f"Ray worker holding version {self.version}: the driver's record of what this "
                f"worker holds is wrong. Please report this as a bug in requestcompletion"
            )
        values, deleted = loads(delta.blob)
        if delta.base == 0:
            self.values = values
        else:
            self.values.update(values)
            for key in deleted:
                self.values.pop(key, None)
        self.version = delta.version


class NodeView(dict[str, Any]):
    """A remote node's `rc.context`: the run's values as last refreshed, plus its own writes.

    Each write is sent to the driver (`send`) and numbered; `refresh` takes the
    driver's newer state but keeps the node's writes the driver had not yet
    applied when it answered, so the node never reads back an older value than
    its own.
    """

    def __init__(self, values: Mapping[str, Any], send: Callable[[Message], None]) -> None:
        super().__init__(values)
        self._send = send
        self._numbers = itertools.count(1)  # the n-th write message this node sent
        self._own: dict[str, tuple[int, Any]] = {}  # key -> (number, value or _MISSING)

    def __setitem__(self, key: str, value: Any) -> None:
        try:
            blob = dumps(value)
        except Exception as error:
            raise TypeError(
                f"rc.context.put({key!r}, ...) on a Ray worker: the value cannot be pickled to "
                f"send it to the driver ({type(error).__name__}: {error}); put plain data"
            ) from None
        self._own[key] = (next(self._numbers), value)
        self._send(ContextPut(key, blob))
        super().__setitem__(key, value)

    def update(self, values: Any = (), /, **kw: Any) -> None:
        items: Iterable[tuple[str, Any]]
        items = values.items() if isinstance(values, Mapping) else values
        for key, value in [*items, *kw.items()]:
            self[key] = value

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        value = super().pop(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        self._own[key] = (next(self._numbers), _MISSING)
        self._send(ContextDeleted(key))
        return value

    def refresh(self, values: Mapping[str, Any], applied: int) -> None:
        """Take the driver's values, which include this node's first `applied` writes."""
        own = self._own
        for key in [key for key, (number, _) in own.items() if number <= applied]:
            del own[key]
        dict.clear(self)
        dict.update(self, values)
        for key, (_, value) in own.items():
            if value is _MISSING:
                dict.pop(self, key, None)
            else:
                dict.__setitem__(self, key, value)
