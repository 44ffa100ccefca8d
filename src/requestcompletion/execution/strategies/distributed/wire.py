"""How values travel between the driver and a Ray worker: pickled by rc, with clear refusals.

Everything is pickled by rc with cloudpickle before Ray sees it, so a value
that cannot be sent fails here, with a message that names it, instead of deep
inside Ray. The driver starts a node with `NodeHost.start(node, args, delta,
node_id)`: the node type (`pack_node`, pickled once per type) and its arguments
(`pack_args`) apart, so the worker unpickles each node type once; what comes
back is the typed messages of `messages.py`. Errors travel as data (`Raised`):
the exception pickled (if it survives a round trip on the worker), its type name
and its formatted traceback, so the driver can raise the original type, or a
`RemoteNodeError` that still names it.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import traceback
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from ray import cloudpickle

from ....errors import NodeCreationError, RemoteNodeError
from .messages import Raised

__all__ = [
    "RemoteTraceback",
    "decode_error",
    "dumps",
    "encode_error",
    "loads",
    "pack_args",
    "pack_call",
    "pack_node",
    "reply_of",
]

logger = logging.getLogger("RC.execution")

dumps: Callable[[Any], bytes] = cloudpickle.dumps
loads: Callable[[bytes], Any] = pickle.loads  # cloudpickle's output is plain pickle data


class RemoteTraceback(Exception):
    """The traceback of an exception raised on a Ray worker, shown as its cause."""

    def __str__(self) -> str:
        return f"\n\nremote traceback (on the Ray worker):\n{self.args[0]}"


def pack_call(name: str, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> bytes:
    """The node type and its arguments, pickled for the trip to the other side.

    Raises:
        NodeCreationError: something cannot be pickled; the message names it.
    """
    try:
        return dumps((node, args, kwargs))
    except Exception as error:
        raise _refusal(name, node, args, kwargs, error) from None


def _refusal(
    name: str, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None, error: Exception
) -> NodeCreationError:
    what = _unpicklable_part(node, args, kwargs) or "the call"
    return NodeCreationError(
        f"cannot send node {name!r} to the Ray cluster: {what} cannot be pickled "
        f"({type(error).__name__}: {error}). Pass values that pickle (plain data, "
        f"classes importable by module), or run this node locally "
        f"(execution_mode='asyncio' or 'threads')"
    )


_node_blobs: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


def pack_node(name: str, node: Any) -> bytes:
    """The node type pickled, once per type: a function node is pickled by value
    (a few hundred microseconds), and the worker keeps what it unpickled by these bytes.

    Raises:
        NodeCreationError: the node type cannot be pickled.
    """
    try:
        return _node_blobs[node]
    except (KeyError, TypeError):  # not yet, or not weakly referable
        pass
    try:
        blob = dumps(node)
    except Exception as error:
        raise _refusal(name, node, (), None, error) from None
    try:
        _node_blobs[node] = blob
    except TypeError:
        pass
    return blob


def pack_args(name: str, node: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> bytes:
    """A node's arguments pickled; the error names the one that cannot be.

    Raises:
        NodeCreationError: an argument cannot be pickled.
    """
    try:
        return dumps((args, kwargs))
    except Exception as error:
        raise _refusal(name, node, args, kwargs, error) from None


def _unpicklable_part(node: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> str:
    parts: list[tuple[str, Any]] = [(f"the node type {node!r}", node)]
    parts += [(f"argument {i} ({_short(value)})", value) for i, value in enumerate(args)]
    parts += [(f"argument {k}= ({_short(v)})", v) for k, v in (kwargs or {}).items()]
    for description, value in parts:
        try:
            dumps(value)
        except Exception:
            return description
    return ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def encode_error(error: BaseException) -> Raised:
    """An exception as a message: type name, traceback text, and the
    pickled exception if it comes back out of pickle (else None)."""
    kind = type(error)
    name = f"{kind.__module__}.{kind.__qualname__}"
    text = "".join(traceback.format_exception(error))
    blob: bytes | None
    try:
        blob = dumps(error)
        loads(blob)
    except Exception:
        blob = None
    return Raised(name, text, blob)


async def reply_of(work: Awaitable[Any]) -> tuple[bool, bytes]:
    """The outcome of `work` (what a remote node asked the driver for), as the answer
    `NodeHost.resolve` takes: (True, the output pickled) or (False, the exception)."""
    try:
        output = await work
        try:
            return True, dumps(output)
        except Exception as error:
            raise TypeError(
                f"the output {_short(output)} cannot be pickled to send it to the Ray worker "
                f"that asked for it: {error}"
            ) from None
    except asyncio.CancelledError:
        raise  # the remote node is gone or cancelled: nobody waits for this answer
    except BaseException as error:  # every outcome must reach the waiting node
        raised = encode_error(error)
        name = raised.type_name
        return False, raised.blob or dumps(
            RemoteNodeError(f"{name}: {error}", remote_type=name, remote_traceback=raised.traceback)
        )


def decode_error(where: str, raised: Raised) -> BaseException:
    """The exception to raise for a `Raised` message: the original type when it can
    be rebuilt here, else a `RemoteNodeError` carrying its name and traceback."""
    type_name, text, blob = raised.type_name, raised.traceback, raised.blob
    reason = "it could not be pickled on the worker"
    if blob is not None:
        try:
            error = loads(blob)
        except Exception as failure:
            reason = f"unpickling it failed here: {type(failure).__name__}: {failure}"
        else:
            if isinstance(error, BaseException):
                error.__cause__ = RemoteTraceback(text)
                return error
            reason = f"it unpickled as {type(error).__name__}"
    last = text.rstrip().rsplit("\n", 1)[-1]
    error = RemoteNodeError(
        f"{where} raised {type_name} on the Ray worker, which cannot be rebuilt on the "
        f"driver ({reason}): {last}. Its traceback is in `remote_traceback`; make the "
        f"exception picklable (importable class, `args` matching __init__) to get it back as is",
        remote_type=type_name,
        remote_traceback=text,
    )
    error.__cause__ = RemoteTraceback(text)
    return error
