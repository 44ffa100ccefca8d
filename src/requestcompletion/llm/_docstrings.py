"""Read a function's description and parameter descriptions from its docstring.

Three styles are understood, and may not be mixed within one docstring:

Google::

    Args:
        name (str): what it is,
            possibly over several lines.

NumPy::

    Parameters
    ----------
    name : str
        what it is.

reST (Sphinx)::

    :param name: what it is.
    :param str name: typed form.

The description is the text before the first section; continuation lines of a
parameter are joined with single spaces.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_docstring"]

_GOOGLE_PARAMS = {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments"}
_GOOGLE_HEADER = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|returns?|yields?|"
    r"raises?|examples?|notes?|attributes|see also|warnings?|todo|references)\s*:\s*$",
    re.IGNORECASE,
)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:(.*)$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")
_REST_FIELD = re.compile(r"^:(\w+)((?:\s+[^:]+?)?)\s*:(.*)$")
_REST_PARAM_KINDS = {"param", "parameter", "arg", "argument", "key", "keyword"}


@dataclass(frozen=True)
class Docstring:
    """What a docstring says about a function."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(parts: list[str]) -> str:
    return " ".join(" ".join(parts).split())


def _is_numpy_header(lines: list[str], i: int) -> bool:
    if i + 1 >= len(lines) or not lines[i].strip():
        return False
    underline = lines[i + 1].strip()
    return len(underline) >= 3 and set(underline) == {"-"}


def _section_start(lines: list[str], i: int) -> bool:
    stripped = lines[i].strip()
    return (
        bool(_GOOGLE_HEADER.match(stripped))
        or _is_numpy_header(lines, i)
        or bool(_REST_FIELD.match(stripped))
    )


def _google_params(lines: list[str], start: int, params: dict[str, str]) -> None:
    """Read entries after an ``Args:`` header at ``lines[start]``."""
    header_indent = _indent(lines[start])
    entry_indent: int | None = None
    name: str | None = None
    parts: list[str] = []
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        indent = _indent(line)
        if indent <= header_indent:
            break
        if entry_indent is None:
            entry_indent = indent
        match = _GOOGLE_ENTRY.match(line.strip()) if indent == entry_indent else None
        if match:
            name, parts = match.group(1), [match.group(2)]
        elif name is not None and indent > entry_indent:
            parts.append(line.strip())
        else:
            continue
        params[name] = _join(parts)


def _numpy_params(lines: list[str], start: int, params: dict[str, str]) -> None:
    """Read entries after a ``Parameters`` header and its underline at ``lines[start]``."""
    base = _indent(lines[start])
    names: list[str] = []
    current: list[str] = []
    i = start + 2
    while i < len(lines):
        line = lines[i]
        if line.strip() and _is_numpy_header(lines, i):
            break
        if line.strip():
            indent = _indent(line)
            if indent < base:
                break
            match = _NUMPY_ENTRY.match(line.strip()) if indent == base else None
            if match:
                names = [n.strip().lstrip("*") for n in match.group(1).split(",")]
                current = []
                for name in names:
                    params[name] = ""
            elif names and indent > base:
                current.append(line.strip())
                for name in names:
                    params[name] = _join(current)
        i += 1


def _rest_params(lines: list[str], params: dict[str, str]) -> None:
    name: str | None = None
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        match = _REST_FIELD.match(stripped)
        if match:
            kind, words, text = match.group(1), match.group(2).split(), match.group(3)
            name = words[-1] if kind.lower() in _REST_PARAM_KINDS and words else None
            current = [text]
            if name is not None:
                params[name] = _join(current)
        elif name is not None and stripped and _indent(line) > 0:
            current.append(stripped)
            params[name] = _join(current)
        else:
            name = None


def parse_docstring(doc: str | None) -> Docstring:
    """Split a docstring into its description and its parameter descriptions."""
    if not doc:
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    first_section = next((i for i in range(len(lines)) if _section_start(lines, i)), len(lines))
    description = "\n".join(lines[:first_section]).strip()
    params: dict[str, str] = {}
    for i in range(first_section, len(lines)):
        stripped = lines[i].strip()
        header = _GOOGLE_HEADER.match(stripped)
        if header and header.group(1).lower() in _GOOGLE_PARAMS:
            _google_params(lines, i, params)
        elif _is_numpy_header(lines, i) and stripped.lower() in {"parameters", "other parameters"}:
            _numpy_params(lines, i, params)
    _rest_params(lines[first_section:], params)
    return Docstring(description, params)
