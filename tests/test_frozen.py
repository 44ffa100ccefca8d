"""fast_constructor: the same immutable instances as the classes' own constructors."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from requestcompletion._frozen import fast_constructor
from requestcompletion.llm.messages import AssistantMessage, ToolCall, ToolMessage
from requestcompletion.llm.response import Response, Usage
from requestcompletion.pubsub.events import RequestCreated
from requestcompletion.testing.models import ModelCall

CASES = [
    # `kind` is keyword-only in the class, last (positionally) in the fast constructor
    (RequestCreated, ("run", 3, "node", None, 1.5, (1, "a"), {"k": 2}, "tool")),
    (ToolMessage, ("call-1", "lookup", "42", False)),
    (AssistantMessage, ("hi", (ToolCall("lookup", {"x": 1}, id="c"),))),
    (Usage, (3, 4)),
    (Response, ("text", (), None, Usage(1, 2), "m", 0.5, "stop")),
    (ModelCall, ([], [], None)),  # not slotted: its fields live in a __dict__
]


@pytest.mark.parametrize(("cls", "values"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_builds_what_the_class_builds(cls: type, values: tuple[object, ...]) -> None:
    made = fast_constructor(cls)(*values)
    every = dataclasses.fields(cls)
    names = [f.name for f in every if not f.kw_only] + [f.name for f in every if f.kw_only]
    keywords = {f.name: values[names.index(f.name)] for f in every if f.kw_only}
    expected = cls(*values[: len(values) - len(keywords)], **keywords)
    assert type(made) is cls
    assert made == expected and repr(made) == repr(expected)
    assert tuple(getattr(made, name) for name in names) == values
    assert pickle.loads(pickle.dumps(made)) == expected
    assert copy.copy(made) == expected
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, name, "changed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(made, name)


def test_hashes_like_the_class_when_the_class_hashes() -> None:
    make = fast_constructor(Usage)
    assert hash(make(1, 2)) == hash(Usage(1, 2))
    assert {make(1, 2), Usage(1, 2)} == {Usage(1, 2)}
