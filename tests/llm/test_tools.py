"""Tool schemas from Python functions: types, docstrings, validation, and bad input."""

from __future__ import annotations

import datetime
import enum
import inspect
import socket
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from requestcompletion.errors import NodeCreationError, ToolArgumentsError
from requestcompletion.llm import Tool
from requestcompletion.testing.models import sample_from_schema


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(pydantic.BaseModel):
    street: str
    number: int = 1


class Person(pydantic.BaseModel):
    name: str
    address: Address
    tags: list[str] = []


def everything(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    maybe: Optional[int],  # noqa: UP045 - the old spelling must work too
    either: int | None,
    mode: Literal["fast", "slow"],
    color: Color,
    items: list[int],
    scores: dict[str, float],
    person: Person,
    when: datetime.date,
    limit: int = 10,
) -> None:
    """Do everything at once.

    A second paragraph of description.

    Args:
        text: some text
        count (int): how many,
            over two lines
        ratio: a ratio
    """


def test_schema_of_every_supported_type() -> None:
    tool = Tool.from_function(everything)
    schema = tool.parameters
    props = schema["properties"]

    assert tool.name == "everything"
    assert tool.description == "Do everything at once.\n\nA second paragraph of description."
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "limit" not in schema["required"]
    assert len(schema["required"]) == 12
    assert props["text"] == {"type": "string", "description": "some text"}
    assert props["count"] == {"type": "integer", "description": "how many, over two lines"}
    assert props["ratio"]["type"] == "number"
    assert props["flag"] == {"type": "boolean"}
    assert props["maybe"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert props["either"] == props["maybe"]
    assert props["mode"] == {"enum": ["fast", "slow"], "type": "string"}
    assert props["color"] == {"$ref": "#/$defs/Color"}
    assert schema["$defs"]["Color"] == {"enum": ["red", "green"], "type": "string"}
    assert props["items"] == {"type": "array", "items": {"type": "integer"}}
    assert props["scores"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["person"] == {"$ref": "#/$defs/Person"}
    assert schema["$defs"]["Person"]["properties"]["address"] == {"$ref": "#/$defs/Address"}
    assert props["when"] == {"type": "string", "format": "date"}
    assert props["limit"] == {"type": "integer", "default": 10}
    assert "title" not in repr(schema)


def test_validation_converts_to_the_functions_types() -> None:
    tool = Tool.from_function(everything)
    arguments = sample_from_schema(tool.parameters) | {"color": "green", "count": "3"}

    validated = tool.validate(arguments)

    assert validated["color"] is Color.GREEN
    assert validated["count"] == 3
    assert isinstance(validated["person"], Person)
    assert isinstance(validated["person"].address, Address)
    assert validated["when"] == datetime.date(2024, 1, 1)
    assert "limit" not in validated  # the function's own default applies
    everything(**validated)


def test_validation_errors_are_written_for_the_model() -> None:
    tool = Tool.from_function(everything)
    good = sample_from_schema(tool.parameters)

    with pytest.raises(ToolArgumentsError, match=r"count: Input should be a valid integer"):
        tool.validate(good | {"count": "many"})
    with pytest.raises(ToolArgumentsError, match=r"mode: Input should be 'fast' or 'slow'"):
        tool.validate(good | {"mode": "medium"})
    with pytest.raises(ToolArgumentsError, match=r"surprise: Extra inputs are not permitted"):
        tool.validate(good | {"surprise": 1})
    with pytest.raises(ToolArgumentsError, match=r"text: Field required") as caught:
        tool.validate({k: v for k, v in good.items() if k != "text"})
    assert caught.value.tool == "everything"


def test_arguments_as_json_text() -> None:
    def add(a: int, b: int = 2) -> int:
        return a + b

    tool = Tool.from_function(add)
    assert tool.validate('{"a": 1}') == {"a": 1}
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        tool.validate('{"a": 1')
    with pytest.raises(ToolArgumentsError, match="must be a JSON object, not list"):
        tool.validate("[1, 2]")
    with pytest.raises(ToolArgumentsError, match="a: Field required"):
        tool.validate("")


def test_parameter_names_that_clash_with_pydantic() -> None:
    def odd(json: str, copy: int, schema: bool, model_config: str = "x") -> None:
        """Odd names."""

    tool = Tool.from_function(odd)
    assert sorted(tool.parameters["properties"]) == ["copy", "json", "model_config", "schema"]
    assert tool.validate({"json": "j", "copy": 1, "schema": True}) == {
        "json": "j",
        "copy": 1,
        "schema": True,
    }


def test_unannotated_and_annotated_parameters() -> None:
    def loose(anything, described: Annotated[int, pydantic.Field(ge=0)], **extra: Any) -> None:  # type: ignore[no-untyped-def,unused-ignore]
        """Loose."""

    tool = Tool.from_function(loose)
    assert tool.parameters["properties"]["anything"] == {}
    assert tool.parameters["properties"]["described"] == {"type": "integer", "minimum": 0}
    with pytest.raises(ToolArgumentsError, match="greater than or equal to 0"):
        tool.validate({"anything": [1], "described": -1})


def test_a_default_that_is_not_json_is_left_out_of_the_schema() -> None:
    marker = object()

    def f(x: Any = marker) -> None:
        """F."""

    assert "default" not in Tool.from_function(f).parameters["properties"]["x"]


def test_name_and_description_overrides_and_hand_made_tools() -> None:
    tool = Tool.from_function(lambda x: x, name="identity", description="Give x back.")
    assert (tool.name, tool.description) == ("identity", "Give x back.")

    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    manual = Tool("search", "Search the web.", schema)
    assert manual.validate('{"q": "cats"}') == {"q": "cats"}
    assert manual.function is None


@pytest.mark.parametrize(
    ("annotation", "culprit"),
    [
        (socket.socket, "socket.socket"),
        (list[socket.socket], "socket.socket"),
        (dict[int, str], "dict keys of type int"),
        (Callable[[int], int], "Callable"),
        (Optional[type], "type"),  # noqa: UP045
        (dict[str, list[Callable[[], None]]], "Callable"),
    ],
)
def test_types_json_schema_cannot_express(annotation: Any, culprit: str) -> None:
    def lookup(query: str, bad: Any) -> None:
        """Look up."""

    lookup.__annotations__["bad"] = annotation
    with pytest.raises(NodeCreationError) as caught:
        Tool.from_function(lookup)
    message = str(caught.value)
    assert "parameter 'bad'" in message
    assert "lookup" in message
    assert culprit in message
    assert isinstance(caught.value, TypeError)


def test_signatures_a_model_cannot_call() -> None:
    def star(*items: int) -> None: ...

    def positional(x: int, /) -> None: ...

    with pytest.raises(NodeCreationError, match=r"parameter 'items' of .*star.* is \*items"):
        Tool.from_function(star)
    with pytest.raises(NodeCreationError, match="positional-only"):
        Tool.from_function(positional)
    with pytest.raises(NodeCreationError, match="not a valid tool name"):
        Tool.from_function(lambda: None)
    with pytest.raises(NodeCreationError, match="not allowed"):
        Tool("has space")


def test_unresolvable_annotation() -> None:
    def f(x: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        """F."""

    with pytest.raises(NodeCreationError, match="cannot resolve the type hints"):
        Tool.from_function(f)


# --- property: any type built from the supported pieces makes a working tool ---------

_LEAF_TYPES: list[Any] = [str, int, float, bool, Color, Literal["a", "b"], Address, datetime.date]


def _types() -> st.SearchStrategy[Any]:
    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            inner.map(lambda t: list[t]),  # type: ignore[valid-type]
            inner.map(lambda t: dict[str, t]),  # type: ignore[valid-type]
            inner.map(lambda t: Optional[t]),  # noqa: UP045
            st.tuples(inner, inner).map(lambda ts: typing.Union[ts[0], ts[1]]),  # noqa: UP007
        )

    return st.recursive(st.sampled_from(_LEAF_TYPES), extend, max_leaves=4)


@settings(max_examples=40, deadline=None)
@given(st.lists(_types(), min_size=1, max_size=4))
def test_any_supported_type_makes_a_tool_whose_sample_validates(types: list[Any]) -> None:
    def f(**kwargs: Any) -> None:
        """Generated."""

    names = [f"p{i}" for i in range(len(types))]
    keyword = inspect.Parameter.KEYWORD_ONLY
    f.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, keyword) for name in names]
    )
    f.__annotations__ = dict(zip(names, types, strict=True))

    tool = Tool.from_function(f)
    assert sorted(tool.parameters["required"]) == sorted(names)
    validated = tool.validate(sample_from_schema(tool.parameters))
    assert sorted(validated) == sorted(names)


def test_classes_and_callable_objects() -> None:
    class Search:
        """Search the catalogue.

        Args:
            query: what to look for
        """

        def __init__(self, query: str, limit: int = 5) -> None:
            self.query = query

    class Scaler:
        def __call__(self, value: float) -> float:
            return value * 2

    search = Tool.from_function(Search)
    assert search.description == "Search the catalogue."
    assert search.parameters["properties"]["query"]["description"] == "what to look for"
    assert search.parameters["required"] == ["query"]
    scaler = Tool.from_function(Scaler(), name="scale")
    assert scaler.parameters["properties"]["value"] == {"type": "number"}
