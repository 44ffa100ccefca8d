"""`requestcompletion viz --export RUN -o run.html`: one run as one self-contained file.

The file holds the page's script and style inline and the run as a JSON block,
so it opens from disk with no server and no network. Its Content-Security-Policy
lets the page run only its own inline script (by hash) and connect nowhere: even
a value in the run that slipped past the page's escaping could fetch nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from ..state import ExecutionInfo
from .model import run_model, summary, to_json
from .server import asset

__all__ = ["export_html"]


def export_html(run_file: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Write the run saved at `run_file` as one HTML file at `target`; return its path.

    Raises:
        SavedRunError: the run file is missing or unreadable.
        OSError: `target` cannot be written.
    """
    info = ExecutionInfo.load(run_file)
    data = to_json({"listing": [summary(info)], "runs": {info.run_id: run_model(info)}})
    # "<" escaped so no saved text can close the data block (`</script>`) or open a comment
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    script = asset("app.js")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    page = asset("index.html")
    page = page.replace(
        '<meta charset="utf-8">',
        f'<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="{policy}">',
    )
    page = page.replace(
        '<link rel="stylesheet" href="/static/app.css">', f"<style>\n{asset('app.css')}</style>"
    )
    page = page.replace(
        '<script src="/static/app.js"></script>',
        f'<script type="application/json" id="rc-data">{data}</script>\n<script>{script}</script>',
    )
    path = Path(target)
    path.write_text(page, encoding="utf-8")
    return path
