"""docs/architecture.md stays true to the code: what it names exists, every layer is on it.

The page is a map of the modules. A module renamed or split without the page
following would send a reader to nothing, so every module path the page names in
backticks must exist, every module of the package must be named somewhere on it,
and every module that `tests/test_layers.py` puts in a layer must be named in that
layer's row of the page's table.
"""

from __future__ import annotations

import re

import pytest
from markdown_examples import ROOT

from test_layers import LAYERS

PAGE = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "src" / "requestcompletion"

# `state/journal.py`, `viz/`, `execution/strategies/distributed/`, `_signals.py`
_PATH = re.compile(r"`(?P<path>[\w./]*?(?:\.py|/))`")


def named_paths(text: str) -> list[str]:
    """The module paths (files and folders) a page names in backticks."""
    return [match["path"] for match in _PATH.finditer(text)]


def exists(path: str) -> bool:
    """Whether `path` names a module or package of rc, or a file of the repository.

    A bare file name (``driver.py``, in a row about its folder) may be anywhere in
    the package; a path with a folder is taken from the package, then the repository.
    """
    if "/" not in path.rstrip("/"):
        return any(PACKAGE.rglob(path.rstrip("/")))
    return (PACKAGE / path).exists() or (ROOT / path).exists()


def layer_rows(text: str) -> dict[str, str]:
    """The layers table: each row's layer name and its modules cell."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3:
            rows[cells[0]] = cells[1]
    return rows


def as_path(module: str) -> str:
    """`nodes._agent_loop` -> `nodes/_agent_loop.py`; a package -> `nodes/`."""
    relative = module.replace(".", "/")
    return f"{relative}/" if (PACKAGE / relative).is_dir() else f"{relative}.py"


def test_every_module_the_page_names_exists() -> None:
    named = named_paths(PAGE.read_text(encoding="utf-8"))
    assert len(named) > 50, "the page names modules in backticks; the pattern finds them"
    gone = sorted({path for path in named if not exists(path)})
    assert not gone, (
        f"docs/architecture.md names modules that do not exist: {gone!r}; "
        "change the page with the code that moved them"
    )


def unnamed_modules(text: str) -> list[str]:
    """The package's modules the page names nowhere (a bare file name counts)."""
    named = set(named_paths(text))
    left_out = []
    for file in sorted(PACKAGE.rglob("*.py")):
        relative = file.relative_to(PACKAGE).as_posix()
        if file.name == "__init__.py":
            relative = relative.removesuffix("__init__.py")
            if relative and relative not in named:
                left_out.append(relative)
        elif relative not in named and file.name not in named:
            left_out.append(relative)
    return left_out


def test_every_module_of_the_package_is_on_the_page() -> None:
    left_out = unnamed_modules(PAGE.read_text(encoding="utf-8"))
    assert not left_out, (
        f"modules docs/architecture.md does not name: {left_out!r}; say where each belongs "
        "(a row of 'Where each concept lives', in backticks, e.g. `state/journal.py`)"
    )


def test_every_module_of_every_layer_is_in_its_row() -> None:
    rows = layer_rows(PAGE.read_text(encoding="utf-8"))
    missing = {}
    for layer, modules in LAYERS:
        assert layer in rows, f"the layers table has no row {layer!r} (tests/test_layers.py)"
        cell = rows[layer]
        left_out = [as_path(m) for m in modules if f"`{as_path(m)}`" not in cell]
        if left_out:
            missing[layer] = left_out
    assert not missing, (
        f"modules tests/test_layers.py places in a layer that its row of "
        f"docs/architecture.md does not name: {missing!r}"
    )


@pytest.mark.parametrize(
    ("path", "there"),
    [
        ("state/journal.py", True),
        ("_signals.py", True),
        ("viz/", True),
        ("driver.py", True),
        ("tests/test_layers.py", True),
        ("state/diary.py", False),
        ("nowhere/", False),
        ("driverr.py", False),
    ],
)
def test_the_check_tells_real_paths_from_gone_ones(path: str, there: bool) -> None:
    assert exists(path) is there


def test_a_module_the_page_leaves_out_is_found() -> None:
    page = PAGE.read_text(encoding="utf-8").replace("`state/replay.py`", "replay")
    assert "state/replay.py" in unnamed_modules(page)


def test_paths_are_found_in_backticks_only() -> None:
    text = "see `state/journal.py` and `viz/`, not state/replay.py or `rc.call`"
    assert named_paths(text) == ["state/journal.py", "viz/"]


def test_a_layer_row_left_short_is_reported() -> None:
    rows = layer_rows("| layer | modules | knows |\n| base | `errors.py` | nothing |\n")
    assert rows["base"] == "`errors.py`"
    assert "`config.py`" not in rows["base"]  # so config.py would be reported missing
