"""A one-time check, in a child process, that the installed llama.cpp can run a model.

A llama.cpp build made for another CPU — or with ``-march=native`` on a virtual
machine whose CPU advertises instructions it does not grant (AMX is the case seen) —
does not raise: the process dies of SIGSEGV or SIGILL at the first matrix multiply,
and takes the user's whole program with it, with nothing on the screen but
"Segmentation fault". Such a crash cannot be caught in the process where it happens,
so before a model file is first loaded with a given llama.cpp build, a child process
loads it, reads a short prompt and generates two tokens. If the child dies by a
signal, the parent raises a `ProviderError` naming the signal and the one-line
portable rebuild; if it fails with a Python error (a damaged model file), that error
is reported the same way.

A passing check is remembered by a marker file in the user's cache folder
(``$RC_CACHE_DIR``, else ``$XDG_CACHE_HOME/requestcompletion``, else
``~/.cache/requestcompletion``), keyed by the llama.cpp libraries (path, size, mtime),
the model file and the Python interpreter: it costs a second or two once per install,
and reinstalling llama-cpp-python checks again. ``RC_LOCAL_SELFCHECK=0`` skips it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["PORTABLE_REBUILD", "check_build"]

PORTABLE_FLAGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
)
PORTABLE_REBUILD = (
    "rebuild it portably: `make demo` in a checkout of requestcompletion does it "
    "(scripts/install-llama), or run "
    f'CMAKE_ARGS="{PORTABLE_FLAGS}" pip install --force-reinstall --no-cache-dir '
    "--no-binary llama-cpp-python llama-cpp-python"
)
TIMEOUT = 300.0  # seconds: loading and one token take about one on a slow machine

# Loads the model, reads a prompt of a few dozen tokens as one batch and generates two:
# both the batched matrix multiply (where a build for the wrong CPU dies: a one-token
# prompt does not reach it) and the one-token step of generation.
_CHILD = """
import sys
from llama_cpp import Llama
llama = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, n_threads_batch=1, verbose=False)
prompt = llama.tokenize(b"Check that this build of llama.cpp runs: " * 6)
llama.create_completion(prompt, max_tokens=2, temperature=0.0)
"""


class CheckFailed(Exception):
    """The child could not run the model; `crashed` says whether it died by a signal."""

    def __init__(self, message: str, *, crashed: bool) -> None:
        super().__init__(message)
        self.crashed = crashed


def check_build(model_path: str, child: str = _CHILD) -> None:
    """Make sure llama.cpp can run `model_path` here, once per build and file.

    Raises:
        CheckFailed: the child process crashed, failed, or did not finish in time;
            the message says how.
    """
    if os.environ.get("RC_LOCAL_SELFCHECK", "").strip() == "0":
        return
    marker = _marker(model_path)
    if marker is not None and marker.is_file():
        return
    try:
        done = subprocess.run(
            [sys.executable, "-c", child, model_path],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(
            f"a check process running the model did not finish in {TIMEOUT:.0f} s",
            crashed=False,
        ) from None
    if done.returncode < 0:
        raise CheckFailed(
            f"the installed llama.cpp crashed ({_signal_name(-done.returncode)}) running the "
            "model in a check process: it was built for another CPU, or with instructions "
            "this machine does not grant",
            crashed=True,
        )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise CheckFailed(last, crashed=False)
    if marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{model_path}\n", encoding="utf-8")
        except OSError:
            pass  # no cache folder: the check runs again next time, nothing else changes


def cache_dir() -> Path:
    """Where requestcompletion keeps what it remembers per machine."""
    configured = os.environ.get("RC_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "requestcompletion"


def _marker(model_path: str) -> Path | None:
    """The marker of a passed check for this build, file and interpreter, or None."""
    libraries = _libraries()
    if not libraries:
        return None  # nothing to key the build on: check every time rather than trust a guess
    parts = [sys.executable, *_identity(Path(model_path))]
    for library in libraries:
        parts += _identity(library)
    key = hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()[:24]
    return cache_dir() / "llama-check" / key


def _libraries() -> list[Path]:
    """The shared libraries of the installed llama-cpp-python (its build, in effect)."""
    spec = importlib.util.find_spec("llama_cpp")
    found: list[Path] = []
    for folder in (spec.submodule_search_locations or ()) if spec is not None else ():
        for pattern in ("**/*.so*", "**/*.dylib", "**/*.dll"):
            found += sorted(Path(folder).glob(pattern))
    return found


def _identity(path: Path) -> list[str]:
    try:
        stat = path.stat()
    except OSError:
        return [os.fspath(path), "?", "?"]
    return [os.fspath(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns)]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
