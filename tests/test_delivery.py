"""Sync subscribers on the process's one delivery thread: shared, bounded, never stuck.

Every runner's sync subscribers are served by one daemon thread (`rc-delivery`)
that idles out by itself; a callback that does not return is left behind (its
worker replaced) instead of holding up other runners; a close waits for its own
subscribers together, `drain_timeout` in all, and never on a running loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import requestcompletion as rc
from helpers import leftovers
from requestcompletion.pubsub import delivery, publisher
from requestcompletion.pubsub import events as ev

SETTINGS = ("VERBOSE", "REGULAR", "QUIET", "NONE")


def quiet(**overrides: Any) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)


async def leaf(x: int) -> int:
    await rc.stream(f"leaf {x}")
    return x


def kinds(events: list[ev.Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def delivery_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == delivery.THREAD_NAME and t.is_alive()]


class Warnings(logging.Handler):
    """Collects RC.pubsub's warnings; `arrived` is set by the first one."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.arrived.set()


@pytest.fixture
def pubsub_warnings() -> Iterator[Warnings]:
    handler = Warnings()
    pubsub = logging.getLogger("RC.pubsub")
    pubsub.addHandler(handler)
    try:
        yield handler
    finally:
        pubsub.removeHandler(handler)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test, whatever happens: stuck callbacks then return."""
    event = threading.Event()
    yield event
    event.set()


# --- one thread for every runner -----------------------------------------------------


def test_runners_in_turn_and_at_once_share_one_delivery_thread() -> None:
    where: set[str] = set()

    def note(event: ev.Event) -> None:
        where.add(threading.current_thread().name)

    for _ in range(3):
        with quiet() as runner:
            runner.publisher.subscribe(note)
            runner.publisher.subscribe(lambda event: None)
            runner.run_sync(leaf, 1)
    failures: list[BaseException] = []

    def in_a_thread() -> None:
        try:
            with quiet() as runner:
                runner.publisher.subscribe(note)
                runner.run_sync(leaf, 2)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=in_a_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert where == {delivery.THREAD_NAME}
    assert len(delivery_threads()) == 1
    assert all(t.daemon for t in delivery_threads())
    assert leftovers() == []


@pytest.mark.parametrize("setting", ["REGULAR", "QUIET"])
def test_regular_and_quiet_logging_need_no_thread(tmp_path: Path, setting: str) -> None:
    writers: set[str] = set()

    class Where(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            writers.add(threading.current_thread().name)

    async def fails() -> None:
        raise ValueError("logged at every setting but NONE")

    where = Where()
    logging.getLogger("RC").addHandler(where)
    try:
        with (
            rc.Runner(logging_setting=setting, log_file=tmp_path / "x.log", save_state=False) as r,
            pytest.raises(ValueError, match="logged at every setting"),
        ):
            r.run_sync(fails)
    finally:
        logging.getLogger("RC").removeHandler(where)
    assert writers == {threading.current_thread().name}  # written by the runner's own thread
    assert "fails (node 0) failed" in (tmp_path / "x.log").read_text()


def test_verbose_logging_is_written_on_the_delivery_thread(tmp_path: Path) -> None:
    writers: set[str] = set()

    class Where(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            writers.add(threading.current_thread().name)

    where = Where()
    logging.getLogger("RC").addHandler(where)
    try:
        with rc.Runner(logging_setting="VERBOSE", save_state=False) as runner:
            runner.run_sync(leaf, 1)
    finally:
        logging.getLogger("RC").removeHandler(where)
    assert writers == {delivery.THREAD_NAME}  # its values' reprs stay off the loop


def test_the_delivery_thread_idles_out_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "IDLE_SECONDS", 0.05)
    for thread in delivery_threads():  # one from an earlier test: it idles out too
        thread.join(timeout=30)
    seen: list[ev.Event] = []
    with quiet() as runner:
        runner.publisher.subscribe(seen.append)
        runner.run_sync(leaf, 1)
    assert kinds(seen)[-1] == "RunFinished"
    [thread] = delivery_threads()
    thread.join(timeout=30)
    assert not thread.is_alive()
    with quiet() as runner:  # and the next event starts a new one
        runner.publisher.subscribe(seen.append)
        runner.run_sync(leaf, 2)
    assert kinds(seen).count("RunFinished") == 2


# --- a stuck callback holds up nobody else ----------------------------------------------


def test_a_stuck_callback_of_one_runner_never_delays_another_runners_events(
    release: threading.Event, pubsub_warnings: Warnings
) -> None:
    stuck = threading.Event()

    def hang(event: ev.Event) -> None:
        stuck.set()
        release.wait()

    def stuck_runner() -> None:
        with quiet() as runner:  # its close would wait up to 10 s: it stays open meanwhile
            runner.publisher.subscribe(hang, name="hang")
            runner.run_sync(leaf, 1)
            release.wait()

    other = threading.Thread(target=stuck_runner)
    other.start()
    assert stuck.wait(timeout=30)

    seen: list[ev.Event] = []
    started: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def watch(event: ev.Event) -> None:
        seen.append(event)
        if isinstance(event, ev.RequestCreated) and event.node_name == "leaf":
            loop, child_seen = started[0]
            loop.call_soon_threadsafe(child_seen.set)

    async def waits_for_its_own_subscriber() -> str:
        # this runner's subscriber must see the child start while the other one is stuck
        started.append((asyncio.get_running_loop(), asyncio.Event()))
        await rc.call(leaf, 0)
        await asyncio.wait_for(started[0][1].wait(), timeout=30)
        return "saw it"

    with quiet() as runner:
        runner.publisher.subscribe(watch, name="watch")
        assert runner.run_sync(waits_for_its_own_subscriber).answer == "saw it"
    assert kinds(seen)[-1] == "RunFinished"  # delivered before its close returned
    assert pubsub_warnings.messages == []
    release.set()
    other.join(timeout=30)
    assert not other.is_alive()
    assert pubsub_warnings.messages == []  # the stuck one got everything once released


@pytest.mark.parametrize("ran", [False, True], ids=["nothing-ran", "after-run_sync"])
def test_stuck_subscribers_are_waited_for_together_once(
    release: threading.Event,
    pubsub_warnings: Warnings,
    monkeypatch: pytest.MonkeyPatch,
    ran: bool,
) -> None:
    # nothing ran: closed from sync code; after run_sync: closed on the runner's own loop
    waits: list[tuple[int, float]] = []
    blocking_wait, awaiting_wait = delivery.wait_all, publisher._wait_together

    def spy_blocking(subscriptions: Any, timeout: float) -> Any:
        subscriptions = list(subscriptions)
        waits.append((len(subscriptions), timeout))
        return blocking_wait(subscriptions, timeout)

    async def spy_awaiting(subscriptions: Any, within: float) -> None:
        waits.append((len(subscriptions), within))
        await awaiting_wait(subscriptions, within)

    monkeypatch.setattr(publisher, "wait_all", spy_blocking)
    monkeypatch.setattr(publisher, "_wait_together", spy_awaiting)
    healthy: list[ev.Event] = []
    with quiet() as runner:
        runner.publisher.drain_timeout = 2.0
        for k in range(3):
            runner.publisher.subscribe(lambda event: release.wait(), name=f"stuck-{k}")
        runner.publisher.subscribe(healthy.append, name="healthy")  # queued behind them
        if ran:
            runner.run_sync(leaf, 1)
        waits.clear()
    assert [wait for wait in waits if wait[1] >= 2.0] == [(4, 2.0)]
    assert kinds(healthy)[-1] == "RunFinished"  # served by a fresh worker, not abandoned
    assert sorted(m.split("'")[1] for m in pubsub_warnings.messages) == [
        "stuck-0",
        "stuck-1",
        "stuck-2",
    ]


async def test_closing_inside_async_code_never_blocks_the_loop_on_stuck_subscribers(
    release: threading.Event, pubsub_warnings: Warnings, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    real_wait_all = delivery.wait_all

    def spy(subscriptions: Any, timeout: float) -> Any:
        waits.append(timeout)
        return real_wait_all(subscriptions, timeout)

    monkeypatch.setattr(publisher, "wait_all", spy)
    with quiet() as runner:  # a sync `with` inside async code: closed on the loop's thread
        runner.publisher.drain_timeout = 0.2
        for k in range(3):
            runner.publisher.subscribe(lambda event: release.wait(), name=f"stuck-{k}")
        assert (await runner.run(leaf, 1)).answer == 1
    assert max(waits) < 0.2  # only a moment's wait on this thread
    assert pubsub_warnings.messages == []  # not abandoned yet: the close did not wait
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pubsub_warnings.arrived.wait, 30)
    await asyncio.sleep(0)  # the same timer abandons all three, in one callback
    assert sorted(m.split("'")[1] for m in pubsub_warnings.messages) == [
        "stuck-0",
        "stuck-1",
        "stuck-2",
    ]


def test_a_stuck_callback_released_after_its_run_is_abandoned_drops_the_rest(
    release: threading.Event, pubsub_warnings: Warnings
) -> None:
    handled: list[ev.Event] = []

    def first_hangs(event: ev.Event) -> None:
        if not handled:
            handled.append(event)
            release.wait()
        else:
            handled.append(event)

    with quiet() as runner:
        runner.publisher.drain_timeout = 0.05
        runner.publisher.subscribe(first_hangs, name="slowpoke")
        runner.run_sync(leaf, 1)
    assert len(pubsub_warnings.messages) == 1
    assert "'slowpoke' was still busy" in pubsub_warnings.messages[0]
    assert "4 event(s) not delivered" in pubsub_warnings.messages[0]
    release.set()
    seen: list[ev.Event] = []
    with quiet() as runner:  # the next runner's subscribers are served as usual
        runner.publisher.subscribe(seen.append)
        runner.run_sync(leaf, 2)
    assert kinds(seen)[-1] == "RunFinished"
    assert handled == handled[:1]  # the abandoned one got nothing more


# --- RunStarted, whatever the logging -----------------------------------------------------


@pytest.mark.parametrize("setting", SETTINGS)
def test_a_subscriber_added_inside_the_block_gets_run_started(setting: str) -> None:
    seen: list[ev.Event] = []
    with rc.Runner(logging_setting=setting, save_state=False) as runner:
        runner.publisher.subscribe(seen.append)
        runner.run_sync(leaf, 1)
    assert kinds(seen)[0] == "RunStarted" and kinds(seen)[-1] == "RunFinished"
    assert seen[0].run_id == runner.run_id
    assert seen[0].time <= seen[1].time


@pytest.mark.parametrize("setting", SETTINGS)
async def test_async_subscribers_and_events_inside_async_with_get_run_started(
    setting: str,
) -> None:
    got: list[ev.Event] = []

    async def collect(event: ev.Event) -> None:
        got.append(event)

    async with rc.Runner(logging_setting=setting, save_state=False) as runner:
        runner.publisher.subscribe(collect)
        stream = runner.events()
        await runner.run(leaf, 1)
        first = await stream.__anext__()
    assert kinds(got)[0] == "RunStarted" and kinds(got)[-1] == "RunFinished"
    assert isinstance(first, ev.RunStarted)


@pytest.mark.parametrize("setting", SETTINGS)
async def test_a_subscriber_added_later_in_the_block_gets_run_started_at_once(
    setting: str,
) -> None:
    started = asyncio.Event()

    async def on_start(event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            started.set()

    async with rc.Runner(logging_setting=setting, save_state=False) as runner:
        for _ in range(3):
            await asyncio.sleep(0)
        runner.publisher.subscribe(on_start)
        await asyncio.wait_for(started.wait(), timeout=30)  # while the run is still open


@pytest.mark.parametrize("setting", SETTINGS)
def test_an_empty_runner_still_starts_and_finishes(setting: str) -> None:
    seen: list[ev.Event] = []
    with rc.Runner(logging_setting=setting, save_state=False) as runner:
        runner.publisher.subscribe(seen.append)
    assert kinds(seen) == ["RunStarted", "RunFinished"]


# --- nothing is left ----------------------------------------------------------------------


def _subscribed_everywhere(runner: rc.Runner, seen: list[ev.Event]) -> None:
    async def on_async(event: ev.Event) -> None:
        seen.append(event)

    runner.publisher.subscribe(seen.append)
    runner.publisher.subscribe(on_async)


@pytest.mark.parametrize("setting", SETTINGS)
def test_a_closed_sync_runner_leaves_no_thread_or_handler(tmp_path: Path, setting: str) -> None:
    handlers = list(logging.getLogger("RC").handlers)
    seen: list[ev.Event] = []
    with rc.Runner(logging_setting=setting, log_file=tmp_path / "x.log") as runner:
        _subscribed_everywhere(runner, seen)
        runner.run_sync(leaf, 1)
    assert leftovers() == []
    assert logging.getLogger("RC").handlers == handlers
    assert kinds(seen).count("RunFinished") == 2  # the sync and the async subscriber


@pytest.mark.parametrize("setting", SETTINGS)
async def test_a_closed_async_runner_leaves_no_task_thread_or_handler(
    tmp_path: Path, setting: str
) -> None:
    handlers = list(logging.getLogger("RC").handlers)
    tasks = asyncio.all_tasks()
    seen: list[ev.Event] = []
    async with rc.Runner(logging_setting=setting, log_file=tmp_path / "x.log") as runner:
        _subscribed_everywhere(runner, seen)
        stream = runner.events()
        await runner.run(leaf, 1)
    assert asyncio.all_tasks() == tasks
    assert leftovers() == []
    assert logging.getLogger("RC").handlers == handlers
    assert kinds(seen).count("RunFinished") == 2
    assert [type(e).__name__ async for e in stream][-1] == "RunFinished"
