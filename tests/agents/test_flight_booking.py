"""End to end over HTTP: Pydantic AI's flight-booking case, re-expressed in rc.

The output is a union of a flight and "not found"; an output validator (reading the
requested date from `rc.context`) rejects a flight on the wrong day, and the model,
told why, answers again. The provider talks to the loopback server, which refuses
non-object schemas as OpenAI does.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Literal

import pydantic

import requestcompletion as rc
from fake_llm_server import FakeLLMServer
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel

Make = Callable[..., OpenAICompatibleModel]

FLIGHTS = [
    {"number": "AK456", "origin": "SFO", "destination": "ANC", "date": "2025-01-10"},
    {"number": "AK789", "origin": "SFO", "destination": "ANC", "date": "2025-01-11"},
]


class Flight(pydantic.BaseModel):
    kind: Literal["flight"] = "flight"
    number: str
    date: datetime.date


class NoFlight(pydantic.BaseModel):
    kind: Literal["none"] = "none"
    reason: str


def find_flights(origin: str, destination: str) -> list[dict[str, str]]:
    """Flights between two airports.

    Args:
        origin: IATA code of the departure airport
        destination: IATA code of the arrival airport
    """
    return [f for f in FLIGHTS if (f["origin"], f["destination"]) == (origin, destination)]


def on_the_requested_day(answer: Flight | NoFlight) -> Flight | NoFlight:
    wanted = rc.context.get("date")
    if isinstance(answer, Flight) and answer.date.isoformat() != wanted:
        raise rc.ModelRetry(f"flight {answer.number} is on {answer.date}, not on {wanted}")
    return answer


def answer(kind: str, data: object) -> str:
    return json.dumps({"value": {"kind": kind, "data": data}})


def agent(model: OpenAICompatibleModel) -> type[rc.agent.AgentNode[Flight | NoFlight]]:  # type: ignore[name-defined]
    return rc.agent_node(
        "flight search",
        llm=model,
        system_message="Find a flight for the user on {date}.",
        tool_nodes=[find_flights],
        output_schema=Flight | NoFlight,
        output_validator=on_the_requested_day,
    )


def test_a_wrong_date_is_sent_back_and_the_right_flight_accepted(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    llm_server.tool_calls(("find_flights", {"origin": "SFO", "destination": "ANC"}))
    llm_server.text(answer("Flight", {"number": "AK789", "date": "2025-01-11"}))
    llm_server.text(answer("Flight", {"number": "AK456", "date": "2025-01-10"}))
    with rc.Runner(context={"date": "2025-01-10"}, logging_setting="NONE") as runner:
        info = runner.run_sync(agent(http_model()), "SFO to Anchorage, please")

    assert info.answer.output == Flight(number="AK456", date=datetime.date(2025, 1, 10))
    first, second, third = (request.body for request in llm_server.requests)
    assert first["messages"][0]["content"] == "Find a flight for the user on 2025-01-10."
    schema = first["response_format"]["json_schema"]["schema"]
    kinds = [c["properties"]["kind"]["const"] for c in schema["properties"]["value"]["anyOf"]]
    assert (schema["type"], kinds) == ("object", ["Flight", "NoFlight"])
    assert json.loads(second["messages"][3]["content"])[0]["number"] == "AK456"
    told = third["messages"][-1]["content"]
    assert "flight AK789 is on 2025-01-11, not on 2025-01-10" in told
    assert [n.name for n in info.nodes] == ["flight search", "find_flights"]
    assert runner.saved_to is not None
    saved = json.loads(runner.saved_to.read_text())
    assert saved["nodes"]["output"][0]["$value"]["output"]["number"] == "AK456"


def test_no_flight_is_an_answer_of_its_own_kind(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    llm_server.tool_calls(("find_flights", {"origin": "SFO", "destination": "JFK"}))
    llm_server.text(answer("NoFlight", {"reason": "no flights on that route"}))
    with rc.Runner(context={"date": "2025-01-10"}, logging_setting="NONE", save_state=False) as r:
        result = r.run_sync(agent(http_model()), "SFO to New York").answer
    assert result.output == NoFlight(reason="no flights on that route")


def test_a_flight_answer_that_fails_is_not_taken_as_no_flight(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    # meant as a Flight, with a bad date: it must go back, not pass as some other kind
    llm_server.text(answer("Flight", {"number": "AK456", "date": "tomorrow"}))
    llm_server.text(answer("Flight", {"number": "AK456", "date": "2025-01-10"}))
    with rc.Runner(context={"date": "2025-01-10"}, logging_setting="NONE", save_state=False) as r:
        result = r.run_sync(agent(http_model()), "SFO to Anchorage").answer
    assert isinstance(result.output, Flight)
    repair = llm_server.requests[1].body["messages"][-1]["content"]
    assert "does not match Flight (the kind it chose)" in repair and "date" in repair
