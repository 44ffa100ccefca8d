"""Every Python example of the docs and of README.md runs, and its asserts hold.

A page whose example raises fails here, with the traceback pointing at the
Markdown file and line. How blocks are found and marked: `markdown_examples`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import socket
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from fake_llm_server import API_KEY, FakeLLMServer
from markdown_examples import (
    ROOT,
    DocsMarkError,
    Example,
    all_examples,
    examples_in,
    pages,
)

EXAMPLES = all_examples()
PAGES = sorted({e.page for e in EXAMPLES if e.mark in ("", "local_model")})
LOCAL_PAGES = sorted({e.page for e in EXAMPLES if e.mark == "local_model"})
RAY = [e for e in EXAMPLES if e.mark == "ray"]
RAILTRACKS = [e for e in EXAMPLES if e.mark == "railtracks"]


def _id(example: Example) -> str:
    return f"{example.page}:{example.line}"


@pytest.fixture
def providers_at_local_server(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> FakeLLMServer:
    """Providers made with no URL or key talk to the local server, as a user's would
    talk to the provider named by their environment."""
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm_server.root_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.delenv("RC_MODEL", raising=False)
    return llm_server


@pytest.fixture
def module() -> Iterator[types.ModuleType]:
    """A fresh module to run a page in, registered like a user's script would be."""
    made = types.ModuleType("docs_example")
    sys.modules[made.__name__] = made
    yield made
    del sys.modules[made.__name__]


def run_page(
    page: str,
    module: types.ModuleType,
    server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    real_model: bool,
) -> int:
    """Run the page's examples in order in `module`; return how many ran."""
    ran = 0
    for example in EXAMPLES:
        if example.page != page or example.mark not in ("", "local_model"):
            continue
        if example.setup:
            exec(example.compiled(example.setup, example.line - 1), {"llm_server": server})
        with monkeypatch.context() as env:
            if example.mark == "local_model" and not real_model:
                env.setenv("RC_MODEL", "scripted")  # the offline stand-in for the real model
            exec(example.compiled(), module.__dict__)
        ran += 1
    return ran


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_of_a_page_run(
    page: str,
    module: types.ModuleType,
    providers_at_local_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_page(page, module, providers_at_local_server, monkeypatch, real_model=False)


def _local_model_asked_for(config: pytest.Config) -> bool:
    return os.environ.get("RC_LOCAL_MODEL") == "1" or "local_model" in str(
        config.getoption("markexpr") or ""
    )


@pytest.mark.local_model
@pytest.mark.parametrize("page", LOCAL_PAGES)
def test_the_examples_of_a_page_run_on_the_real_model(
    page: str,
    module: types.ModuleType,
    providers_at_local_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    if not _local_model_asked_for(request.config):
        pytest.skip("opt-in: RC_LOCAL_MODEL=1 pytest -m local_model (or make test-local)")
    pytest.importorskip("llama_cpp", reason="the local extra is not installed")
    assert run_page(page, module, providers_at_local_server, monkeypatch, real_model=True)


def _outside_loopback_namespace() -> str | None:
    if not os.environ.get("RC_NETNS_NAME"):
        return "Ray examples run only inside scripts/netns-run: use `make test`"
    if sorted(name for _, name in socket.if_nameindex()) != ["lo"]:
        return "not in a loopback-only network namespace"
    return None


@pytest.mark.ray
@pytest.mark.parametrize("example", RAY, ids=_id)
def test_a_ray_example_runs(
    example: Example, module: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = _outside_loopback_namespace()
    if reason:
        if os.environ.get("RC_REQUIRE_RAY") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    pytest.importorskip("ray", reason="ray is not installed: pip install 'requestcompletion[ray]'")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    exec(example.compiled(), module.__dict__)


def _rt_names(code: str) -> set[str]:
    """Every dotted name rooted at `rt` in the code, e.g. ``rt.llm.OpenAILLM``."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id == "rt" and parts:
            names.add(".".join(["rt", *parts]))
    return names


@pytest.mark.parametrize("example", RAILTRACKS, ids=_id)
def test_a_railtracks_example_names_what_railtracks_has(example: Example) -> None:
    example.compiled()  # a syntax error fails here, pointing at the page
    names = _rt_names(example.code)
    assert names, f"{_id(example)}: a railtracks example that uses nothing of `rt`"
    if importlib.util.find_spec("railtracks") is None:
        return  # only the bench extra has railtracks; parsing is what can be checked here
    railtracks = importlib.import_module("railtracks")
    for name in sorted(names):
        value: object = railtracks
        for part in name.split(".")[1:]:
            if isinstance(value, type | types.ModuleType) or part[0].isupper():
                assert hasattr(value, part), f"{_id(example)}: railtracks has no {name}"
                value = getattr(value, part)
            else:
                break  # an instance attribute (a result's `.content`): not checkable here


# --- the collector itself -------------------------------------------------------------


def test_every_page_of_the_guide_and_the_readme_is_read() -> None:
    read = {p.relative_to(ROOT).as_posix() for p in pages()}
    assert "README.md" in read and "docs/getting-started.md" in read
    assert "docs/ray-notes.md" not in read
    assert any(e.page == "README.md" for e in EXAMPLES)


def test_a_page_that_lies_fails_at_its_own_line(
    module: types.ModuleType,
    providers_at_local_server: FakeLLMServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "# A page\n\n```python\nx = 1\n```\n\nText.\n\n```python\nassert x == 2\n```\n"
    examples = examples_in(text, "docs/lying.md")
    assert [(e.line, e.mark) for e in examples] == [(4, ""), (10, "")]
    exec(examples[0].compiled(), module.__dict__)
    with pytest.raises(AssertionError) as caught:
        exec(examples[1].compiled(), module.__dict__)
    where = caught.traceback[-1]
    assert Path(str(where.path)).name == "lying.md" and where.lineno + 1 == 10


def test_marks_setup_and_nested_fences_are_read() -> None:
    text = (
        "<!-- docs: ray -->\n\n```python\na = 1\n```\n"
        "<!-- docs: setup llm_server.text('hi') -->\n```py\nb = 2\n```\n"
        "```bash\nmake docs\n```\n"
        "- a list item:\n\n  ```python\n  if True:\n      c = 3\n  ```\n"
    )
    examples = examples_in(text, "docs/marks.md")
    assert [(e.mark, e.setup, e.code) for e in examples] == [
        ("ray", "", "a = 1\n"),
        ("", "llm_server.text('hi')", "b = 2\n"),
        ("", "", "if True:\n    c = 3\n"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- docs: gpu -->\n```python\nx = 1\n```\n", "unknown docs mark 'gpu'"),
        ("<!-- docs: ray -->\n```bash\nls\n```\n", "python blocks only"),
        ("<!-- docs: ray -->\nsome text\n```python\nx = 1\n```\n", "line 2 is text"),
        ("text\n<!-- docs: ray -->\n", "at the end of the page"),
        ("```python\nx = 1\n", "never closed"),
        ("<!-- docs: setup -->\n```python\nx = 1\n```\n", "'setup CODE'"),
    ],
)
def test_a_bad_mark_is_named_with_its_page_and_line(text: str, message: str) -> None:
    with pytest.raises(DocsMarkError, match="docs/bad.md:") as caught:
        examples_in(text, "docs/bad.md")
    assert message in str(caught.value)


def test_rt_names_are_found_in_railtracks_code() -> None:
    code = "import railtracks as rt\nx = rt.llm.OpenAILLM('m')\ny = x.content\nrt.call\n"
    assert _rt_names(code) == {"rt.llm.OpenAILLM", "rt.llm", "rt.call"}
