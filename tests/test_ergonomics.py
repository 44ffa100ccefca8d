"""Ergonomics found by porting railtracks' tutorials (issue 11, item 5).

A decorated function is still the function; `@rc.function_node(...)` takes
arguments; `rc.set_config` rejects unknown fields like `rc.Runner` does (see
test_config.py); `runner.events()` delivers from the moment it is called.
"""

from __future__ import annotations

import asyncio

import pytest

import requestcompletion as rc


def quiet() -> rc.Runner:
    return rc.Runner(save_state=False, logging_setting="NONE")


@rc.function_node
def shout(text: str) -> str:
    """Upper-case a text.

    Args:
        text: the text to change
    """
    return text.upper() + "!"


@rc.function_node(name="Whisper", timeout=5.0)
async def whisper(text: str) -> str:
    return text.lower()


def test_a_decorated_function_called_directly_is_the_plain_function() -> None:
    assert shout("hi") == "HI!"  # no runner: it just runs (users unit-test tools this way)
    assert shout(text="yo") == "YO!"
    assert asyncio.run(whisper("HUSH")) == "hush"  # an async def gives its coroutine
    with pytest.raises(TypeError):
        shout()  # the function's own error, as if undecorated


def test_a_decorated_function_is_still_a_node_through_rc_call() -> None:
    with quiet() as runner:
        assert runner.run_sync(shout, "a").answer == "A!"
        assert runner.run_sync(whisper, "B").answer == "b"
        assert shout("direct") == "DIRECT!"  # inside a runner too: not recorded
    assert [(n.name, n.status) for n in runner.info.nodes] == [
        ("shout", "succeeded"),
        ("Whisper", "succeeded"),
    ]
    assert issubclass(shout, rc.Node)


def test_function_node_with_arguments_is_a_decorator() -> None:
    assert whisper.pretty_name() == "Whisper"
    assert whisper.timeout == 5.0
    assert whisper.__doc__ is None and shout.__doc__ is not None
    with pytest.raises(rc.NodeCreationError, match="timeout"):
        rc.function_node(timeout=-1)(shout.func)
    made = rc.function_node(shout.func, name="again")  # the plain form still works
    assert made("x") == "X!"


def test_a_tool_made_with_the_decorator_keeps_its_schema() -> None:
    tool = rc.llm.Tool.from_function(shout.func)
    assert tool.name == "shout"
    assert "text" in str(tool.parameters)


def test_events_deliver_from_the_call_on_and_end_when_the_runner_closes() -> None:
    async def main() -> tuple[list[tuple[str, object]], list[str]]:
        early = quiet()
        before = early.events()  # called before opening: everything
        async with early as runner:
            await runner.run(whisper, "ONE")
            during = runner.events()  # from now on: the first call is not replayed
            await runner.run(whisper, "TWO")
        seen = [(type(e).__name__, getattr(e, "args", None)) async for e in during]
        first = [type(e).__name__ async for e in before]
        return seen, first

    seen, first = asyncio.run(main())
    assert seen == [
        ("RunStarted", None),  # always first
        ("RequestCreated", ("TWO",)),  # then from the call on: the first request is not replayed
        ("RequestSucceeded", None),
        ("RunFinished", None),
    ]
    assert first[0] == "RunStarted" and first[-1] == "RunFinished"
    assert first.count("RequestCreated") == 2


def test_events_of_a_closed_runner_is_a_clear_error() -> None:
    with quiet() as runner:
        runner.run_sync(shout, "x")
    with pytest.raises(rc.ContextError, match=r"closed.*runner\.info"):
        runner.events()
