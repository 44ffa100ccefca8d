"""The versioned context protocol of the distributed strategy, at its unit seam (no cluster).

`DriverContext` numbers changes and says what each worker lacks; `WorkerContext`
brings a worker's copy forward; `NodeView` keeps a node's unapplied writes on top.
The same code runs on a real cluster in test_ray_context.py.
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest

pytest.importorskip("ray", reason="ray is not installed: pip install 'requestcompletion[ray]'")

from requestcompletion.execution.strategies.distributed.messages import (
    ContextDeleted,
    ContextDelta,
    ContextPut,
    Message,
)
from requestcompletion.execution.strategies.distributed.sync import (
    DriverContext,
    NodeView,
    WorkerContext,
)

WORKER, OTHER = object(), object()


def changed(delta: ContextDelta) -> tuple[dict[str, Any], list[str]]:
    assert delta.blob is not None
    values, deleted = pickle.loads(delta.blob)
    return values, deleted


def test_a_new_worker_gets_everything_then_only_what_changed() -> None:
    variables: dict[str, Any] = {"big": "x" * 1000, "n": 1}
    sync = DriverContext(variables)
    first = sync.delta_for(WORKER)
    assert (first.base, first.version) == (0, 1)
    assert changed(first) == ({"big": "x" * 1000, "n": 1}, [])
    sync.confirm(WORKER, first.version)

    assert sync.delta_for(WORKER).blob is None  # up to date: nothing travels
    variables["n"] = 2
    del variables["big"]
    second = sync.delta_for(WORKER)
    assert (second.base, second.version) == (1, 2)
    assert changed(second) == ({"n": 2}, ["big"])
    # a worker that confirmed nothing gets the whole context, removals not listed
    assert changed(sync.delta_for(OTHER)) == ({"n": 2}, [])


def test_an_unconfirmed_delta_is_sent_again_from_the_confirmed_version() -> None:
    variables: dict[str, Any] = {"a": 1}
    sync = DriverContext(variables)
    sync.confirm(WORKER, sync.delta_for(WORKER).version)
    variables["b"] = 2
    lost = sync.delta_for(WORKER)  # sent, but the call never ran (cancelled)
    variables["c"] = 3
    again = sync.delta_for(WORKER)
    assert again.base == 1 and lost.base == 1
    assert changed(again) == ({"b": 2, "c": 3}, [])


def test_a_value_replaced_by_an_equal_one_is_a_change_one_changed_in_place_is_not() -> None:
    items = [1]
    variables: dict[str, Any] = {"items": items}
    sync = DriverContext(variables)
    sync.confirm(WORKER, sync.delta_for(WORKER).version)
    items.append(2)
    assert sync.delta_for(WORKER).blob is None
    variables["items"] = [1, 2]
    assert changed(sync.delta_for(WORKER)) == ({"items": [1, 2]}, [])


def test_a_value_that_cannot_be_pickled_is_left_out_not_fatal() -> None:
    sync = DriverContext({"lock": threading.Lock(), "plain": 1})
    assert changed(sync.delta_for(WORKER)) == ({"plain": 1}, [])


def test_two_runs_have_their_own_tokens() -> None:
    assert DriverContext({}).token != DriverContext({}).token


def test_the_worker_cache_moves_forward_only() -> None:
    variables: dict[str, Any] = {"a": 1}
    sync = DriverContext(variables)
    cache = WorkerContext()
    full = sync.delta_for(WORKER)
    variables["a"] = 2
    newer = sync.delta_for(WORKER)  # still from 0: the first was not confirmed
    cache.apply(newer)
    cache.apply(full)  # arrives late: older, skipped
    assert (cache.version, cache.values) == (2, {"a": 2})


def test_a_delta_from_a_version_the_worker_never_had_is_a_clear_error() -> None:
    cache = WorkerContext()
    gap = ContextDelta("run-1", 3, 4, pickle.dumps(({"a": 1}, [])))
    with pytest.raises(RuntimeError, match=r"delta 3->4 of run run-1 .* holding version 0"):
        cache.apply(gap)
    assert (cache.version, cache.values) == (0, {})


def test_a_node_keeps_its_writes_the_driver_had_not_applied() -> None:
    sent: list[Message] = []
    view = NodeView({"a": 0}, sent.append)
    view["a"] = 1  # write 1
    view["b"] = 1  # write 2
    view.pop("c", None)  # not set: nothing sent
    view.pop("b")  # write 3
    assert [type(m) for m in sent] == [ContextPut, ContextPut, ContextDeleted]
    # the driver had applied write 1 only; another node has since set "a" and "b"
    view.refresh({"a": "other", "b": "other", "d": 4}, applied=1)
    assert dict(view) == {"a": "other", "d": 4}  # its removal of "b" stays
    view.refresh({"a": "other", "b": "later", "d": 4}, applied=3)
    assert dict(view) == {"a": "other", "b": "later", "d": 4}


def test_a_write_that_cannot_be_pickled_fails_in_the_node_and_sends_nothing() -> None:
    sent: list[Message] = []
    view = NodeView({}, sent.append)
    with pytest.raises(TypeError, match=r"rc.context.put\('lock', ...\) on a Ray worker"):
        view["lock"] = threading.Lock()
    assert sent == [] and dict(view) == {}
