"""Reading MCP input schemas into tool signatures: what is kept, and every kind of refusal."""

from __future__ import annotations

import keyword
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import requestcompletion as rc
from requestcompletion.llm import Tool
from requestcompletion.mcp._schema import parameters_of


def tool_for(schema: dict[str, Any]) -> Tool:
    """The Tool an agent would see for an MCP tool with this schema."""
    from requestcompletion.mcp.client import _Client, _tool_node
    from requestcompletion.nodes._agent_tools import tool_of

    client = _Client(rc.mcp.HTTPServer("http://127.0.0.1:1/mcp"), 1.0, 1.0)
    return tool_of(_tool_node(client, "t", "A tool.", parameters_of("t", schema)))


@pytest.mark.parametrize(
    ("schema", "where", "problem"),
    [
        ({"type": "object", "properties": {"x": {"not": {}}}}, "properties.x", "'not'"),
        (
            {"type": "object", "properties": {"x": {"if": {}, "then": {}}}},
            "properties.x",
            "'if', 'then'",
        ),
        (
            {"type": "object", "properties": {"x": {"type": "object", "patternProperties": {}}}},
            "properties.x",
            "'patternProperties'",
        ),
        (
            {"type": "object", "properties": {"x": {"type": "array", "prefixItems": []}}},
            "properties.x",
            "'prefixItems'",
        ),
        (
            {"type": "object", "properties": {"x": {"type": "array", "items": [{}, {}]}}},
            "properties.x",
            "tuple array",
        ),
        (
            {"type": "object", "properties": {"x": {"allOf": [{"type": "string"}, {}]}}},
            "properties.x",
            "'allOf'",
        ),
        (
            {
                "type": "object",
                "properties": {"x": {"$ref": "#/$defs/Node"}},
                "$defs": {
                    "Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}
                },
            },
            "$defs.Node.properties.next",
            "recursive",
        ),
        (
            {"type": "object", "properties": {"x": {"$ref": "http://example.test/s.json"}}},
            "properties.x",
            "not in the schema's $defs",
        ),
        ({"type": "object", "properties": {"x": {"type": "date"}}}, "properties.x", "'date'"),
        ({"type": "object", "properties": {"x": {"enum": [[1]]}}}, "properties.x", "[1]"),
        ({"type": "object", "properties": {"x": {"enum": []}}}, "properties.x", "empty"),
        ({"type": "object", "properties": {"user-id": {}}}, "properties.user-id", "Python name"),
        ({"type": "object", "properties": {"class": {}}}, "properties.class", "Python name"),
        ({"type": "array"}, "the top", "not an object schema"),
        ({"type": "object", "dependentRequired": {}}, "the top", "'dependentRequired'"),
        ({"type": "object", "properties": {"x": 3}}, "properties.x", "not a schema object"),
    ],
)
def test_a_schema_rc_cannot_express_is_refused_with_the_tool_and_path(
    schema: dict[str, Any], where: str, problem: str
) -> None:
    with pytest.raises(rc.MCPError) as caught:
        parameters_of("weird_tool", schema)
    message = str(caught.value)
    assert message.startswith(f"MCP tool 'weird_tool': its input schema at {where} ")
    assert problem in message
    assert "exclude=['weird_tool']" in message


def test_what_the_model_sees_keeps_types_constraints_and_descriptions() -> None:
    tool = tool_for(
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 5, "description": "who"},
                "count": {"type": "integer", "minimum": 1, "maximum": 9},
                "ratio": {"type": ["number", "null"]},
                "mode": {"enum": ["fast", "slow"]},
                "fixed": {"const": 3},
                "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "anything": {},
            },
            "required": ["name"],
            "title": "ignored",
        }
    )
    properties = tool.parameters["properties"]
    assert tool.parameters["required"] == ["name"]
    assert properties["name"] == {"type": "string", "maxLength": 5, "description": "who"}
    assert properties["count"] == {"type": "integer", "minimum": 1, "maximum": 9}
    assert properties["ratio"] == {"anyOf": [{"type": "number"}, {"type": "null"}]}
    assert properties["mode"] == {"enum": ["fast", "slow"], "type": "string"}
    assert properties["fixed"]["const"] == 3
    assert properties["either"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert properties["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert properties["anything"] == {}
    # the arguments are checked before anything is sent
    assert tool.validate({"name": "ada", "count": 2}) == {"name": "ada", "count": 2}
    with pytest.raises(rc.ToolArgumentsError, match="count"):
        tool.validate({"name": "ada", "count": 0})
    with pytest.raises(rc.ToolArgumentsError, match="name"):
        tool.validate({"name": "too long"})


_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name)
)
_LEAF = st.one_of(
    st.sampled_from([{"type": t} for t in ("string", "integer", "number", "boolean")]),
    st.lists(st.text(max_size=5), min_size=1, max_size=4, unique=True).map(
        lambda values: {"enum": values}
    ),
    st.integers(0, 5).map(lambda n: {"type": "integer", "minimum": n}),
    st.integers(1, 9).map(lambda n: {"type": "string", "maxLength": n}),
)


def _extend(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        inner.map(lambda items: {"type": "array", "items": items}),
        st.lists(inner, min_size=2, max_size=3).map(lambda options: {"anyOf": options}),
        st.dictionaries(_NAMES, inner, min_size=1, max_size=3).map(
            lambda properties: {"type": "object", "properties": properties}
        ),
        inner.map(lambda values: {"type": "object", "additionalProperties": values}),
    )


_SCHEMAS = st.recursive(_LEAF, _extend, max_leaves=8)


@settings(max_examples=40, deadline=None)
@given(properties=st.dictionaries(_NAMES, _SCHEMAS, max_size=4), data=st.data())
def test_any_schema_of_the_supported_kinds_becomes_a_tool_that_accepts_what_it_allows(
    properties: dict[str, Any], data: st.DataObject
) -> None:
    """Draw supported schemas; rc's reading of one agrees with it both ways."""
    required = (
        data.draw(st.lists(st.sampled_from(sorted(properties)), unique=True))
        if (properties)
        else []
    )
    schema = {"type": "object", "properties": properties, "required": required}
    tool = tool_for(schema)
    assert sorted(tool.parameters["properties"]) == sorted(properties)
    assert sorted(tool.parameters.get("required", [])) == sorted(required)
    # what the model may send by rc's schema the server accepts, and the other way round
    # (jsonschema comes with the mcp SDK, which validates with it)
    import jsonschema

    offered = rc.testing.sample_from_schema(tool.parameters)
    from requestcompletion.mcp.client import _jsonable

    sent = {key: _jsonable(value) for key, value in tool.validate(offered).items()}
    jsonschema.validate(sent, schema)
    served = rc.testing.sample_from_schema(schema)
    assert isinstance(tool.validate(served), dict)
