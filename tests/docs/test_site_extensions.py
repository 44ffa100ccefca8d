"""The two Sphinx extensions of the guide (docs/_ext): the offline check and the docstring fixes.

`make docs` builds the site itself; these tests show that the checks it relies on
can fail.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXT = Path(__file__).resolve().parents[2] / "docs" / "_ext"


def _load(name: str) -> ModuleType:
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    spec = importlib.util.spec_from_file_location(f"docs_ext_{name}", EXT / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_page_that_loads_from_another_host_is_found(tmp_path: Path) -> None:
    offline = _load("offline_assets")
    (tmp_path / "ok.html").write_text(
        '<a href="https://example.org">a link is fine</a>'
        '<link rel="stylesheet" href="_static/furo.css"><script src="_static/a.js"></script>'
    )
    (tmp_path / "bad.html").write_text(
        '<link href="https://fonts.googleapis.com/css?family=Roboto" rel="stylesheet">'
        "<script src='//cdn.example.com/x.js'></script><img srcset=\"http://e.org/i.png 2x\">"
    )
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "a.css").write_text(
        "@import 'https://e.org/f.css'; .x { background: url(data:image/svg+xml;"
        "xmlns='http://www.w3.org/2000/svg') } .y { src: url( \"https://e.org/font.woff\" ) }"
    )
    assert offline.remote_assets(tmp_path) == [
        "_static/a.css: https://e.org/f.css",
        "_static/a.css: https://e.org/font.woff",
        "bad.html: https://fonts.googleapis.com/css?family=Roboto",
        "bad.html: //cdn.example.com/x.js",
        "bad.html: http://e.org/i.png",
    ]


def test_example_sections_become_code_and_plurals_stay_valid() -> None:
    docstrings = _load("docstrings")
    lines = [
        "Results come back as `ToolMessage`s.",
        "",
        "Example:",
        "    with rc.Runner() as runner:",
        "        runner.run_sync(node)",
    ]
    docstrings._rst_friendly(None, "class", "x", None, None, lines)
    assert lines == [
        "Results come back as `ToolMessage`\\ s.",
        "",
        "Example::",
        "",
        "    with rc.Runner() as runner:",
        "        runner.run_sync(node)",
    ]
