"""Structured output: validated against the schema, with one repair round."""

from __future__ import annotations

import dataclasses

import pytest
from agent_tools import City, add

import requestcompletion as rc
from requestcompletion.llm import Response, ToolCall, UserMessage
from requestcompletion.testing import ScriptedModel


async def test_a_structured_answer() -> None:
    model = ScriptedModel([City(name="Paris", population=2_100_000)])
    Agent = rc.agent_node("cities", llm=model, output_schema=City)
    result = await rc.call(Agent, "the capital of France")
    assert result.output == result.structured == City(name="Paris", population=2_100_000)
    assert result.text == '{"name":"Paris","population":2100000}'
    assert model.calls[0].output_schema is City


async def test_json_text_is_validated_too() -> None:
    Agent = rc.agent_node(
        "cities",
        llm=ScriptedModel(['```json\n{"name": "Rome", "population": 3}\n```']),
        output_schema=City,
    )
    assert (await rc.call(Agent, "Italy")).output == City(name="Rome", population=3)


async def test_tools_then_a_structured_answer() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), '{"name": "Three", "population": 3}'])
    Agent = rc.agent_node("counter", llm=model, output_schema=City, tool_nodes=[add])
    result = await rc.call(Agent, "count")
    assert result.output.population == 3
    assert result.tool_calls == 1


async def test_one_repair_round_fixes_a_bad_reply() -> None:
    model = ScriptedModel(['{"name": "Paris"}', '{"name": "Paris", "population": 2}'])
    Agent = rc.agent_node("cities", llm=model, output_schema=City)
    result = await rc.call(Agent, "France")

    assert result.output == City(name="Paris", population=2)
    repair = model.calls[1].messages[-1]
    assert isinstance(repair, UserMessage)
    assert "does not match the required output format" in repair.content
    assert "population: Field required" in repair.content
    assert result.model_calls == 2


async def test_a_model_that_hands_back_a_dict_is_validated() -> None:
    model = ScriptedModel([Response("{}", structured={"name": "Oslo", "population": "7"})])
    Agent = rc.agent_node("cities", llm=model, output_schema=City)
    assert (await rc.call(Agent, "Norway")).output == City(name="Oslo", population=7)


def test_a_reply_that_stays_wrong_fails_after_one_repair() -> None:
    model = ScriptedModel(["not json at all", '{"name": 12}', "never asked"])
    Agent = rc.agent_node("cities", llm=model, output_schema=City)
    with (
        rc.Runner(logging_setting="NONE", save_state=False) as runner,
        pytest.raises(
            rc.StructuredOutputError, match="not accepted after 1 repair round:"
        ) as caught,
    ):
        runner.run_sync(Agent, "France")
    error = caught.value
    assert error.raw == '{"name": 12}'
    assert [m.role for m in error.history] == ["user", "assistant", "user", "assistant"]
    assert len(model.calls) == 2
    assert runner.info.nodes[0].status == "failed"


async def test_an_empty_reply_with_a_schema_gets_the_repair_round() -> None:
    model = ScriptedModel(["", '{"name": "X", "population": 1}'])
    Agent = rc.agent_node("cities", llm=model, output_schema=City)
    assert (await rc.call(Agent, "?")).output.name == "X"


async def test_other_types_than_models_work_as_schemas() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    Agent = rc.agent_node(
        "points", llm=ScriptedModel(['[{"x": 1, "y": 2}]']), output_schema=list[Point]
    )
    assert (await rc.call(Agent, "points")).output == [Point(1, 2)]
