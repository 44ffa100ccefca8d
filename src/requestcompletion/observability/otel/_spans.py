"""One run's events as OpenTelemetry spans: a span per node, model call and tool call.

A `RunSpans` is a subscriber of one runner's publisher. The events already say
which node each thing happened in and who called it, wherever the node ran (the
loop, a thread, a Ray worker), so the spans are parented exactly as the run's
graph, and they are made on the subscriber's own thread with the events' own
times: the nodes' path is not touched, and a slow exporter cannot slow the run.

    run <id>                      the runner: run id, outcome, cost, node count
    └── <node name>               a node: id, name, status; an error as an exception event
        ├── chat <model>          a model call (GenAI semantic conventions)
        └── execute_tool <name>   a node called by an agent to answer a tool call
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from ...pubsub import events as ev
from ._messages import input_messages, output_messages

__all__ = ["RunSpans"]

# perf_counter seconds (the events' clock) to epoch nanoseconds (OTel's)
_EPOCH_OFFSET_NS = time.time_ns() - time.perf_counter_ns()
_CONTENT_LIMIT = 4_000  # characters of an input or output kept when contents are captured


def _ns(seconds: float) -> int:
    return int(seconds * 1e9) + _EPOCH_OFFSET_NS


def _text(value: Any) -> str:
    try:
        out = value if isinstance(value, str) else repr(value)
    except Exception:
        out = f"<{type(value).__name__} whose repr failed>"
    return out if len(out) <= _CONTENT_LIMIT else out[: _CONTENT_LIMIT - 3] + "..."


class RunSpans:
    """Turns the events of one run into spans on `tracer` (see the module docstring).

    Args:
        tracer: where spans are made.
        capture_content: also record node inputs and outputs (an agent's prompt
            and reply among them), tool arguments and results, and each model
            call's messages (`_messages`). Off by default: they may hold personal
            data, and the GenAI conventions make them opt-in.
    """

    def __init__(self, tracer: Tracer, capture_content: bool = False) -> None:
        self.tracer = tracer
        self.capture_content = capture_content
        self.run: Span | None = None
        self.run_context: Context | None = None
        self.nodes: dict[int, Span] = {}
        self.contexts: dict[int, Context] = {}  # a node's span as a parent, made once
        self.model_calls: dict[int, Span] = {}  # node id -> its model call in flight
        # node id -> the scrub of its model call in flight (contents captured only)
        self.scrubs: dict[int, Callable[[str], str]] = {}
        self.agents: set[int] = set()  # nodes that called a model: their children are tools
        self.cost = 0.0
        self.priced = True  # every model call had a known price
        self.node_count = 0

    def __call__(self, event: ev.Event) -> None:
        match event:
            case ev.RequestCreated():
                self._created(event)
            case ev.RequestSucceeded():
                self._succeeded(event)
            case ev.RequestFailed():
                self._failed(event, event.error)
            case ev.RequestCancelled():
                self._cancelled(event)
            case ev.RequestCreationFailed():
                self._created(event)
                self._failed(event, event.error)
            case ev.LLMRequestStarted():
                self._model_started(event)
            case ev.LLMResponseReceived():
                self._model_replied(event)
            case ev.FatalFailure():
                if self.run is not None:
                    self.run.record_exception(event.error, timestamp=_ns(event.time))
            case ev.RunStarted():
                self._run_started(event)
            case ev.RunFinished():
                self._run_finished(event)

    # --- the run ---------------------------------------------------------------------

    def _run_started(self, event: ev.RunStarted) -> None:
        self.run = self.tracer.start_span(
            f"run {event.run_id}",
            start_time=_ns(event.time),
            attributes={"rc.run.id": event.run_id},
        )
        self.run_context = trace.set_span_in_context(self.run)

    def _run_finished(self, event: ev.RunFinished) -> None:
        end = _ns(event.time)
        self.contexts.clear()
        self.scrubs.clear()
        for spans in (self.model_calls, self.nodes):  # none are left in a clean run
            for span in spans.values():
                span.set_attribute("rc.node.status", "cancelled")
                span.end(end_time=end)
            spans.clear()
        run = self.run
        if run is None:
            return
        run.set_attribute("rc.run.outcome", event.outcome)
        run.set_attribute("rc.run.nodes", self.node_count)
        if self.priced:
            run.set_attribute("rc.run.cost", self.cost)
        if event.outcome != "succeeded":
            run.set_status(Status(StatusCode.ERROR, f"the run ended {event.outcome}"))
        run.end(end_time=end)
        self.run = None

    # --- nodes -----------------------------------------------------------------------

    def _created(self, event: ev.RequestCreated | ev.RequestCreationFailed) -> None:
        node_id, name = event.node_id, event.node_name or "node"
        if node_id is None:
            return
        self.node_count += 1
        context = self.run_context if event.parent_id is None else self._context(event.parent_id)
        attributes: dict[str, Any] = {"rc.node.id": node_id, "rc.node.name": name}
        if event.kind is not None:
            attributes["rc.node.kind"] = event.kind
        if event.parent_id is not None:
            attributes["rc.node.parent_id"] = event.parent_id
        tool = event.parent_id in self.agents
        if tool:
            # an agent's child answers one of its tool calls
            attributes.update({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name})
        if self.capture_content and isinstance(event, ev.RequestCreated):
            arguments = {"args": event.args, "kwargs": event.kwargs or {}}
            attributes["gen_ai.tool.call.arguments" if tool else "rc.node.input"] = _text(arguments)
        self.nodes[node_id] = self.tracer.start_span(
            f"execute_tool {name}" if tool else name,
            context=context,
            start_time=_ns(event.time),
            attributes=attributes,
        )

    def _context(self, node_id: int) -> Context | None:
        """The context that makes a span a child of node `node_id`'s span."""
        context = self.contexts.get(node_id)
        if context is None:
            span = self.nodes.get(node_id)
            if span is None:
                return self.run_context
            context = self.contexts[node_id] = trace.set_span_in_context(span)
        return context

    def _succeeded(self, event: ev.RequestSucceeded) -> None:
        span = self._finishing(event)
        if span is None:
            return
        span.set_attribute("rc.node.status", "succeeded")
        # The durable-runs work marks a call answered from a saved run with `replayed`
        # on its event; the span says so under this name (absent until events carry it).
        if getattr(event, "replayed", False):
            span.set_attribute("rc.node.replayed", True)
        if self.capture_content:
            key = "gen_ai.tool.call.result" if event.parent_id in self.agents else "rc.node.output"
            span.set_attribute(key, _text(getattr(event.output, "text", None) or event.output))
        # the status stays unset: OpenTelemetry leaves "OK" to the application
        span.end(end_time=_ns(event.time))

    def _failed(self, event: ev.Event, error: BaseException) -> None:
        span = self._finishing(event, error)
        if span is None:
            return
        span.set_attribute("rc.node.status", "failed")
        _set_error(span, error, event.time)
        span.end(end_time=_ns(event.time))

    def _cancelled(self, event: ev.RequestCancelled) -> None:
        span = self._finishing(event)
        if span is None:
            return
        span.set_attribute("rc.node.status", "cancelled")
        span.set_attribute("rc.node.cancel_reason", event.reason)
        span.end(end_time=_ns(event.time))

    def _finishing(self, event: ev.Event, error: BaseException | None = None) -> Span | None:
        """The node's span, once its model call in flight (if any) is ended too."""
        if event.node_id is None:
            return None
        self.contexts.pop(event.node_id, None)
        model_call = self.model_calls.pop(event.node_id, None)
        self.scrubs.pop(event.node_id, None)
        if model_call is not None:
            if error is not None:
                _set_error(model_call, error, event.time)
            model_call.end(end_time=_ns(event.time))
        return self.nodes.pop(event.node_id, None)

    # --- model calls -----------------------------------------------------------------

    def _model_started(self, event: ev.LLMRequestStarted) -> None:
        node_id = event.node_id
        if node_id is None:
            return
        agent = self.nodes.get(node_id)
        if agent is not None and node_id not in self.agents:
            agent.update_name(f"invoke_agent {event.node_name}")
            agent.set_attribute("gen_ai.operation.name", "invoke_agent")
            agent.set_attribute("gen_ai.agent.name", event.node_name or "")
        self.agents.add(node_id)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": event.provider,
            "gen_ai.system": event.provider,  # the older name of the same thing
            "gen_ai.request.model": event.model,
            "rc.llm.messages": event.messages,
        }
        if self.capture_content:
            attributes["gen_ai.input.messages"] = input_messages(event.sent, event.scrub)
            self.scrubs[node_id] = event.scrub
        self.model_calls[node_id] = self.tracer.start_span(
            f"chat {event.model}",
            context=self._context(node_id),
            kind=SpanKind.CLIENT,
            start_time=_ns(event.time),
            attributes=attributes,
        )

    def _model_replied(self, event: ev.LLMResponseReceived) -> None:
        span = self.model_calls.pop(event.node_id, None) if event.node_id is not None else None
        scrub = self.scrubs.pop(event.node_id, None) if event.node_id is not None else None
        if event.cost is None:
            self.priced = False
        else:
            self.cost += event.cost
        if span is None:
            return
        span.set_attribute("gen_ai.response.model", event.model)
        if event.input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", event.input_tokens)
        if event.output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", event.output_tokens)
        if event.finish_reason is not None:
            span.set_attribute("gen_ai.response.finish_reasons", (event.finish_reason,))
        if self.capture_content and scrub is not None and event.response is not None:
            replied = output_messages(event.response, event.finish_reason, scrub)
            span.set_attribute("gen_ai.output.messages", replied)
        if event.cost is not None:
            span.set_attribute("rc.llm.cost", event.cost)
        span.set_attribute("rc.llm.latency", event.latency)
        span.end(end_time=_ns(event.time))


def _set_error(span: Span, error: BaseException, when: float) -> None:
    span.record_exception(error, timestamp=_ns(when))
    span.set_attribute("error.type", type(error).__qualname__)
    try:
        message = f"{type(error).__name__}: {error}"
    except Exception:  # an exception whose __str__ raises still ends its span
        message = type(error).__name__
    span.set_status(Status(StatusCode.ERROR, message))
