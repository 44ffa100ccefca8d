"""Structured output whose root is not an object (a list, a union, a scalar), over HTTP.

The local server refuses, as OpenAI does, a schema whose root is not an object; the
agent must wrap such roots for the provider and unwrap the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import pydantic
import pytest

import requestcompletion as rc
from fake_llm_server import API_KEY, FakeLLMServer, Sleeps
from requestcompletion.llm import RetryPolicy
from requestcompletion.llm.providers.anthropic import OUTPUT_TOOL, AnthropicModel
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.llm.structured import wire_schema

Make = Callable[..., OpenAICompatibleModel]


class Whale(pydantic.BaseModel):
    name: str
    length_m: float


class Found(pydantic.BaseModel):
    kind: Literal["found"] = "found"
    flight: str


class NotFound(pydantic.BaseModel):
    kind: Literal["not_found"] = "not_found"
    reason: str


ROOT_IDS = ["list", "union", "int", "optional"]
WHALES = [{"name": "blue", "length_m": 30.0}, {"name": "minke", "length_m": 9.0}]
# (output schema, what the model answers inside the wrapper, what the agent returns)
ROOTS: list[tuple[Any, Any, Any]] = [
    (list[Whale], WHALES, [Whale(**w) for w in WHALES]),
    (Found | NotFound, {"kind": "not_found", "reason": "no seats"}, NotFound(reason="no seats")),
    (int, 42, 42),
    (list[str] | None, None, None),
]


@pytest.mark.parametrize(("schema", "answer", "expected"), ROOTS, ids=ROOT_IDS)
async def test_openai_gets_an_object_root_and_the_agent_the_value(
    llm_server: FakeLLMServer, http_model: Make, schema: Any, answer: Any, expected: Any
) -> None:
    llm_server.text(json.dumps({"value": answer}))
    Agent = rc.agent_node("rooted", llm=http_model(), output_schema=schema)
    result = await rc.call(Agent, "go")
    assert result.output == expected
    sent = llm_server.requests[0].body["response_format"]["json_schema"]["schema"]
    assert sent["type"] == "object" and sent["required"] == ["value"]


@pytest.mark.parametrize(("schema", "answer", "expected"), ROOTS, ids=ROOT_IDS)
async def test_anthropic_gets_an_object_root_and_the_agent_the_value(
    llm_server: FakeLLMServer, sleeps: Sleeps, schema: Any, answer: Any, expected: Any
) -> None:
    llm_server.tool_calls((OUTPUT_TOOL, {"value": answer}))
    model = AnthropicModel(
        "claude-test",
        base_url=llm_server.root_url,
        api_key=API_KEY,
        retry=RetryPolicy(max_retries=0),
        sleep=sleeps,
    )
    Agent = rc.agent_node("rooted", llm=model, output_schema=schema)
    assert (await rc.call(Agent, "go")).output == expected
    [tool] = llm_server.requests[0].body["tools"]
    assert tool["input_schema"]["type"] == "object"


async def test_an_answer_given_unwrapped_is_accepted_too(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    llm_server.text(json.dumps(WHALES))
    Agent = rc.agent_node("loose", llm=http_model(), output_schema=list[Whale])
    assert (await rc.call(Agent, "go")).output == [Whale(**w) for w in WHALES]


async def test_a_wrong_wrapped_answer_gets_the_repair_round(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    llm_server.text(json.dumps({"value": [{"name": "blue"}]}))  # no length
    llm_server.text(json.dumps({"value": WHALES[:1]}))
    Agent = rc.agent_node("fixable", llm=http_model(), output_schema=list[Whale])
    assert (await rc.call(Agent, "go")).output == [Whale(**WHALES[0])]
    repair = llm_server.requests[1].body["messages"][-1]["content"]
    assert "length_m" in repair and "Field required" in repair


def test_an_object_root_is_sent_as_it_is() -> None:
    schema = wire_schema(Whale)
    assert set(schema["properties"]) == {"name", "length_m"}


def test_shared_definitions_stay_at_the_root_of_the_wrapper() -> None:
    schema = wire_schema(list[Whale])
    assert schema["properties"]["value"]["items"] == {"$ref": "#/$defs/Whale"}
    assert "Whale" in schema["$defs"]
    assert "$defs" not in schema["properties"]["value"]
