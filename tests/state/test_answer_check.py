"""The early check of `from_state(answers=)`: it refuses only what the node's type would.

`answer_problem` reads a question's saved JSON schema back into a looser Python
type. The property that matters: it never refuses an answer the node's own type
accepts (a resumed run must not be refused an answer the ask would take), and it
does refuse the plain misfits (text for an integer) before anything runs.
"""

from __future__ import annotations

import datetime
import decimal
import enum
from typing import Annotated, Any, Literal

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from requestcompletion.llm.structured import output_json_schema
from requestcompletion.state.answers import answer_problem, validate


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Order(pydantic.BaseModel):
    city: str
    count: int = 1


SCHEMAS: list[Any] = [
    int,
    float,
    bool,
    str,
    int | None,
    list[int],
    tuple[int, ...],
    set[str],
    dict[str, float],
    Literal["yes", "no"],
    Literal[1, 2, 3],
    Color,
    Level,
    Order,
    list[Order],
    datetime.datetime,
    datetime.date,
    decimal.Decimal,
    Annotated[int, pydantic.Field(gt=0)],
    Annotated[str, pydantic.Field(max_length=3)],
    int | str,
    list[int | None] | None,
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "5", "5.0", "yes", "red", "1", "2020-01-02", "x", "[1]", '"5"'])
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@pytest.mark.parametrize("schema", SCHEMAS, ids=repr)
@settings(max_examples=60, deadline=None)
@given(answer=json_values)
def test_an_answer_the_node_type_accepts_is_never_refused_early(schema: Any, answer: Any) -> None:
    saved = output_json_schema(schema)
    try:
        validate(schema, answer)
    except ValueError:
        return  # the ask refuses it: the early check may or may not
    assert answer_problem(saved, answer) is None


@pytest.mark.parametrize(
    ("schema", "answer"),
    [
        (int, "many"),
        (int, [1]),
        (float, "fast"),
        (bool, "perhaps"),
        (str, 5),
        (list[int], ["a"]),
        (Literal["yes", "no"], "maybe"),
        (Color, "green"),
        (Level, 3),
        (int | None, "x"),
        (dict[str, float], {"a": "b"}),
    ],
    ids=repr,
)
def test_a_plain_misfit_is_refused_early_with_what_is_wrong(schema: Any, answer: Any) -> None:
    problem = answer_problem(output_json_schema(schema), answer)
    assert problem is not None and f"the answer {answer!r} does not fit" in problem


@pytest.mark.parametrize(
    "saved",
    [
        "Order",  # a type pydantic could not write a schema for: shown by name
        {"type": "object", "properties": {"a": {"type": "integer"}}},
        {"type": "string", "format": "date-time"},
        {"$ref": "#/$defs/missing"},
        {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}},  # a cycle
        {"anyOf": "not a list"},
        {"enum": [{"not": "a scalar"}]},
        {"type": "tuple"},
        {"type": "array", "prefixItems": [{"type": "integer"}]},
        [],
        None,
    ],
    ids=repr,
)
def test_a_schema_that_cannot_tell_the_type_leaves_the_answer_to_the_ask(saved: Any) -> None:
    assert answer_problem(saved, "anything at all") is None


def test_an_answer_that_is_not_plain_data_is_left_to_the_ask() -> None:
    saved = output_json_schema(Color)
    assert answer_problem(saved, Color.RED) is None  # only the node's type knows Color
    deep: Any = 1
    for _ in range(50):
        deep = [deep]
    assert answer_problem(output_json_schema(list[Any]), deep) is None
