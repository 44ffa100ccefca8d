"""Runs for the viewer's tests, made with the real runner and scripted models.

Each maker runs its runner on a thread of its own: Playwright's sync API keeps an
event loop running on the test's thread, where `run_sync` refuses to run.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import requestcompletion as rc
from requestcompletion.llm.messages import ToolCall
from requestcompletion.testing import ScriptedModel

P = ParamSpec("P")
T = TypeVar("T")


def own_thread(maker: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(maker)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(maker, *args, **kwargs).result()

    return run


SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "viz"
HOSTILE = (
    '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>\x1b[31m'
)


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city's name
    """
    return f"{city}: 20°C"


@own_thread
def make_agent_run(folder: Path, run_id: str = "agent-run") -> Path:
    """An agent whose two tool calls run in parallel, then answers."""
    model = ScriptedModel(
        [
            [ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_weather", {"city": "Lima"})],
            "Lima is warmer.",
        ]
    )
    agent = rc.agent_node("forecaster", llm=model, tool_nodes=[rc.function_node(get_weather)])
    with rc.Runner(run_identifier=run_id, state_dir=str(folder), logging_setting="NONE") as runner:
        runner.run_sync(agent, "Which city is warmer?")
    return folder / f"{run_id}.json"


async def _together(barrier: asyncio.Barrier, i: int) -> int:
    await barrier.wait()  # every call is running before any returns: their bars overlap
    return i


async def _fan_out(n: int) -> list[int]:
    barrier = asyncio.Barrier(n)
    return list(await rc.batch(_together, [barrier] * n, range(n)))


@own_thread
def make_parallel_run(folder: Path, n: int = 4, run_id: str = "parallel-run") -> Path:
    with rc.Runner(run_identifier=run_id, state_dir=str(folder), logging_setting="NONE") as runner:
        runner.run_sync(_fan_out, n)
    return folder / f"{run_id}.json"


def _hostile_leaf(text: str) -> str:
    raise ValueError(text)


async def _hostile(text: str) -> str:
    try:
        await rc.call(_hostile_leaf, text)
    except ValueError:
        pass
    return text


@own_thread
def make_hostile_run(folder: Path, run_id: str = "hostile-run") -> Path:
    """Saved text full of markup and control characters: inputs, output, error, traceback."""
    with rc.Runner(run_identifier=run_id, state_dir=str(folder), logging_setting="NONE") as runner:
        runner.run_sync(_hostile, HOSTILE)
    return folder / f"{run_id}.json"


def _score(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative {x!r}")
    return x * 10


async def _pipeline(xs: list[int]) -> int:
    total = 0
    for x in xs:
        try:
            total += await rc.call(_score, x)
        except ValueError:
            pass
    return total


@own_thread
def make_pair(folder: Path) -> tuple[Path, Path]:
    """The same workflow twice, the second with one changed input (and so a changed output)."""
    paths = []
    for run_id, xs in (("before", [1, 2, -3]), ("after", [1, 5, 3])):
        with rc.Runner(run_identifier=run_id, state_dir=str(folder), logging_setting="NONE") as r:
            r.run_sync(_pipeline, xs)
        paths.append(folder / f"{run_id}.json")
    return paths[0], paths[1]


async def _group(g: int, size: int) -> int:
    return sum(await rc.batch(_leaf, range(g * size, (g + 1) * size)))


async def _leaf(i: int) -> int:
    return i


async def _big(groups: int, size: int) -> int:
    return sum(await rc.batch(_group, range(groups), [size] * groups))


@own_thread
def make_big_run(folder: Path, nodes: int = 10_000, run_id: str = "big-run") -> Path:
    """A run of `nodes` nodes: one root, 99 groups, their leaves."""
    groups = 99
    size = (nodes - 1 - groups) // groups
    with rc.Runner(run_identifier=run_id, state_dir=str(folder), logging_setting="NONE") as runner:
        runner.run_sync(_big, groups, size)
    return folder / f"{run_id}.json"


def shot(page: Any, name: str) -> Path:
    """Save a screenshot of the page as test-output/viz/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def copy_fixture(name: str, folder: Path) -> Path:
    source = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / f"{name}.json"
    return Path(shutil.copy(source, folder / source.name))


async def _rerun_leaf(i: int) -> int:
    return i * 10


async def _rerun_mid(i: int) -> int:
    return await rc.call(_rerun_leaf, i) + 1


async def _rerun_top(n: int) -> list[int]:
    return await rc.batch(_rerun_mid, range(n), return_exceptions=False)


@own_thread
def make_rerun_pair(folder: Path) -> tuple[rc.ExecutionInfo, rc.ExecutionInfo]:
    """ "first": a real run; "again": `from_state(first, rerun=[_rerun_mid(1)])` of it."""
    quiet: dict[str, Any] = {"state_dir": folder, "logging_setting": "NONE"}
    with rc.Runner(run_identifier="first", **quiet) as runner:
        runner.run_sync(_rerun_top, 3)
    first = rc.ExecutionInfo.load(folder / "first.json")
    mid = next(n for n in first.nodes if n.name == "_rerun_mid" and n.args == (1,))
    with rc.Runner.from_state(
        folder / "first.json", rerun=[mid.id], run_identifier="again", **quiet
    ) as runner:
        runner.run_sync(_rerun_top, 3)
    return first, rc.ExecutionInfo.load(folder / "again.json")
