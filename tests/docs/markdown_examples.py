"""The Python examples of the Markdown docs, found the way a reader sees them.

Every fenced block whose info string is ``python`` (or ``py``) is an example. An
HTML comment on the line before it (blank lines between are allowed) marks it:

- ``<!-- docs: local_model -->``: needs the real embedded model. The suite runs it
  on the offline stand-in (``RC_MODEL=scripted``); the opt-in leg
  (``RC_LOCAL_MODEL=1 pytest -m local_model``) runs its whole page on the real model.
- ``<!-- docs: ray -->``: needs a Ray cluster; runs on its own, in a fresh
  namespace, inside ``scripts/netns-run`` (skipped elsewhere).
- ``<!-- docs: railtracks -->``: railtracks code shown for comparison; it must
  parse, and every ``rt.<name>`` it uses must exist in railtracks when that is
  installed (the ``bench`` extra).
- ``<!-- docs: setup CODE -->``: runs ``CODE`` (hidden from the rendered page)
  before the block, e.g. to script the local LLM server's answers.

Unmarked blocks of one page run in order in one namespace, so a page can build an
example over several blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mark = Literal["", "local_model", "ray", "railtracks"]
MARKS: tuple[Mark, ...] = ("local_model", "ray", "railtracks")

ROOT = Path(__file__).resolve().parents[2]
# Engineering notes kept beside the guide, not pages of it (the site excludes them too).
NOT_PAGES = frozenset({"docs/ray-notes.md"})

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_COMMENT = re.compile(r"^\s*<!--\s*docs:\s*(?P<body>.*?)\s*-->\s*$")


class DocsMarkError(ValueError):
    """A ``<!-- docs: ... -->`` comment that the collector does not understand."""


@dataclass(frozen=True)
class Example:
    """One fenced Python block: where it is, its code, and how it is marked."""

    page: str  # relative to the repository, e.g. "docs/concepts.md"
    line: int  # the line of the block's first line of code (1-based)
    code: str
    mark: Mark = ""
    setup: str = ""

    def compiled(self, code: str | None = None, line: int | None = None) -> object:
        """The code compiled so that tracebacks name the Markdown file and its lines."""
        start = self.line if line is None else line
        source = "\n" * (start - 1) + (self.code if code is None else code)
        return compile(source, str(ROOT / self.page), "exec", dont_inherit=True)


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, in a stable order."""
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in found if p.relative_to(ROOT).as_posix() not in NOT_PAGES]


def examples_in(text: str, page: str) -> list[Example]:
    """The Python examples of one Markdown text.

    Raises:
        DocsMarkError: a docs comment names an unknown mark, or stands before no block.
    """
    lines = text.splitlines()
    found: list[Example] = []
    mark: Mark = ""
    setup = ""
    pending_at = 0
    index = 0
    while index < len(lines):
        line = lines[index]
        comment = _COMMENT.match(line)
        fence = _FENCE.match(line.lstrip())
        if comment:
            mark, setup = _parse_mark(comment.group("body"), page, index + 1)
            pending_at = index + 1
        elif fence:
            end = _closing(lines, index, fence.group("fence"), page)
            if fence.group("info").lower() in ("python", "py"):
                code = "\n".join(_dedent(lines[index + 1 : end], line))
                found.append(Example(page, index + 2, code + "\n", mark, setup))
            elif pending_at:
                raise DocsMarkError(
                    f"{page}:{pending_at}: a docs comment stands before a "
                    f"{fence.group('info') or 'plain'!r} block; marks apply to python blocks only"
                )
            mark, setup, pending_at = "", "", 0
            index = end
        elif line.strip() and pending_at:
            raise DocsMarkError(
                f"{page}:{pending_at}: a docs comment must stand right before a python "
                f"block (only blank lines between), but line {index + 1} is text"
            )
        index += 1
    if pending_at:
        raise DocsMarkError(f"{page}:{pending_at}: a docs comment at the end of the page")
    return found


def _parse_mark(body: str, page: str, line: int) -> tuple[Mark, str]:
    word, _, rest = body.partition(" ")
    if word == "setup" and rest.strip():
        return "", rest.strip()
    if word in MARKS and not rest.strip():
        return word, ""  # type: ignore[return-value]
    raise DocsMarkError(
        f"{page}:{line}: unknown docs mark {body!r}; use one of {', '.join(MARKS)}, or 'setup CODE'"
    )


def _closing(lines: list[str], start: int, fence: str, page: str) -> int:
    for index in range(start + 1, len(lines)):
        stripped = lines[index].strip()
        if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
            return index
    raise DocsMarkError(f"{page}:{start + 1}: this code fence is never closed")


def _dedent(block: list[str], opening: str) -> list[str]:
    """Drop the indent of a fence nested in a list item (as much as the fence has)."""
    indent = len(opening) - len(opening.lstrip())
    return [line[indent:] if line[:indent].isspace() else line for line in block]


def all_examples() -> list[Example]:
    """Every example of every page."""
    found: list[Example] = []
    for path in pages():
        page = path.relative_to(ROOT).as_posix()
        found += examples_in(path.read_text(encoding="utf-8"), page)
    return found
