"""Every public name is in the API reference, and every one is used by some page of the guide.

The reference (docs/reference.md) is a list of autodoc directives: a name added to an
`__all__` without a line there would be missing from the site without any warning, so
this reads the directives the way autodoc does and compares objects, not spellings.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

import pytest
from markdown_examples import ROOT, pages

# The modules a user imports from: each name of their `__all__` is shown in a guide page.
USED = [
    "requestcompletion",
    "requestcompletion.execution",
    "requestcompletion.testing",
    "requestcompletion.human",
    "requestcompletion.mcp",
    "requestcompletion.observability.otel",
]
# ... and these too have every name of their `__all__` in the reference.
PUBLIC = [
    *USED,
    "requestcompletion.llm",
    "requestcompletion.llm.providers",
    "requestcompletion.pubsub",
]
# A helper of rc's own event code that `pubsub.events.__all__` re-exports: not for users.
NOT_USER_API = {"requestcompletion.pubsub.fast_constructor"}
REFERENCE = ROOT / "docs" / "reference.md"

_DIRECTIVE = re.compile(r"^\.\. auto(?P<kind>\w+):: (?P<target>[\w.]+)\s*$")
_OPTION = re.compile(r"^\s+:(?P<name>[\w-]+):\s*(?P<value>.*)$")


def _resolve(dotted: str) -> Any:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise ImportError(f"docs/reference.md names {dotted!r}, which does not import")


def _module_members(module: ModuleType, listed: str) -> list[Any]:
    """What `automodule` with `:members: listed` documents: the list, else `__all__`."""
    names = [n.strip() for n in listed.split(",") if n.strip()]
    if not names:
        names = list(getattr(module, "__all__", ()))
    return [getattr(module, name) for name in names]


def documented() -> list[Any]:
    """Every object the reference's directives document."""
    found: list[Any] = []
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if match is None:
            continue
        target = _resolve(match["target"])
        if match["kind"] != "module":
            found.append(target)
            continue
        options = {}
        for following in lines[number + 1 :]:
            option = _OPTION.match(following)
            if option is None:
                break
            options[option["name"]] = option["value"]
        if "members" in options:
            found.extend(_module_members(target, options["members"]))
    return found


def public_names(modules: list[str]) -> list[tuple[str, str, Any]]:
    """(module, name, object) for every public name of `modules` that is not a module."""
    names = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if not isinstance(value, ModuleType) and f"{module_name}.{name}" not in NOT_USER_API:
                names.append((module_name, name, value))
    return names


def _guide_text() -> str:
    """The pages a user reads to learn the API: all but the reference itself."""
    return "\n".join(page.read_text(encoding="utf-8") for page in pages() if page != REFERENCE)


def test_every_public_name_is_in_the_api_reference() -> None:
    have = {id(value) for value in documented()}
    # an instance (`rc.context`, `rc.human.DEFER`) is documented by its class's entry
    missing = [
        f"{module}.{name}"
        for module, name, value in public_names(PUBLIC)
        if id(value) not in have and id(type(value)) not in have
    ]
    assert not missing, (
        f"public names missing from docs/reference.md: {missing!r}; add an autodoc "
        "directive for each (autoclass/autofunction/autodata)"
    )


def test_every_public_name_is_used_in_the_guide() -> None:
    text = _guide_text()
    unused = [
        f"{module}.{name}"
        for module, name, _ in public_names(USED)
        if name != "__version__" and re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) is None
    ]
    assert not unused, (
        f"public names no page of the guide mentions: {unused!r}; show each where a user "
        "would need it (an example that runs, or a sentence)"
    )


@pytest.mark.parametrize("dotted", ["requestcompletion.nope", "requestcompletion.Runner.nope"])
def test_a_directive_naming_nothing_fails(dotted: str) -> None:
    with pytest.raises((ImportError, AttributeError)):
        _resolve(dotted)
