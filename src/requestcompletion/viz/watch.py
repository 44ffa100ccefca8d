"""Telling the viewer's open pages that a run file changed.

On Linux the state folder is watched with inotify (through ctypes, so no
dependency): the kernel wakes the watcher thread when a runner renames a new
`.json` into place, appends to a `.journal`, or a file is deleted. Elsewhere the
thread compares the folder's file sizes and times twice a second — the one place
the viewer checks rather than waits, because the standard library has no
portable file-change notification. Either way each change is handed to every
subscriber's queue; the page itself never polls (it listens on server-sent events).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import select
import struct
import sys
import threading
from pathlib import Path

__all__ = ["FolderWatcher"]

# inotify(7) event bits: a file written and closed, renamed in or out, created, deleted,
# appended to; and the folder itself going away.
_IN_MODIFY, _IN_CLOSE_WRITE, _IN_MOVED_FROM, _IN_MOVED_TO = 0x2, 0x8, 0x40, 0x80
_IN_CREATE, _IN_DELETE, _IN_DELETE_SELF = 0x100, 0x200, 0x400
_MASK = (
    _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
) | _IN_DELETE_SELF
_HEADER = struct.Struct("iIII")
_FALLBACK_PERIOD = 0.5


class FolderWatcher:
    """A thread that reports the names of files that change in one folder.

    Args:
        folder: the folder to watch (it may not exist yet: then the fallback runs).
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._subscribers: set[queue.Queue[str | None]] = set()
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._stopped = threading.Event()
        self._fd = _inotify(folder)
        # taken before the thread starts, so a change made right after is not mistaken for
        # the folder's first state
        self._seen = {} if self._fd is not None else _snapshot(folder)
        self._thread = threading.Thread(target=self._run, name="rc-viz-watch", daemon=True)
        self._thread.start()

    def subscribe(self) -> queue.Queue[str | None]:
        """A queue that gets each changed file name; None when the watcher closes."""
        box: queue.Queue[str | None] = queue.Queue()
        with self._lock:
            self._subscribers.add(box)
        return box

    def unsubscribe(self, box: queue.Queue[str | None]) -> None:
        with self._lock:
            self._subscribers.discard(box)

    def close(self) -> None:
        """Stop the thread and wake every subscriber with None."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        os.write(self._stop_w, b"x")
        self._thread.join()
        for fd in (self._stop_r, self._stop_w, *([] if self._fd is None else [self._fd])):
            os.close(fd)
        with self._lock:
            boxes = list(self._subscribers)
        for box in boxes:
            box.put(None)

    def _publish(self, name: str) -> None:
        with self._lock:
            boxes = list(self._subscribers)
        for box in boxes:
            box.put(name)

    def _run(self) -> None:
        if self._fd is not None:
            self._run_inotify(self._fd)
        else:
            self._run_fallback()

    def _run_inotify(self, fd: int) -> None:
        while True:
            ready, _, _ = select.select([fd, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            data = os.read(fd, 64 * 1024)
            offset = 0
            while offset + _HEADER.size <= len(data):
                _, mask, _, length = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                name = data[start : start + length].rstrip(b"\0").decode(errors="replace")
                offset = start + length
                if name:
                    self._publish(name)
                elif mask & _IN_DELETE_SELF:
                    self._publish("")

    def _run_fallback(self) -> None:
        seen = self._seen
        while not self._stopped.wait(_FALLBACK_PERIOD):
            now = _snapshot(self._folder)
            for name in seen.keys() | now.keys():
                if seen.get(name) != now.get(name):
                    self._publish(name)
            seen = now


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    try:
        return {
            entry.name: (entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in os.scandir(folder)
        }
    except OSError:
        return {}


def _inotify(folder: Path) -> int | None:
    """An inotify descriptor watching `folder`, or None where there is none to be had."""
    if not sys.platform.startswith("linux") or not folder.is_dir():
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fd = int(libc.inotify_init1(os.O_CLOEXEC))
    if fd < 0:
        return None
    if libc.inotify_add_watch(fd, os.fsencode(folder), _MASK) < 0:
        os.close(fd)
        return None
    return fd
