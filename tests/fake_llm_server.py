"""A real OpenAI- (and Anthropic-) compatible HTTP server on 127.0.0.1, scripted per test.

The `llm_server` fixture (defined at the bottom, loaded for every test directory by
``tests/conftest.py``) starts this stdlib `http.server` in a thread. A test queues the
answers it wants, in order, and then points a provider at ``llm_server.base_url``:

    llm_server.text("hello")                      # a reply (JSON, or SSE if streamed)
    llm_server.tool_calls(("add", {"a": 1}), ("mul", {"b": 2}))
    llm_server.status(429, retry_after="1")       # an error status
    llm_server.malformed()                        # 200 with a body that is not JSON
    llm_server.raw('{"x": 1}')                    # 200 with exactly this body
    llm_server.hang()                             # never answer (until teardown)
    llm_server.cut_stream(after=2)                # break the connection mid-stream
    llm_server.unfinished_stream(after=2)         # end cleanly but without [DONE]
    llm_server.text("hi", usage=None)             # a reply that does not report its usage
    llm_server.trickle("hi", every=0.05)          # a reply sent one byte at a time

Like OpenAI, the server refuses (HTTP 400) a ``response_format`` whose ``json_schema``
is not a JSON Schema of type object, so a provider that sends one fails here too.

Each request takes the next answer; `llm_server.requests` records what arrived. The
same script serves ``/v1/chat/completions`` (OpenAI format) and ``/v1/messages``
(Anthropic format). The whole test suite runs under `block_real_requests()`.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

API_KEY = "sk-test-THIS-KEY-MUST-NEVER-LEAK-42"


@dataclass
class Recorded:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Answer:
    """One scripted answer: a reply (text and tool calls) or a failure mode."""

    kind: str = "reply"
    text: str | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    after: int = 0
    usage: tuple[int, int] | None = (7, 5)
    every: float = 0.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeLLMServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        raw = self.rfile.read(length)
        body = json.loads(raw) if raw else None
        self.server.requests.append(
            Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        answer = self.server.next_answer()
        refusal = _schema_refusal(body)
        if refusal is not None:
            answer = Answer("status", status=400, body=refusal)
        anthropic = self.path.endswith("/messages")
        stream = isinstance(body, dict) and bool(body.get("stream"))
        if answer.kind == "status":
            self._send(answer.status, answer.body, answer.headers)
        elif answer.kind == "malformed":
            self._send(200, '{"choices": [ this is not json')
        elif answer.kind == "raw":
            self._send(200, answer.body)
        elif answer.kind == "hang":
            self.server.release.wait()
            self.close_connection = True
        elif answer.kind == "trickle":
            self._trickle(json.dumps(_openai_body(answer, body)).encode(), answer.every)
        elif stream:
            self.server.served.append(answer.usage)
            events = _anthropic_events(answer) if anthropic else _openai_events(answer, body)
            self._stream(events, answer)
        else:
            self.server.served.append(answer.usage)
            payload = _anthropic_body(answer) if anthropic else _openai_body(answer, body)
            self._send(200, json.dumps(payload))

    def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _trickle(self, data: bytes, every: float) -> None:
        """A whole, valid reply, one byte every `every` seconds (until teardown)."""
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()
            if self.server.release.wait(every):
                self.close_connection = True
                return

    def _stream(self, events: list[str], answer: Answer) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        if answer.kind in ("cut", "unfinished"):
            events = events[: answer.after]
        for event in events:
            data = event.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        if answer.kind == "cut":
            # promise a chunk of 1000 bytes, send a few, hang up
            self.wfile.write(b'3e8\r\ndata: {"choi')
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")


class FakeLLMServer(ThreadingHTTPServer):
    """The scripted server; see the module docstring."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[Recorded] = []
        self.served: list[tuple[int, int]] = []  # (input, output) tokens of each reply sent
        self.release = threading.Event()
        self._answers: collections.deque[Answer] = collections.deque()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def next_answer(self) -> Answer:
        with self._lock:
            if self._answers:
                return self._answers.popleft()
        return Answer("status", status=500, body='{"error": {"message": "nothing scripted"}}')

    def reset(self) -> None:
        """Forget the script and the requests; wake any request still hanging."""
        with self._lock:
            self._answers.clear()
            self.requests = []
            self.served = []
            released, self.release = self.release, threading.Event()
        released.set()

    def add(self, answer: Answer) -> FakeLLMServer:
        with self._lock:
            self._answers.append(answer)
        return self

    # --- the script -----------------------------------------------------------------

    def text(self, text: str, *, usage: tuple[int, int] | None = (7, 5)) -> FakeLLMServer:
        return self.add(Answer(text=text, usage=usage))

    def trickle(self, text: str, *, every: float) -> FakeLLMServer:
        return self.add(Answer("trickle", text=text, every=every))

    def tool_calls(self, *calls: tuple[str, Any], text: str | None = None) -> FakeLLMServer:
        return self.add(Answer(text=text, calls=list(calls)))

    def status(
        self, status: int, *, retry_after: str | None = None, message: str = "failure"
    ) -> FakeLLMServer:
        headers = {} if retry_after is None else {"retry-after": retry_after}
        body = json.dumps({"error": {"message": message, "type": "server_error"}})
        return self.add(Answer("status", status=status, headers=headers, body=body))

    def malformed(self) -> FakeLLMServer:
        return self.add(Answer("malformed"))

    def raw(self, body: str) -> FakeLLMServer:
        return self.add(Answer("raw", body=body))

    def hang(self) -> FakeLLMServer:
        return self.add(Answer("hang"))

    def cut_stream(self, text: str = "one two three four", *, after: int = 2) -> FakeLLMServer:
        return self.add(Answer("cut", text=text, after=after))

    def unfinished_stream(
        self, text: str = "one two three four", *, after: int = 2
    ) -> FakeLLMServer:
        return self.add(Answer("unfinished", text=text, after=after))


