"""`requestcompletion demo`: a small agent workflow that shows what rc does, live.

The workflow plans a trip, in three steps that each show one thing:

1. an agent looks up the weather of three cities: its tool calls of one turn run
   in parallel, as child nodes, and its final text is streamed;
2. a fan-out of plain function nodes scores every city at once (`rc.batch`; plain
   ``def`` nodes run on threads);
3. an agent picks a city as a validated pydantic object (structured output).

It runs on the embedded model by default (SmolLM2-135M: small, so its answers are
odd, but its tool calls are always well-formed, which is the point). A subscriber
on the run's publisher prints progress as it happens; at the end the answer, the
tokens, where the run was saved and the command that draws it.
"""

from __future__ import annotations

import faulthandler
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Literal

import pydantic

import requestcompletion as rc

from ..pubsub import events as ev

if TYPE_CHECKING:
    from ..llm.model import ModelBase

__all__ = ["Progress", "build_workflow", "run_demo"]

CITIES = ("Paris", "Tokyo", "Lima")
_FORECASTS = {  # city: (°C, sky); a real tool would call a weather API here
    "Paris": (16, "light rain"),
    "Tokyo": (23, "sunny"),
    "Lima": (20, "cloudy"),
}
_SKY_PENALTY = {"sunny": 0, "cloudy": 1, "light rain": 3}


def get_weather(city: str) -> str:
    """Today's weather forecast for a city.

    Args:
        city: the city's name
    """
    forecast = _FORECASTS.get(city.strip().title())
    if forecast is None:
        known = ", ".join(_FORECASTS)
        return f"no forecast for {city!r}; I know {known}"
    degrees, sky = forecast
    return f"{city.strip().title()}: {degrees}°C, {sky}"


