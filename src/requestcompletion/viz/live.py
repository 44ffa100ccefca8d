"""`ExecutorConfig(viz=True)`: the viewer of a run, started by the run itself.

One viewer per state folder per process, made on first need and shared by every
runner that asks for it: it serves on a daemon thread for as long as the process
lives (like the shared delivery thread, it is the process's, not a runner's), so
the page of a run stays up after its runner closes and a later run of the same
program appears in the same list. It follows runs live through their journals.
"""

from __future__ import annotations

import sys
import threading
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .server import Viewer

__all__ = ["close_viewers", "open_for", "viewer_for"]

_viewers: dict[Path, Viewer] = {}
_lock = threading.Lock()


def viewer_for(state_dir: str | Path) -> Viewer:
    """The process's viewer of `state_dir`, started (on 127.0.0.1, a free port) if needed."""
    folder = Path(state_dir).resolve()
    with _lock:
        viewer = _viewers.get(folder)
        if viewer is None:
            viewer = _viewers[folder] = Viewer(folder).start(daemon=True)
        return viewer


def close_viewers() -> None:
    """Stop every viewer `viz=True` started in this process (they serve until exit otherwise)."""
    with _lock:
        viewers = list(_viewers.values())
        _viewers.clear()
    for viewer in viewers:
        viewer.close()


def open_for(runner: Any) -> None:
    """Runner open hook: with `viz=True`, print the URL of this run's page on stderr."""
    config = runner.config
    if not config.viz:
        return
    if not config.save_state:
        warnings.warn(
            f"run {runner.run_id!r}: viz=True shows a run from its saved files, and this "
            "runner has save_state=False: no viewer was started",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    viewer = viewer_for(config.state_dir)
    print(f"run viewer: {viewer.url}#/run/{quote(runner.run_id, safe='')}", file=sys.stderr)
