"""SIGTERM handled like Ctrl-C while a runner is open in the main thread, and
`run_interruptible`, `run_sync`'s way of running its loop with Ctrl-C handled.

Containers and process managers stop a program with SIGTERM, whose default
action ends the process on the spot: no `finally`, no saved run. While a runner
is open in the main thread, rc routes SIGTERM to whatever handles SIGINT at that
moment — asyncio's (which cancels the main task, so the run's nodes are
cancelled and recorded and the run is saved ``cancelled``) or Python's default
(which raises `KeyboardInterrupt`) — and puts the default back when the last
such runner closes.

A program that handles SIGTERM itself keeps its handler: rc installs its own only
when SIGTERM has the default action as the runner opens. Install yours before
opening the runner (``signal.signal(signal.SIGTERM, mine)``), and rc leaves it,
and leaves it in place when the runner closes.

The count of open runners is process-wide because the handler is: a signal
handler belongs to the process, not to one runner. Handlers are read and set
through the C module `_signal`: `signal.getsignal`/`signal.signal` convert every
argument and result to an enum, which made this about 6 us of every runner's
open and close (a tenth of a short run) for the same two system calls.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # (no stub: the C half of `signal`)
import asyncio
import contextvars
import signal
import threading
from collections.abc import Coroutine
from types import FrameType
from typing import Any

__all__ = ["hold_sigterm", "release_sigterm", "run_interruptible"]

_lock = threading.Lock()
_holders = 0
_SIGTERM = int(signal.SIGTERM)
_SIGINT = int(signal.SIGINT)
_DEFAULT = int(signal.SIG_DFL)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored or default-at-C-level: still stop the way Ctrl-C would
        raise KeyboardInterrupt


def hold_sigterm() -> bool:
    """Route SIGTERM to the SIGINT handler until `release_sigterm`; False if rc did not.

    Only in the main thread (the only one signals are delivered to) and only when
    SIGTERM has its default action or is already routed by another open runner.
    """
    global _holders
    if threading.get_ident() != threading.main_thread().ident:
        return False
    with _lock:
        if _holders == 0:
            handler = _signal.getsignal(_SIGTERM)
            if handler is not _on_sigterm and not (type(handler) is int and handler == _DEFAULT):
                return False  # the program's own handler (or SIG_IGN, or None): keep it
            _signal.signal(_SIGTERM, _on_sigterm)
        _holders += 1
    return True


def release_sigterm() -> None:
    """One runner that held SIGTERM closed; the last one puts the default back."""
    global _holders
    with _lock:
        _holders -= 1
        if _holders == 0 and _signal.getsignal(_SIGTERM) is _on_sigterm:
            try:
                _signal.signal(_SIGTERM, _DEFAULT)
            except ValueError:  # closed from another thread: only the main one may
                _holders = 0


def run_interruptible(
    loop_runner: asyncio.Runner, coro: Coroutine[Any, Any, Any], context: contextvars.Context
) -> Any:
    """`loop_runner.run(coro, context=context)`, with the same Ctrl-C handling, cheaper.

    As in `asyncio.Runner.run`: in the main thread, while Python's default SIGINT
    handler is in place, the first Ctrl-C cancels the task (so the run records and
    saves its cancelled nodes) and then raises `KeyboardInterrupt`; a second one
    raises at once. The handler is set and put back through `_signal`, which saves
    the four enum conversions of `signal.getsignal`/`signal.signal`: measured, about
    40 us of a short `run_sync` (a quarter of it).
    """
    loop = loop_runner.get_loop()
    task = loop.create_task(coro, context=context)
    interrupts = 0

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1 and not task.done():
            task.cancel()
            loop.call_soon_threadsafe(_nothing)  # wake a loop blocked in select()
            return
        raise KeyboardInterrupt

    handler: Any = None
    if (
        threading.get_ident() == threading.main_thread().ident
        and _signal.getsignal(_SIGINT) is signal.default_int_handler
    ):
        try:
            _signal.signal(_SIGINT, on_sigint)
            handler = on_sigint
        except ValueError:  # pragma: no cover - not the main interpreter
            pass
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if interrupts and task.uncancel() == 0:
            raise KeyboardInterrupt from None  # the cancellation was only its way through
        raise
    finally:
        if handler is not None and _signal.getsignal(_SIGINT) is handler:
            _signal.signal(_SIGINT, signal.default_int_handler)


def _nothing() -> None:
    pass
