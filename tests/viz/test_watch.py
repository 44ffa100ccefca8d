"""The folder watcher wakes the server when a run file is replaced, appended to or deleted."""

from __future__ import annotations

import os
import queue
from pathlib import Path

from requestcompletion.viz.watch import FolderWatcher


def _next(box: queue.Queue[str | None]) -> str | None:
    return box.get(timeout=10)


def test_renames_appends_and_deletes_are_reported(tmp_path: Path) -> None:
    watcher = FolderWatcher(tmp_path)
    box = watcher.subscribe()
    try:
        (tmp_path / ".run.json.tmp").write_text("{}")
        os.replace(tmp_path / ".run.json.tmp", tmp_path / "run.json")  # how runs are saved
        names = {_next(box)}
        while "run.json" not in names:
            names.add(_next(box))
        with open(tmp_path / "live.journal", "a") as journal:
            journal.write('{"line": 1}\n')
            journal.flush()
            while _next(box) != "live.journal":
                pass
        (tmp_path / "run.json").unlink()
        while _next(box) != "run.json":
            pass
    finally:
        watcher.close()
    while _next(box) is not None:  # close wakes every subscriber with None
        pass


def test_a_folder_made_after_the_viewer_started_is_still_watched(tmp_path: Path) -> None:
    folder = tmp_path / "later"
    watcher = FolderWatcher(folder)  # no folder to put an inotify watch on: the fallback
    box = watcher.subscribe()
    try:
        folder.mkdir()
        (folder / "run.json").write_text("{}")
        while _next(box) != "run.json":
            pass
    finally:
        watcher.close()
