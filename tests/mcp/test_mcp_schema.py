"""Reading MCP input schemas into tool signatures: what is kept, and every kind of refusal."""

from __future__ import annotations

from typing import Any

import pytest

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