def _schema_refusal(request: Any) -> str | None:
    """The 400 OpenAI and Anthropic give for a schema whose root is not an object (a
    structured-output schema, a tool's parameters), or None when all are objects."""
    if not isinstance(request, dict):
        return None
    schemas: list[Any] = []
    response_format = request.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schemas.append((response_format.get("json_schema") or {}).get("schema"))
    for tool in request.get("tools") or ():
        schemas.append(tool.get("input_schema") or (tool.get("function") or {}).get("parameters"))
    for schema in schemas:
        if not (isinstance(schema, dict) and schema.get("type") == "object"):
            given = schema.get("type") if isinstance(schema, dict) else schema
            message = (
                "Invalid schema: schema must be a JSON Schema of 'type: \"object\"', "
                f"got 'type: {given!r}'."
            )
            return json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    return None


def _arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _openai_body(answer: Answer, request: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer.text}
    if answer.calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": _arguments_text(args)},
            }
            for i, (name, args) in enumerate(answer.calls)
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": request.get("model", "unknown"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if answer.calls else "stop",
            }
        ],
        **_openai_usage(answer),
    }


def _openai_usage(answer: Answer) -> dict[str, Any]:
    if answer.usage is None:
        return {}
    return {"usage": {"prompt_tokens": answer.usage[0], "completion_tokens": answer.usage[1]}}


def _sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"


def _openai_events(answer: Answer, request: Any) -> list[str]:
    model = request.get("model", "unknown")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse({"object": "chat.completion.chunk", "model": model, "choices": [choice]})

    events = [chunk({"role": "assistant"})]
    for word in _pieces(answer.text or ""):
        events.append(chunk({"content": word}))
    for i, (name, args) in enumerate(answer.calls):
        text = _arguments_text(args)
        half = len(text) // 2
        start = {"index": i, "id": f"call_{i}", "type": "function"}
        events.append(
            chunk({"tool_calls": [{**start, "function": {"name": name, "arguments": ""}}]})
        )
        for part in (text[:half], text[half:]):
            events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
    if answer.kind == "reply":
        events.append(chunk({}, "tool_calls" if answer.calls else "stop"))
        if answer.usage is not None:
            events.append(_sse({"model": model, "choices": [], **_openai_usage(answer)}))
        events.append("data: [DONE]\n\n")
    return events


def _anthropic_body(answer: Answer) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if answer.text:
        content.append({"type": "text", "text": answer.text})
    for i, (name, args) in enumerate(answer.calls):
        content.append({"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args})
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": "tool_use" if answer.calls else "end_turn",
        **(
            {}
            if answer.usage is None
            else {"usage": {"input_tokens": answer.usage[0], "output_tokens": answer.usage[1]}}
        ),
    }


def _anthropic_events(answer: Answer) -> list[str]:
    start: dict[str, Any] = {"model": "claude-test"}
    if answer.usage is not None:
        start["usage"] = {"input_tokens": answer.usage[0]}
    events = [_sse({"type": "message_start", "message": start}, "message_start")]
    index = 0
    if answer.text:
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}
        events.append(_sse(block, "content_block_start"))
        for word in _pieces(answer.text):
            delta = {"type": "text_delta", "text": word}
            events.append(
                _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "delta")
            )
        index = 1
    for offset, (name, args) in enumerate(answer.calls):
        use = {"type": "tool_use", "id": f"toolu_{offset}", "name": name, "input": {}}
        block = {"type": "content_block_start", "index": index + offset, "content_block": use}
        events.append(_sse(block, "content_block_start"))
        delta = {"type": "input_json_delta", "partial_json": json.dumps(args)}
        events.append(
            _sse({"type": "content_block_delta", "index": index + offset, "delta": delta})
        )
    if answer.kind == "reply":
        stop = "tool_use" if answer.calls else "end_turn"
        final = {"stop_reason": stop}
        counted = {} if answer.usage is None else {"usage": {"output_tokens": answer.usage[1]}}
        events.append(_sse({"type": "message_delta", "delta": final, **counted}))
        events.append(_sse({"type": "message_stop"}, "message_stop"))
    return events


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [word if i == len(words) - 1 else word + " " for i, word in enumerate(words)]


class Sleeps:
    """An injectable sleep that records the delays and never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# --- fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def _running_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer()
    thread = threading.Thread(target=server.serve_forever, name="fake-llm-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.reset()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def llm_server(_running_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The local server with an empty script; one server serves the whole session."""
    _running_server.reset()
    yield _running_server
    _running_server.reset()


@pytest.fixture
def sleeps() -> Sleeps:
    """A retry sleep that records delays and never waits."""
    return Sleeps()
