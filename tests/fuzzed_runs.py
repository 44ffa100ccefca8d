"""Saved-run documents for fuzzing: a real run's document and ways to break it.

Shared by the loading tests (tests/state/test_load_safe.py) and the CLI tests
(tests/cli/test_runs_show_fuzz.py), which feed the same broken files to
`ExecutionInfo.load` and to `runs`/`show`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

import requestcompletion as rc

# text that would drive a terminal or rich if printed as it is
NASTY_TEXT = st.sampled_from(
    ["\x1b]0;owned\x07", "\x1b[2J", "a\rb", "line\nforged", "[/]x", "[bold]b[/bold]", "\u202eevil"]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | NASTY_TEXT,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


async def leaf(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative {x}")
    await rc.stream({"x": x})
    return x


async def root() -> list[int]:
    try:
        await rc.call(leaf, -1)
    except ValueError:
        pass
    return [await rc.call(leaf, 1), await rc.call(leaf, 2)]


def good_document(folder: Path) -> dict[str, Any]:
    """The saved document of a small real run: a root, a failed leaf, two good ones, LLM usage."""
    with rc.Runner(run_identifier="good", state_dir=folder, logging_setting="NONE") as runner:
        runner.run_sync(root)
        runner.state.extras[1] = {  # what an agent node records
            "llm": {"model": "m", "input_tokens": 3, "output_tokens": 4, "cost": 0.5}
        }
    document: dict[str, Any] = json.loads((folder / "good.json").read_text())
    (folder / "good.json").unlink()
    return document


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value, as a tuple of keys and indices (the root first)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of `document` with the value at `path` replaced by `value`."""
    if not path:
        return value
    copy = json.loads(json.dumps(document))
    holder = copy
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return copy


@st.composite
def broken_documents(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    """`document` with one place replaced by any JSON value, and maybe a field dropped."""
    path = draw(st.sampled_from(paths(document)[1:]))
    changed = replaced(document, path, draw(JSON_VALUES))
    if draw(st.booleans()) and isinstance(changed, dict):
        changed.pop(draw(st.sampled_from(sorted(changed))))
    return changed
