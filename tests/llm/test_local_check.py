"""The embedded model's check process: a llama.cpp build that crashes is named, not fatal.

The checks here run real child processes (a stand-in child script, since the suite
does not need llama-cpp-python); the real build is checked by the `local_model` test.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from requestcompletion.errors import ProviderError
from requestcompletion.llm.providers import _local_check as check
from requestcompletion.llm.providers import _local_engine

SEGFAULT = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
ILLEGAL = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
PASSES = "pass"


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in llama.cpp library to key the check on, and a cache folder of the test's own."""
    library = tmp_path / "lib" / "libllama.so"
    library.parent.mkdir()
    library.write_bytes(b"build 1")
    monkeypatch.setattr(check, "_libraries", lambda: [library])
    monkeypatch.setenv("RC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RC_LOCAL_SELFCHECK", raising=False)
    return library


@pytest.fixture
def model_file(tmp_path: Path) -> str:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return os.fspath(path)


@pytest.mark.parametrize(("child", "signal"), [(SEGFAULT, "SIGSEGV"), (ILLEGAL, "SIGILL")])
def test_a_crashing_build_is_named_with_its_signal(
    build: Path, model_file: str, child: str, signal: str
) -> None:
    with pytest.raises(check.CheckFailed) as caught:
        check.check_build(model_file, child=child)
    assert caught.value.crashed
    assert f"crashed ({signal})" in str(caught.value)
    assert "built for another CPU" in str(caught.value)
    assert not (Path(os.environ["RC_CACHE_DIR"]) / "llama-check").exists()  # nothing cached


def test_a_failing_child_reports_its_last_error_line(build: Path, model_file: str) -> None:
    child = "import sys; print('loading', file=sys.stderr); raise ValueError('bad magic')"
    with pytest.raises(check.CheckFailed, match="ValueError: bad magic") as caught:
        check.check_build(model_file, child=child)
    assert not caught.value.crashed


def test_a_hanging_child_is_bounded(
    build: Path, model_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "TIMEOUT", 0.5)
    with pytest.raises(check.CheckFailed, match=r"did not finish in [01] s"):
        check.check_build(model_file, child="import time; time.sleep(60)")


def test_a_passed_check_is_remembered_per_build(build: Path, model_file: str) -> None:
    check.check_build(model_file, child=PASSES)
    check.check_build(model_file, child=SEGFAULT)  # remembered: no child process runs
    build.write_bytes(b"build 2, reinstalled")  # another build: checked again
    with pytest.raises(check.CheckFailed, match="SIGSEGV"):
        check.check_build(model_file, child=SEGFAULT)


def test_without_a_library_to_key_on_the_check_runs_every_time(
    build: Path, model_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "_libraries", lambda: [])
    check.check_build(model_file, child=PASSES)
    with pytest.raises(check.CheckFailed):
        check.check_build(model_file, child=SEGFAULT)


def test_an_unwritable_cache_only_means_checking_again(
    build: Path, model_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("RC_CACHE_DIR", str(blocker))
    check.check_build(model_file, child=PASSES)
    with pytest.raises(check.CheckFailed):
        check.check_build(model_file, child=SEGFAULT)


def test_the_check_can_be_switched_off(
    build: Path, model_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RC_LOCAL_SELFCHECK", "0")
    check.check_build(model_file, child=SEGFAULT)


def test_a_crash_in_the_check_reaches_the_user_as_a_provider_error_with_the_rebuild(
    build: Path, model_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the model's own loading path, with llama_cpp stood in by a module that imports."""
    monkeypatch.setitem(sys.modules, "llama_cpp", type(sys)("llama_cpp"))
    sys.modules["llama_cpp"].Llama = object  # type: ignore[attr-defined]
    real = check.check_build
    monkeypatch.setattr(_local_engine, "check_build", lambda path: real(path, child=SEGFAULT))
    engine = _local_engine.Engine(_local_engine.Settings(model_file, 64, 1, 1))
    try:
        with pytest.raises(ProviderError) as caught:
            engine.submit(lambda llama: None).result()
    finally:
        engine.close()
    message = str(caught.value)
    assert "crashed (SIGSEGV)" in message
    assert "-DGGML_NATIVE=OFF" in message
    assert "--no-cache-dir" in message
