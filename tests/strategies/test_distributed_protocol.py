"""The distributed strategy's driver/worker protocol: typed frozen messages, no tagged tuples."""

from __future__ import annotations

import dataclasses
import pickle
import typing

import pytest

import requestcompletion as rc
from requestcompletion.execution.strategies.distributed import messages


def test_every_message_is_a_frozen_dataclass() -> None:
    kinds = typing.get_args(messages.Message)
    assert {k.__name__ for k in kinds} == {
        "Streamed",
        "ContextPut",
        "ContextDeleted",
        "ChildCall",
        "Returned",
        "Raised",
        "FollowUp",
        "Reserve",
        "Settle",
        "Release",
        "OpenBudget",
        "CloseBudget",
        "ModelAsked",
        "ModelChunk",
        "ModelStreamed",
        "ModelReplied",
        "Recall",
    }
    for kind in kinds:
        params = getattr(kind, "__dataclass_params__", None)
        assert params is not None and params.frozen, kind
    with pytest.raises(dataclasses.FrozenInstanceError):
        messages.FollowUp(1).handle = 2  # type: ignore[misc]
    assert set(messages.FINAL) == {messages.Returned, messages.Raised}
    reports = messages.Reports(events=True, saved=False, replay=False)  # driver to worker
    with pytest.raises(dataclasses.FrozenInstanceError):
        reports.events = False  # type: ignore[misc]


def test_an_exception_travels_as_a_raised_message() -> None:
    pytest.importorskip("ray", reason="ray is not installed: pip install 'requestcompletion[ray]'")
    from requestcompletion.execution.strategies.distributed import wire

    try:
        raise KeyError("missing")
    except KeyError as error:
        raised = wire.encode_error(error)
    assert isinstance(raised, messages.Raised)
    assert raised.type_name == "builtins.KeyError" and "missing" in raised.traceback
    rebuilt = wire.decode_error("node 'x' (id 0)", raised)
    assert isinstance(rebuilt, KeyError) and "remote traceback" in str(rebuilt.__cause__)
    lost = wire.decode_error("node 'x' (id 0)", dataclasses.replace(raised, blob=None))
    assert type(lost).__name__ == "RemoteNodeError" and "builtins.KeyError" in str(lost)


@pytest.mark.parametrize(
    ("error", "fields"),
    [
        (
            rc.BudgetExceededError(
                "refused", limit="max_cost", allowed=1.0, spent=0.5, reserved=0.25, needed=0.5
            ),
            {"limit": "max_cost", "allowed": 1.0, "spent": 0.5, "reserved": 0.25, "needed": 0.5},
        ),
        (
            rc.errors.ProviderError("down", provider="openai", model="m", status=500, hint="h"),
            {"provider": "openai", "model": "m", "status": 500, "hint": "h", "retryable": False},
        ),
        (rc.errors.ToolArgumentsError("no such tool", tool="t"), {"tool": "t"}),
    ],
)
def test_errors_with_keyword_fields_survive_the_trip_to_and_from_a_worker(
    error: Exception, fields: dict[str, object]
) -> None:
    """They travel pickled; pickle's default rebuild (`cls(*args)`) cannot pass keywords."""
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and str(again) == str(error)
    assert {name: getattr(again, name) for name in fields} == fields
