"""The layers, bottom to top: a layer imports only layers below it (docs/architecture.md).

Each layer is imported in a fresh interpreter, with the package's `__init__`
skipped (it imports everything, as the public face should), and the modules
it pulled in must all belong to its own layer or one below. The core modules
also may not dodge a circle with a function-local or `TYPE_CHECKING` import.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import requestcompletion as rc

PACKAGE = Path(rc.__file__).resolve().parent

# Bottom to top. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("errors", "config", "_config_checks", "budgets", "_frozen", "_text", "_signals")),
    ("pubsub", ("pubsub",)),
    ("state", ("state",)),
    ("context", ("context",)),
    ("nodes", ("nodes", "nodes.base", "nodes.function")),
    ("execution", ("execution", "observability")),
    ("runner", ("runner", "_opening")),
    ("interaction", ("interaction", "human")),
    (
        "agents, CLI, viewer",
        (
            "nodes.agent",
            "nodes.agent_result",
            "nodes._agent_checks",
            "nodes._agent_loop",
            "nodes._agent_output",
            "nodes._agent_prompt",
            "nodes._agent_stream",
            "nodes._agent_tools",
            "llm",
            "testing",
            "cli",
            "viz",
        ),
    ),
    ("extensions", ("mcp", "__main__")),
]
TOP = len(LAYERS) - 1

# The core: no function-local imports of rc modules, no TYPE_CHECKING imports,
# except the strategy modules' lazy imports of what needs Ray (an optional extra).
CORE = [
    "runner.py",
    "_opening.py",
    "interaction.py",
    "context.py",
    "config.py",
    "_config_checks.py",
    "execution/control.py",
    "execution/coordinator.py",
    "execution/strategy.py",
    "execution/strategies/asyncio.py",
    "execution/strategies/threads.py",
    "execution/strategies/distributed/__init__.py",
    "execution/strategies/distributed/driver.py",
    "execution/strategies/distributed/messages.py",
    "execution/strategies/distributed/pool.py",
    "nodes/base.py",
    "nodes/function.py",
]
LAZY_EXTRAS = {"wire", "cluster", "worker"}  # each imports ray


def layer_of(module: str) -> int:
    """The layer index of `requestcompletion.<module>`."""
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"module {module!r} is in no layer: add it to LAYERS"
    return max(matches)[1]


def modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            names.append(".".join(parts))
    return names


_PROBE = """
import importlib, json, sys, types
package = types.ModuleType("requestcompletion")
package.__path__ = [sys.argv[1]]
sys.modules["requestcompletion"] = package  # its __init__ imports every layer: skip it
for name in sys.argv[2:]:
    importlib.import_module("requestcompletion." + name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("requestcompletion."))))
"""


@pytest.mark.parametrize("index", range(TOP), ids=[name for name, _ in LAYERS[:TOP]])
def test_a_layer_imports_only_layers_below_it(index: int) -> None:
    own = [m for m in modules() if layer_of(m) == index]
    assert own, f"layer {LAYERS[index][0]!r} has no modules"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(PACKAGE), *own],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = [m.removeprefix("requestcompletion.") for m in json.loads(done.stdout)]
    above = sorted(m for m in loaded if layer_of(m) > index)
    assert above == [], f"layer {LAYERS[index][0]!r} imports layers above it: {above}"


def test_every_module_is_in_a_layer() -> None:
    for module in modules():
        layer_of(module)


@pytest.mark.parametrize("path", CORE)
def test_the_core_dodges_no_circle(path: str) -> None:
    tree = ast.parse((PACKAGE / path).read_text(encoding="utf-8"))
    dodges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            dodges += [
                f"line {sub.lineno}: import of {sub.module!r} inside {node.name}()"
                for sub in ast.walk(node)
                if isinstance(sub, ast.ImportFrom)
                and sub.level > 0
                and (sub.module or "").split(".")[-1] not in LAZY_EXTRAS
                and not (sub.module is None and {a.name for a in sub.names} <= LAZY_EXTRAS)
            ]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            dodges.append(f"line {node.lineno}: a TYPE_CHECKING import")
    assert dodges == [], f"{path}: {dodges}"


def test_the_layer_map_catches_an_upward_import() -> None:
    assert layer_of("context") < layer_of("runner") < layer_of("interaction")
    assert layer_of("nodes._agent_loop") == layer_of("llm") > layer_of("nodes.base")
    assert layer_of("execution.strategies.distributed.driver") == layer_of("execution")
