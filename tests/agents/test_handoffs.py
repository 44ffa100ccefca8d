"""Handoffs end to end over HTTP: a triage agent routes to a specialist, with no summary call."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from agent_tools import add

import requestcompletion as rc
from fake_llm_server import FakeLLMServer
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.testing import ScriptedModel

Make = Callable[..., OpenAICompatibleModel]


def test_triage_hands_the_conversation_to_the_specialist(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    llm_server.tool_calls(("transfer_to_billing", {}))
    llm_server.text("Your refund of $20 is on its way.", usage=(40, 9))
    model = http_model()
    Billing = rc.agent_node(
        "billing", llm=model, system_message="You handle billing.", description="Refunds."
    )
    Tech = rc.agent_node("tech", llm=model, system_message="You fix computers.")
    Triage = rc.agent_node(
        "triage", llm=model, system_message="Route the user.", handoffs=[Billing, Tech]
    )
    with rc.Runner(logging_setting="NONE", run_identifier="triage-run") as runner:
        info = runner.run_sync(Triage, "I was charged twice")

    result = info.answer
    assert result.output == "Your refund of $20 is on its way."
    assert (result.model_calls, result.tool_calls) == (1, 1)  # the triage's own
    assert len(llm_server.requests) == 2  # no call to summarise after the handoff
    offered = [t["function"]["name"] for t in llm_server.requests[0].body["tools"]]
    assert offered == ["transfer_to_billing", "transfer_to_tech"]
    assert "Refunds." in llm_server.requests[0].body["tools"][0]["function"]["description"]
    assert llm_server.requests[1].body["messages"] == [
        {"role": "system", "content": "You handle billing."},  # not the triage's
        {"role": "user", "content": "I was charged twice"},
    ]
    triage, billing = info.nodes
    assert (billing.name, billing.parent_id, triage.status) == ("billing", triage.id, "succeeded")
    assert [m.role for m in result.history] == ["system", "user", "assistant"]
    assert runner.saved_to is not None
    loaded = rc.ExecutionInfo.load(runner.saved_to)
    assert [n.name for n in loaded.nodes] == ["triage", "billing"]


async def test_a_handoff_wins_over_the_other_calls_of_its_turn() -> None:
    ran: list[int] = []

    def noted(a: int, b: int) -> int:
        """Add, noting it.

        Args:
            a: one
            b: two
        """
        ran.append(a + b)
        return add(a, b)

    Special = rc.agent_node("special", llm=ScriptedModel(["special answer"]))
    triage_model = ScriptedModel(
        [[rc.llm.ToolCall("noted", {"a": 1, "b": 2}), rc.llm.ToolCall("transfer_to_special", {})]]
    )
    Triage = rc.agent_node("t", llm=triage_model, tool_nodes=[noted], handoffs=[Special])
    assert (await rc.call(Triage, "x")).output == "special answer"
    assert ran == []


@pytest.mark.parametrize("bad", [[print], "special", [rc.function_node(add)]])
def test_handoffs_must_be_agents(bad: object) -> None:
    with pytest.raises(rc.NodeCreationError, match="handoffs must be"):
        rc.agent_node("t", llm=ScriptedModel([]), handoffs=bad)  # type: ignore[arg-type]
