"""Union outputs told apart, output validators, rc.ModelRetry and the repair rounds."""

from __future__ import annotations

import json

import pydantic
import pytest

import requestcompletion as rc
from requestcompletion.llm import ToolCall, ToolMessage, UserMessage
from requestcompletion.llm.structured import parse_structured, wire_schema
from requestcompletion.testing import ScriptedModel


class Cat(pydantic.BaseModel):
    name: str
    lives: int

    @pydantic.field_validator("lives")
    @classmethod
    def at_most_nine(cls, lives: int) -> int:
        if lives > 9:
            raise ValueError("a cat has at most nine lives")
        return lives


class Nothing(pydantic.BaseModel):
    """A member whose fields all have defaults: it would take almost any object."""

    note: str = ""


def tagged(kind: str, data: object) -> str:
    return json.dumps({"value": {"kind": kind, "data": data}})


# --- unions ---------------------------------------------------------------------------


def test_each_member_of_a_union_is_its_own_tagged_choice() -> None:
    schema = wire_schema(Cat | Nothing)
    choices = schema["properties"]["value"]["anyOf"]
    assert [c["properties"]["kind"] for c in choices] == [{"const": "Cat"}, {"const": "Nothing"}]
    assert all(c["required"] == ["kind", "data"] for c in choices)


def test_an_answer_meant_as_one_member_is_not_taken_as_another() -> None:
    # meant as a Cat, failing the Cat's validator: it must not pass as an empty Nothing
    with pytest.raises(rc.StructuredOutputError, match=r"does not match Cat .*nine lives"):
        parse_structured(Cat | Nothing, tagged("Cat", {"name": "Tom", "lives": 12}))
    untagged = json.dumps({"value": {"name": "Tom", "lives": 12}})
    with pytest.raises(rc.StructuredOutputError, match="fits none of the kinds"):
        parse_structured(Cat | Nothing, untagged)


def test_a_union_answer_is_read_as_the_member_it_names() -> None:
    assert parse_structured(Cat | Nothing, tagged("Nothing", {"note": "n"})) == Nothing(note="n")
    assert parse_structured(Cat | Nothing, tagged("Cat", {"name": "Tom", "lives": 3})) == Cat(
        name="Tom", lives=3
    )
    with pytest.raises(rc.StructuredOutputError, match="kind 'Dog' is not one of"):
        parse_structured(Cat | Nothing, tagged("Dog", {}))


def test_an_untagged_answer_that_fits_two_kinds_is_sent_back() -> None:
    with pytest.raises(rc.StructuredOutputError, match="fits more than one kind"):
        parse_structured(int | float, "3")


def test_the_agent_sends_a_failed_member_back_to_the_model() -> None:
    model = ScriptedModel(
        [
            tagged("Cat", {"name": "Tom", "lives": 12}),
            tagged("Cat", {"name": "Tom", "lives": 9}),
        ]
    )
    Agent = rc.agent_node("pets", llm=model, output_schema=Cat | Nothing)
    assert rc.call_sync(Agent, "a cat").output == Cat(name="Tom", lives=9)
    repair = model.calls[1].messages[-1]
    assert isinstance(repair, UserMessage) and "nine lives" in repair.content


# --- output validators -------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_an_output_validator_sends_the_model_back_with_its_reason(asynchronous: bool) -> None:
    seen: list[object] = []

    def check(answer: str) -> str:
        seen.append((answer, rc.context.get("rule")))
        if "please" not in answer:
            raise rc.ModelRetry("say please")
        return answer.upper()

    async def acheck(answer: str) -> str:
        return check(answer)

    model = ScriptedModel(["give it", "give it please"])
    Agent = rc.agent_node("polite", llm=model, output_validator=acheck if asynchronous else check)
    with rc.Runner(context={"rule": "manners"}, logging_setting="NONE", save_state=False) as r:
        result = r.run_sync(Agent, "ask").answer
    assert result.output == "GIVE IT PLEASE"
    assert result.text == "give it please"
    assert seen == [("give it", "manners"), ("give it please", "manners")]
    assert model.calls[1].messages[-1].content == (
        "Your answer was not accepted: say please. Correct it and answer again."
    )