def comfort_score(city: str) -> int:
    """How pleasant a city's weather is today, from 0 to 10 (a plain function: it runs
    on a thread)."""
    degrees, sky = _FORECASTS[city]
    return max(0, 10 - abs(22 - degrees) // 2 - _SKY_PENALTY[sky])


class TripPick(pydantic.BaseModel):
    """Where to go, and why."""

    city: Literal["Paris", "Tokyo", "Lima"]
    reason: str = pydantic.Field(max_length=120, description="why, in one short sentence")


def build_workflow(model: ModelBase, *, ask: bool = False) -> type[rc.Node[str]]:
    """The demo's top node type, with its agents on `model` (`ask`: approve each
    weather lookup through `rc.ask`)."""
    researcher = rc.agent_node(
        "weather researcher",
        llm=model,
        system_message="You help people plan trips. Use the tools to look things up.",
        tool_nodes=(get_weather,),
        approve=ask,
        max_tool_calls=6,
        stream=model.can_stream,
    )
    chooser = rc.agent_node(
        "trip chooser",
        llm=model,
        system_message="You pick the best city for a trip from comfort scores.",
        output_schema=TripPick,
    )

    class PlanTrip(rc.Node[str]):
        """Look up the weather, score the cities, pick one."""

        def __init__(self, cities: tuple[str, ...]) -> None:
            super().__init__()
            self.cities = cities

        async def invoke(self) -> str:
            first, *middle, last = self.cities
            names = ", ".join([first, *middle]) + f" and {last}"
            await rc.stream("step 1: an agent looks up the weather (its tool calls run at once)")
            research = await rc.call(
                researcher,
                f"I am choosing between {names} for a trip. Look up the weather in each city.",
            )
            await rc.stream("step 2: a fan-out of function nodes scores every city at once")
            scores = await rc.batch(comfort_score, self.cities, return_exceptions=False)
            ranked = sorted(zip(self.cities, scores, strict=True), key=lambda cs: -cs[1])
            table = ", ".join(f"{city} {score}" for city, score in ranked)
            await rc.stream(f"comfort scores: {table}")
            await rc.stream("step 3: an agent picks one, as a validated TripPick object")
            pick = await rc.call(
                chooser,
                f"Comfort scores out of 10: {table}. Which city should I visit? "
                "Give the city and a short reason.",
            )
            choice: TripPick = pick.output
            return (
                f"Go to {choice.city}: {choice.reason}\n"
                f"  (scores: {table}; the researcher said: {' '.join(str(research).split())})"
            )

    return PlanTrip


class Progress:
    """A subscriber that prints a run's progress: nodes, model calls, tokens, streamed text.

    It runs on the publisher's own thread for it, so printing never slows the run.
    """

    def __init__(self, out: Any = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.depth: dict[int, int] = {}
        self.input_tokens = 0
        self.output_tokens = 0
        self.model_calls = 0
        self._streaming: int | None = None  # the node whose text is being printed
        self._streamers: set[int | None] = set()  # nodes whose model streams text
        self._lock = threading.Lock()

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            self._show(event)

    def _print(self, text: str, *, end: str = "\n") -> None:
        self.out.write(text + end)
        self.out.flush()

    def _show(self, event: ev.Event) -> None:
        if isinstance(event, ev.LLMChunk):  # an agent's text (also a Streamed event)
            self._streamers.add(event.node_id)
            if self._streaming != event.node_id:
                self._end_stream()
                self._print(f"{self._indent(event)}  » ", end="")
                self._streaming = event.node_id
            self._print(event.text.replace("\n", " "), end="")
            return
        self._end_stream()
        pad = self._indent(event)
        name = event.node_name
        if isinstance(event, ev.RequestCreated) and event.node_id is not None:
            parent = event.parent_id
            self.depth[event.node_id] = 0 if parent is None else self.depth.get(parent, 0) + 1
            self._print(f"{self._indent(event)}▸ {name} #{event.node_id} started")
        elif isinstance(event, ev.RequestSucceeded):
            self._print(f"{pad}✓ {name} #{event.node_id} finished in {_secs(event.duration)}")
        elif isinstance(event, ev.RequestFailed):
            error = f"{type(event.error).__name__}: {event.error}"
            took = _secs(event.duration)
            self._print(f"{pad}✗ {name} #{event.node_id} failed in {took}: {error}")
        elif isinstance(event, ev.RequestCancelled):
            self._print(f"{pad}⊘ {name} #{event.node_id} cancelled: {event.reason}")
        elif isinstance(event, ev.Streamed) and event.node_id not in self._streamers:
            self._print(f"• {event.item}")
        elif isinstance(event, ev.LLMRequestStarted):
            self._print(f"{pad}  … asking {event.model} ({event.messages} messages)")
        elif isinstance(event, ev.LLMResponseReceived):
            self.model_calls += 1
            self.input_tokens += event.input_tokens or 0
            self.output_tokens += event.output_tokens or 0
            self._print(
                f"{pad}  ← {event.model} replied in {_secs(event.latency)}: "
                f"{event.input_tokens or 0} tokens in, {event.output_tokens or 0} out "
                f"(run total {self.input_tokens + self.output_tokens})"
            )

    def _end_stream(self) -> None:
        if self._streaming is not None:
            self._print("")
            self._streaming = None

    def _indent(self, event: ev.Event) -> str:
        node = event.node_id
        return "  " * (self.depth.get(node, 0) + 1) if node is not None else "  "


def _secs(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def run_demo(
    model: str | None = None,
    state_dir: str = ".covailence",
    viz: bool = False,
    ask: bool = False,
) -> int:
    """Run the workflow with live progress, print the answer and where the run went.

    Args:
        model: a model name for `resolve_model` (``local``, ``scripted``,
            ``openai:gpt-4o-mini``...); default ``$RC_MODEL``, else ``local``.
        state_dir: where to save the run.
        viz: serve the run viewer, print the run's page, and keep it up after the
            run until Ctrl-C.
        ask: ask on the terminal (`rc.human.terminal()`) before each weather lookup.

    Returns:
        The exit code: 0, or 1 when the run failed (the error is on stderr).

    Raises:
        ConfigError, ProviderError: the model cannot be used; raised before the run.
    """
    import asyncio

    from ..llm.providers.local import LocalModel
    from ..llm.providers.resolve import default_model, resolve_model

    llm = resolve_model(model) if model is not None else default_model()
    print(f"requestcompletion demo on {llm.provider} model {llm.model_name!r}")
    if isinstance(llm, LocalModel):
        # A llama.cpp build that crashes is caught by the model's check process; should
        # one crash here all the same, say where instead of dying in silence.
        faulthandler.enable()
        print(
            f"  loading the model from {llm.settings.path} (the first time after an install, "
            "a check process runs it once first)",
            flush=True,
        )
        started = time.perf_counter()
        asyncio.run(llm.load())
        print(f"  loaded the model in {_secs(time.perf_counter() - started)} (once per process)")
    workflow = build_workflow(llm, ask=ask)
    progress = Progress()
    started = time.perf_counter()
    failure: BaseException | None = None
    human = rc.human.terminal() if ask else None
    with rc.Runner(logging_setting="NONE", state_dir=state_dir, viz=viz, human=human) as runner:
        runner.publisher.subscribe(progress, name="demo progress")
        try:
            info = runner.run_sync(workflow, CITIES)
        except rc.RCError as error:
            failure = error
    elapsed = time.perf_counter() - started
    where = runner.saved_to
    if failure is not None:
        print(f"requestcompletion: error: {' '.join(str(failure).split())}", file=sys.stderr)
    else:
        print(f"\nanswer: {info.answer}")
    print(
        f"\n{len(runner.info.nodes)} nodes, {progress.model_calls} model calls, "
        f"{progress.input_tokens} tokens in and {progress.output_tokens} out, "
        f"in {_secs(elapsed)}"
    )
    if where is not None:
        option = "" if state_dir == ".covailence" else f" --state-dir {state_dir}"
        print(f"saved to {where}")
        print(f"look at it: requestcompletion show {runner.run_id}{option}")
    if viz:
        _keep_viewing(state_dir)
    return 1 if failure is not None else 0


def _keep_viewing(state_dir: str) -> None:
    """With --viz, keep the run's viewer up after the run, until Ctrl-C."""
    import signal

    from ..viz.live import viewer_for

    print(f"the run viewer stays up at {viewer_for(state_dir).url} (Ctrl-C to stop)", flush=True)
    # "until Ctrl-C" even when started with SIGINT ignored (a background job's lot)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, previous)
