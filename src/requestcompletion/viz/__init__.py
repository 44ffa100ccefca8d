"""The run viewer: a local web page over the saved runs of a state folder.

- `Viewer`: serves the runs list, a run's call tree, timeline and node detail,
  live updates of runs in progress, and the diff of two runs, on 127.0.0.1.
- `export_html`: one run as one self-contained HTML file that works offline.

The command line is `requestcompletion viz` (see `requestcompletion.cli.viz`).
It needs nothing beyond the standard library: the page is plain JavaScript
shipped in `static/`, served from the package, with no build step and no CDN.
"""

from .export import export_html
from .server import Viewer

__all__ = ["Viewer", "export_html"]
