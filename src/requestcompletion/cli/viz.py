"""`requestcompletion viz [RUN]`: serve the run viewer, export a run, or compare two.

    requestcompletion viz [RUN] [--port N] [--host H [--allow-remote]] [--state-dir DIR]
    requestcompletion viz --export RUN -o run.html
    requestcompletion viz --diff A B

Runs are named the way `show` names them (an id, a unique start of one, or a path).
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["add_parser", "run_viz"]


def add_parser(commands: Commands) -> None:
    """Add the `viz` subcommand to the command line's subparsers."""
    viz = commands.add_parser(
        "viz",
        help="look at runs in the browser: call tree, timeline, details, live updates, diff",
        description=(
            "Serve the run viewer on 127.0.0.1 and print its URL: the saved runs, each "
            "one's call tree, timeline and node details, updated live while a run goes on."
        ),
    )
    viz.add_argument("run", nargs="?", metavar="RUN", help="open this run (an id or a path)")
    viz.add_argument("--port", type=int, default=0, help="port to serve on (default: a free one)")
    viz.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1)")
    viz.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other machines can reach (the viewer has no login)",
    )
    viz.add_argument("--export", metavar="RUN", help="write RUN as one self-contained HTML file")
    viz.add_argument(
        "-o", "--output", metavar="FILE", help="where --export writes (default: RUN.html)"
    )
    viz.add_argument("--diff", nargs=2, metavar=("A", "B"), help="open runs A and B side by side")
    viz.add_argument(
        "--state-dir", default=".covailence", metavar="DIR", help="where the runs are saved"
    )


def run_viz(args: argparse.Namespace) -> int:
    """Carry out `viz` with the parsed arguments; return the exit code."""
    from ..viz import Viewer, export_html
    from . import fail
    from .runs import find_run

    state_dir = Path(args.state_dir)
    if args.export is not None:
        source = find_run(args.export, args.state_dir)
        target = Path(args.output or f"{source.stem}.html")
        print(f"wrote {export_html(source, target)}")
        return 0
    page = ""
    named = args.diff if args.diff is not None else [args.run] if args.run is not None else []
    files = [find_run(name, args.state_dir) for name in named]
    if files:
        # a run given as a path is served from its own folder
        state_dir = files[0].parent
        if any(f.parent.resolve() != state_dir.resolve() for f in files):
            return fail(f"--diff needs two runs in one folder, not {[str(f) for f in files]!r}")
        ids = [quote(f.stem, safe="") for f in files]
        page = f"#/diff/{ids[0]}/{ids[1]}" if len(ids) == 2 else f"#/run/{ids[0]}"
    try:
        viewer = Viewer(state_dir, host=args.host, port=args.port, allow_remote=args.allow_remote)
    except ValueError as error:
        return fail(error)
    print(f"run viewer: {viewer.url}{page}  (Ctrl-C to stop)", flush=True)
    # SIGTERM stops it as Ctrl-C does: the port is released and open pages are told
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        viewer.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        viewer.close()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