def test_a_validator_that_returns_none_keeps_the_output() -> None:
    Agent = rc.agent_node("kept", llm=ScriptedModel(["fine"]), output_validator=lambda out: None)
    assert rc.call_sync(Agent, "x").output == "fine"


def test_repair_rounds_are_bounded_by_output_retries() -> None:
    def never(answer: str) -> None:
        raise rc.ModelRetry("no")

    model = ScriptedModel(["a", "b", "c", "d"])
    Agent = rc.agent_node("stubborn", llm=model, output_validator=never, output_retries=2)
    with pytest.raises(rc.StructuredOutputError, match="not accepted after 2 repair rounds: no"):
        rc.call_sync(Agent, "x")
    assert len(model.calls) == 3


def test_schema_repairs_and_validator_repairs_share_output_retries() -> None:
    def even(city: Cat) -> None:
        if city.lives % 2:
            raise rc.ModelRetry("an even number of lives")

    script = ['{"name": 1}', '{"name": "a", "lives": 3}', '{"name": "a", "lives": 4}']
    model = ScriptedModel(script)
    Agent = rc.agent_node(
        "shared", llm=model, output_schema=Cat, output_validator=even, output_retries=2
    )
    assert rc.call_sync(Agent, "x").output == Cat(name="a", lives=4)
    Strict = rc.agent_node(
        "strict", llm=ScriptedModel(script), output_schema=Cat, output_validator=even
    )
    with pytest.raises(rc.StructuredOutputError, match="after 1 repair round: an even number"):
        rc.call_sync(Strict, "x")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"output_validator": "yes"}, "output_validator must be a function"),
        ({"output_retries": -1}, "output_retries must be an int >= 0"),
        ({"output_retries": 1.5}, "output_retries must be an int >= 0"),
    ],
)
def test_bad_validation_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(rc.NodeCreationError, match=message):
        rc.agent_node("x", llm=ScriptedModel([]), **options)  # type: ignore[arg-type]


# --- ModelRetry in a tool ---------------------------------------------------------------


def lookup(code: str) -> str:
    """Look up an airport.

    Args:
        code: the IATA code
    """
    if len(code) != 3:
        raise rc.ModelRetry(f"{code!r} is not a three-letter code")
    return f"airport {code}"


def test_model_retry_in_a_tool_goes_back_to_the_model_for_that_call() -> None:
    model = ScriptedModel(
        [ToolCall("lookup", {"code": "LONDON"}), ToolCall("lookup", {"code": "LHR"}), "done"]
    )
    Agent = rc.agent_node("airports", llm=model, tool_nodes=[lookup], retries=1)
    assert rc.call_sync(Agent, "x").output == "done"
    [retry] = [m for m in model.calls[1].messages if isinstance(m, ToolMessage)]
    assert retry.is_error and "'LONDON' is not a three-letter code" in retry.content
    # a tool that keeps asking for retries counts against `retries`
    looping = ScriptedModel([ToolCall("lookup", {"code": "LONDON"})] * 3)
    Looping = rc.agent_node("loop", llm=looping, tool_nodes=[lookup], retries=1)
    with pytest.raises(rc.ToolArgumentsError, match="2 turns in a row"):
        rc.call_sync(Looping, "x")


def test_model_retry_in_a_tool_does_not_end_an_end_on_error_run() -> None:
    """ModelRetry is a message for the model, not a failure: end_on_error lets it pass."""

    model = ScriptedModel(
        [ToolCall("lookup", {"code": "LONDON"}), ToolCall("lookup", {"code": "LHR"}), "done"]
    )
    Agent = rc.agent_node("airports", llm=model, tool_nodes=[lookup])
    with rc.Runner(end_on_error=True, save_state=False, logging_setting="NONE") as runner:
        assert runner.run_sync(Agent, "x").answer.output == "done"
    assert runner.info.outcome == "succeeded"
    assert [n.status for n in runner.info.nodes] == ["succeeded", "failed", "succeeded"]
