"""Names, descriptions, model strings, dynamic instructions, overrides and handed-over histories."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from agent_tools import add

import requestcompletion as rc
from fake_llm_server import API_KEY, FakeLLMServer
from requestcompletion.llm import MessageHistory, SystemMessage, Tool, ToolCall, UserMessage
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.testing import ScriptedModel

Make = Callable[..., OpenAICompatibleModel]


def test_as_tool_with_a_name_and_description_is_accepted_as_a_tool() -> None:
    sub_model = ScriptedModel(["4"])
    Math = rc.agent_node("math expert", llm=sub_model)
    lead_model = ScriptedModel([ToolCall("calculator", {"prompt": "2+2"}), "it is 4"])
    tool = Math.as_tool("Adds things up.", name="calculator")
    Lead = rc.agent_node("lead", llm=lead_model, tool_nodes=[tool])
    with rc.Runner(logging_setting="NONE", save_state=False) as runner:
        assert runner.run_sync(Lead, "2+2?").answer.output == "it is 4"
    [offered] = lead_model.calls[0].tools
    assert (offered.name, offered.description) == ("calculator", "Adds things up.")
    assert [n.name for n in runner.info.nodes] == ["lead", "math expert"]
    with pytest.raises(rc.NodeCreationError, match="tool name 'a b' is not allowed"):
        Math.as_tool(name="a b")


def test_a_tool_made_from_a_function_can_rename_and_describe_it() -> None:
    model = ScriptedModel([ToolCall("plus", {"a": 1, "b": 2}), "3"])
    tool = Tool.from_function(add, name="plus", description="Sum two integers.")
    Agent = rc.agent_node("summer", llm=model, tool_nodes=[tool])
    assert rc.call_sync(Agent, "1+2").output == "3"
    assert model.calls[0].tools[0].description == "Sum two integers."
    hand_made = Tool("nothing", "no function", {"type": "object", "properties": {}})
    with pytest.raises(rc.NodeCreationError, match="made by hand and has no function"):
        rc.agent_node("x", llm=model, tool_nodes=[hand_made])


def test_a_model_string_goes_through_the_resolver(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    llm_server.text("hello from the string")
    Agent = rc.agent_node("stringy", llm="openai:gpt-4o-mini")
    assert rc.call_sync(Agent, "hi").output == "hello from the string"
    assert llm_server.requests[0].body["model"] == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuch:model", r"llm='nosuch:model': unknown model provider 'nosuch'.*use one of"),
        ("openai:", "names no model"),
    ],
)
def test_a_bad_model_string_names_the_known_providers(spec: str, message: str) -> None:
    with pytest.raises(rc.NodeCreationError, match=message):
        rc.agent_node("x", llm=spec)


def test_a_callable_system_message_reads_the_run_context() -> None:
    model = ScriptedModel(["ok", "ok"])

    def instructions(context: object) -> str:
        return f"You serve {rc.context.get('user')} in {{raw}} braces."

    Agent = rc.agent_node("dynamic", llm=model, system_message=instructions)
    for user in ("ada", "bob"):
        with rc.Runner(context={"user": user, "raw": "X"}, logging_setting="NONE") as runner:
            runner.run_sync(Agent, "hi")
    assert [c.messages[0].content for c in model.calls] == [
        "You serve ada in {raw} braces.",  # made by code: not filled again
        "You serve bob in {raw} braces.",
    ]
    Bad = rc.agent_node("bad", llm=ScriptedModel(["x"]), system_message=lambda c: 3)
    with pytest.raises(TypeError, match="returned 3; it must return a string"):
        rc.call_sync(Bad, "hi")
    with pytest.raises(rc.NodeCreationError, match="system_message must be a string, a function"):
        rc.agent_node("worse", llm=model, system_message=3)  # type: ignore[arg-type]


def test_override_swaps_the_model_in_a_block_only() -> None:
    real = ScriptedModel(["real"])
    Agent = rc.agent_node("swappable", llm=real)
    stand_in = ScriptedModel(["stand-in"])
    with Agent.override(llm=stand_in):
        assert rc.call_sync(Agent, "x").output == "stand-in"
    assert rc.call_sync(Agent, "x").output == "real"
    assert (len(stand_in.calls), len(real.calls)) == (1, 1)
    Other = rc.agent_node("other", llm=ScriptedModel(["untouched"]))
    with Agent.override(llm=ScriptedModel(["again"])):
        assert rc.call_sync(Other, "x").output == "untouched"
    with pytest.raises(rc.NodeCreationError, match="override"), Agent.override(llm=42):  # type: ignore[arg-type]
        pass


async def test_override_reaches_a_sub_agent_called_as_a_tool() -> None:
    Sub = rc.agent_node("sub", llm=ScriptedModel(["from the real sub"]))
    lead = ScriptedModel([ToolCall("sub", {"prompt": "go"}), "done"])
    Lead = rc.agent_node("lead", llm=lead, tool_nodes=[Sub])
    with Sub.override(llm=ScriptedModel(["from the test"])):
        await rc.call(Lead, "x")
    assert lead.calls[1].messages[-1].content == "from the test"


def test_a_history_handed_to_another_agent_runs_under_that_agents_instructions() -> None:
    first_model = ScriptedModel(["Paris"])
    First = rc.agent_node("geo", llm=first_model, system_message="You are the orchestrator.")
    second_model = ScriptedModel(["Bonjour"])
    Second = rc.agent_node("french", llm=second_model, system_message="Answer in French.")
    Plain = rc.agent_node("plain", llm=ScriptedModel(["hi"]))
    history = rc.call_sync(First, "capital of France?").history
    history.append(UserMessage("say hello"))
    rc.call_sync(Second, history)
    rc.call_sync(Plain, history)
    sent = second_model.calls[0].messages
    assert [type(m).__name__ for m in sent][:1] == ["SystemMessage"]
    assert [m.content for m in sent if isinstance(m, SystemMessage)] == ["Answer in French."]
    assert not any(isinstance(m, SystemMessage) for m in Plain.agent.llm.calls[0].messages)
    assert isinstance(history[0], SystemMessage)  # the caller's history is left as it was


def test_continuing_a_conversation_keeps_one_system_message() -> None:
    model = ScriptedModel(["one", "two"])
    Agent = rc.agent_node("chat", llm=model, system_message="Be brief.")
    first = rc.call_sync(Agent, "hi")
    again = MessageHistory([*first.history, UserMessage("more")])
    second = rc.call_sync(Agent, again)
    systems = [m for m in second.history if isinstance(m, SystemMessage)]
    assert [m.content for m in systems] == ["Be brief."]
    assert [m.content for m in second.history][-2:] == ["more", "two"]


def test_new_messages_are_what_this_run_added() -> None:
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "3", "and 4"])
    Agent = rc.agent_node("calc", llm=model, tool_nodes=[add], system_message="Be exact.")
    first = rc.call_sync(Agent, "1+2?")
    assert [m.role for m in first.new_messages()] == ["user", "assistant", "tool", "assistant"]
    second = rc.call_sync(Agent, [*first.history, UserMessage("plus one?")])
    assert [m.content for m in second.new_messages()] == ["and 4"]


def test_a_conversation_continues_in_another_process_from_the_saved_run(
    tmp_path: pytest.TempPathFactory,
) -> None:
    Agent = rc.agent_node("chat", llm=ScriptedModel(["one"]), system_message="Be brief.")
    with rc.Runner(logging_setting="NONE", state_dir=str(tmp_path)) as runner:
        runner.run_sync(Agent, "hi")
    assert runner.saved_to is not None
    saved = rc.ExecutionInfo.load(runner.saved_to).answer["$value"]
    history = MessageHistory.from_dicts(saved["history"])
    history.append(UserMessage("again"))
    later_model = ScriptedModel(["two"])
    Later = rc.agent_node("chat", llm=later_model, system_message="Be brief.")
    result = rc.call_sync(Later, history)
    assert [m.content for m in later_model.calls[0].messages] == ["Be brief.", "hi", "one", "again"]
    assert result.output == "two"
