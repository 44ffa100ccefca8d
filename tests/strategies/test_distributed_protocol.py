"""The distributed strategy's driver/worker protocol: typed frozen messages, no tagged tuples."""

from __future__ import annotations

import dataclasses
import typing

import pytest

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
    }
    for kind in kinds:
        params = getattr(kind, "__dataclass_params__", None)
        assert params is not None and params.frozen, kind
    with pytest.raises(dataclasses.FrozenInstanceError):
        messages.FollowUp(1).handle = 2  # type: ignore[misc]
    assert set(messages.FINAL) == {messages.Returned, messages.Raised}


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
