"""Reading the package's Google-style docstrings as reStructuredText, as their authors meant.

Two habits of the docstrings are not valid reST, and this fixes them for the API
reference before napoleon reads the docstring:

- an ``Example:`` section holds code, so it becomes a literal block (``Example::``);
- a plural written as ```Tool`s`` (backticks, then a suffix) gets the escaped space
  reST needs between a role and the letters after it.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx

_EXAMPLE = re.compile(r"^(\s*)(Examples?):\s*$")
_SUFFIX = re.compile(r"(`[^`\s][^`]*`)(?=[A-Za-z])")


def _rst_friendly(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    fixed: list[str] = []
    for line in lines:
        example = _EXAMPLE.match(line)
        if example:
            fixed += [f"{example.group(1)}{example.group(2)}::", ""]  # reST wants the blank
        else:
            fixed.append(_SUFFIX.sub(r"\1\\ ", line))
    lines[:] = fixed


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("autodoc-process-docstring", _rst_friendly, priority=400)  # before napoleon
    return {"parallel_read_safe": True, "parallel_write_safe": True}
