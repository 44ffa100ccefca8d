"""The process's journal writer: one thread writes the journals of every runner.

A thread per runner cost a short default run about as much as the run itself (its
start and its join), so every open `Journal` is served by one daemon thread,
``rc-journal``. It starts when a journal first has something queued, and it ends
by itself once it has had nothing to do for `IDLE_SECONDS`; the next change
starts a new one. Each round it waits out the batch window (`FLUSH_INTERVAL`, cut
short by a flush), then writes what every journal has queued, one ``write`` per
journal. A runner's close waits for its own journal's last line, never for the
thread.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .journal import Journal

__all__ = ["FLUSH_INTERVAL", "IDLE_SECONDS", "THREAD_NAME", "hub"]

FLUSH_INTERVAL = 0.05  # seconds a batch may wait: well inside the promised 100 ms
IDLE_SECONDS = 1.0
THREAD_NAME = "rc-journal"

_log = logging.getLogger("RC.journal")


class _Hub:
    """The open journals and the one thread that writes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()  # some journal has something queued
        self._now = threading.Event()  # write it without waiting out the batch
        self._journals: list[Journal] = []
        self._thread: threading.Thread | None = None

    def add(self, journal: Journal) -> None:
        """Serve `journal` from now on (until its close is written)."""
        with self._lock:
            self._journals.append(journal)

    def wake(self, now: bool = False) -> None:
        """Something is queued: write it within the batch window, or at once (`now`).

        Called once per batch, not per change (`Journal.awake`), so the lock is
        cheap here; it makes starting the thread and its idle exit one decision.
        """
        with self._lock:
            if now:
                self._now.set()
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=THREAD_NAME, daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            if not self._wake.wait(IDLE_SECONDS):
                with self._lock:
                    if not self._wake.is_set():  # idle: the next wake starts a new thread
                        self._thread = None
                        return
            self._now.wait(FLUSH_INTERVAL)  # let a batch gather; a flush cuts it short
            self._now.clear()
            self._wake.clear()
            with self._lock:
                journals = list(self._journals)
            for journal in journals:
                try:
                    finished = journal.write_queued()
                except Exception as error:  # a bug must not stop the other journals
                    _log.exception("the journal writer failed on %r", os.fspath(journal.path))
                    finished = journal.abandon(error)
                if finished:
                    with self._lock:
                        self._journals.remove(journal)

    def clear(self) -> None:
        """Forget the parent's thread and journals (in a forked child)."""
        self._lock = threading.Lock()
        self._wake, self._now = threading.Event(), threading.Event()
        self._journals, self._thread = [], None


hub = _Hub()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=hub.clear)
