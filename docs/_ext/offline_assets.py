"""A Sphinx extension that fails the build when a page would fetch from another host.

The guide must work with no network at build time and at view time: every
stylesheet, script, font and image comes from the site itself. After the build,
every HTML page is searched for tags that load something (`<link>`, `<script>`,
`<img>`, `<iframe>`, `<source>`) from an absolute URL, and every stylesheet for
`url(...)` or `@import` of one. Plain `<a href>` links are fine: nothing is
fetched until a reader follows them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

_LOADING_TAG = re.compile(
    r"<(?:link|script|img|iframe|source|video|audio|embed)\b[^>]*?"
    r"\b(?:src|href|srcset)\s*=\s*[\"']?\s*((?:[a-z][a-z0-9+.-]*:)?//[^\"'\s>]+)",
    re.IGNORECASE,
)
_CSS_URL = re.compile(
    r"(?:url\(\s*[\"']?|@import\s+[\"'])\s*((?:[a-z][a-z0-9+.-]*:)?//[^\"')\s]+)",
    re.IGNORECASE,
)


def remote_assets(outdir: Path) -> list[str]:
    """Every `file: URL` under `outdir` that a browser would fetch from another host."""
    found = []
    for path in sorted(outdir.rglob("*")):
        pattern = {".html": _LOADING_TAG, ".css": _CSS_URL}.get(path.suffix)
        if pattern is None or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(outdir)}: {m.group(1)}" for m in pattern.finditer(text)]
    return found


def _check(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    found = remote_assets(Path(app.outdir))
    if found:
        listed = "\n  ".join(found)
        raise ExtensionError(
            f"the site would load {len(found)} thing(s) from the network, which the guide "
            f"must never do; serve them from the site (html_static_path) or drop them:\n  {listed}"
        )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
