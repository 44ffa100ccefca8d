"""The publisher: typed immutable events, in order, to sync and async subscribers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time

import pytest

import requestcompletion as rc
from helpers import leftovers
from requestcompletion.pubsub import events as ev


def quiet(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)  # type: ignore[arg-type]


async def leaf(x: int) -> int:
    await rc.stream(f"leaf {x}")
    return x


async def tree() -> int:
    return sum(await rc.batch(leaf, range(3)))


async def broken() -> None:
    raise ValueError("nope")


def kinds(events: list[ev.Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_events_arrive_in_order_with_their_node_and_run() -> None:
    seen: list[ev.Event] = []
    with quiet() as runner:
        runner.publisher.subscribe(seen.append)
        runner.run_sync(tree)
    assert kinds(seen)[0] == "RunStarted" and kinds(seen)[-1] == "RunFinished"
    assert kinds(seen).count("RequestCreated") == 4
    assert kinds(seen).count("RequestSucceeded") == 4
    assert kinds(seen).count("Streamed") == 3
    assert all(e.run_id == runner.run_id for e in seen)
    times = [e.time for e in seen]
    assert times == sorted(times)
    created = [e for e in seen if isinstance(e, ev.RequestCreated)]
    assert [(e.node_name, e.parent_id) for e in created] == [
        ("tree", None),
        ("leaf", 0),
        ("leaf", 0),
        ("leaf", 0),
    ]
    assert created[1].args == (0,)
    done = [e for e in seen if isinstance(e, ev.RequestSucceeded)]
    assert done[-1].output == 3 and done[-1].node_id == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        done[0].output = 5  # type: ignore[misc]


def test_a_sync_subscriber_gets_every_event_of_a_big_run_in_order() -> None:
    children = 300

    async def fan_out() -> int:
        return len(await rc.batch(leaf, range(children)))

    seen: list[ev.Event] = []
    with quiet() as runner:
        runner.publisher.subscribe(seen.append)
        assert runner.run_sync(fan_out).answer == children
    assert kinds(seen).count("RequestCreated") == kinds(seen).count("RequestSucceeded")
    assert kinds(seen).count("RequestSucceeded") == children + 1
    assert [e.time for e in seen] == sorted(e.time for e in seen)
    created = [e.node_id for e in seen if isinstance(e, ev.RequestCreated)]
    assert created == list(range(children + 1))
    assert type(seen[1]) is ev.RequestCreated  # built through the twin, given its real class
    assert leftovers() == []


def test_failures_and_cancellations_are_published() -> None:
    seen: list[ev.Event] = []
    with quiet(end_on_error=True) as runner:
        runner.publisher.subscribe(seen.append)
        with pytest.raises(ValueError, match="nope"):
            runner.run_sync(broken)
    failed = [e for e in seen if isinstance(e, ev.RequestFailed)]
    assert len(failed) == 1 and str(failed[0].error) == "nope"
    fatal = [e for e in seen if isinstance(e, ev.FatalFailure)]
    assert len(fatal) == 1 and fatal[0].error is failed[0].error
    assert isinstance(seen[-1], ev.RunFinished) and seen[-1].outcome == "failed"


def test_async_subscribers_and_filters() -> None:
    streamed: list[object] = []

    async def on_event(event: ev.Event) -> None:
        await asyncio.sleep(0)
        assert isinstance(event, ev.Streamed)
        streamed.append(event.item)

    async def main() -> None:
        async with quiet() as runner:
            runner.publisher.subscribe(on_event, filter=lambda e: isinstance(e, ev.Streamed))
            await runner.run(tree)

    asyncio.run(main())
    assert streamed == ["leaf 0", "leaf 1", "leaf 2"]


def test_a_subscriber_that_raises_is_logged_and_the_others_still_get_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[ev.Event] = []

    def explode(event: ev.Event) -> None:
        raise RuntimeError("subscriber bug")

    with caplog.at_level(logging.ERROR, logger="RC.pubsub"), quiet() as runner:
        runner.publisher.subscribe(explode, name="explosive")
        runner.publisher.subscribe(seen.append)
        assert runner.run_sync(tree).answer == 3
    assert kinds(seen).count("RequestSucceeded") == 4
    assert "explosive" in caplog.text and "subscriber bug" in caplog.text


def test_a_slow_subscriber_does_not_slow_the_run() -> None:
    handled: list[ev.Event] = []
    release = threading.Event()
    fast_seen: list[ev.Event] = []

    def slow(event: ev.Event) -> None:
        release.wait(1.0)  # "sleeps 1 s per event" unless released
        handled.append(event)

    with quiet() as runner:
        runner.publisher.subscribe(slow, name="slow")
        runner.publisher.subscribe(fast_seen.append)
        info = runner.run_sync(tree)
        # the run is over while the slow subscriber is still on its first event
        assert info.answer == 3 and len(handled) == 0
        release.set()
    # 4 nodes created and finished, 3 streamed, and the run's start and finish
    assert len(handled) == len(fast_seen) == kinds(fast_seen).count("Streamed") + 8 + 2
    assert leftovers() == []


def test_a_stuck_subscriber_is_abandoned_after_the_drain_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    never = threading.Event()
    with caplog.at_level(logging.WARNING, logger="RC.pubsub"), quiet() as runner:
        runner.publisher.drain_timeout = 0.05
        runner.publisher.subscribe(lambda e: never.wait(), name="stuck")
        runner.run_sync(tree)
    assert "'stuck' was still busy" in caplog.text
    never.set()


def test_events_iterator_streams_until_the_run_closes() -> None:
    async def main() -> list[str]:
        names: list[str] = []
        async with quiet() as runner:

            async def consume() -> None:
                async for event in runner.publisher.events():
                    names.append(type(event).__name__)

            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0)
            await runner.run(tree)
        await consumer
        return names

    names = asyncio.run(main())
    assert names.count("RequestSucceeded") == 4 and names[-1] == "RunFinished"


def test_runner_events_is_the_publishers_iterator() -> None:
    async def main() -> int:
        count = 0
        async with quiet() as runner:
            iterator = runner.events()
            await runner.run(leaf, 1)
            async for event in iterator:
                count += 1
                if isinstance(event, ev.RequestSucceeded):
                    break
        return count

    assert asyncio.run(main()) == 4  # RunStarted, RequestCreated, Streamed, RequestSucceeded


def test_unsubscribe_stops_delivery() -> None:
    seen: list[ev.Event] = []
    with quiet() as runner:
        sub = runner.publisher.subscribe(seen.append)
        runner.run_sync(leaf, 1)
        runner.publisher.unsubscribe(sub)
        runner.run_sync(leaf, 2)
        with pytest.raises(KeyError):
            runner.publisher.unsubscribe(sub)
    assert [e.args for e in seen if isinstance(e, ev.RequestCreated)] == [(1,)]


def test_no_subscriber_means_no_events_are_built(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an event was built with nobody listening")

    monkeypatch.setattr(ev.RequestCreated, "__init__", refuse)
    with quiet() as runner:
        assert runner.run_sync(tree).answer == 3


def test_a_subscriber_never_blocks_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def where(event: ev.Event) -> None:
        threads.add(threading.get_ident())
        time.sleep(0.001)

    with quiet() as runner:
        runner.publisher.subscribe(where)
        runner.run_sync(tree)
    assert threads and loop_thread not in threads
