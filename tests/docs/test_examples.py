"""Every Python example of the docs and of README.md runs, and its asserts hold.

A page whose example raises fails here, with the traceback pointing at the
Markdown file and line. How blocks are found and marked: `markdown_examples`.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from markdown_examples import (
    ROOT,
    DocsMarkError,
    Example,
    all_examples,
    examples_in,
    pages,
)

from fake_llm_server import API_KEY, FakeLLMServer

EXAMPLES = all_examples()
PAGES = sorted({e.page for e in EXAMPLES if e.mark in ("", "local_model")})
LOCAL_PAGES = sorted({e.page for e in EXAMPLES if e.mark == "local_model"})
RAY = [e for e in EXAMPLES if e.mark == "ray"]
HERE = Path(__file__).resolve().parent
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


# A fresh interpreter per Ray example: the example may start a local cluster of its
# own, and one process connects to one cluster at a time (the strategy tests hold theirs).
# Its nodes live in __main__ there, so cloudpickle sends them by value, as for a script.
_RUN_IN_MAIN = """
import sys
sys.path.insert(0, {here!r})
from markdown_examples import all_examples
[example] = [e for e in all_examples() if (e.page, e.line) == ({page!r}, {line!r})]
exec(example.compiled(), globals())
"""


@pytest.mark.ray
@pytest.mark.parametrize("example", RAY, ids=_id)
def test_a_ray_example_runs(example: Example) -> None:
    reason = _outside_loopback_namespace()
    if reason:
        if os.environ.get("RC_REQUIRE_RAY") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    pytest.importorskip("ray", reason="ray is not installed: pip install 'requestcompletion[ray]'")
    code = _RUN_IN_MAIN.format(here=str(HERE), page=example.page, line=example.line)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"{_id(example)} failed:\n{done.stderr[-4000:]}"


def _rt_names(code: str) -> set[str]:
    """What the code takes from railtracks: dotted names rooted at `rt` (``rt.llm.OpenAILLM``)
    and ``from railtracks.x import y`` imports (as ``railtracks.x:y``)."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("railtracks"):
            names |= {f"{node.module}:{alias.name}" for alias in node.names}
            continue
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id == "rt" and parts:
            names.add(".".join(["rt", *parts]))
    return names


# Run in a fresh interpreter: importing railtracks loads .env files into the process,
# and litellm would fetch its price list from the internet unless told to use its own.
_RAILTRACKS_LACKS = """
import importlib, json, sys, types
import railtracks
missing = []
for name in json.loads(sys.argv[1]):
    if ":" in name:
        module, _, attribute = name.partition(":")
        if not hasattr(importlib.import_module(module), attribute):
            missing.append(name)
        continue
    value = railtracks
    for part in name.split(".")[1:]:
        if not isinstance(value, (type, types.ModuleType)) and not part[0].isupper():
            break  # an instance attribute (a result's `.content`): not checkable here
        if not hasattr(value, part):
            missing.append(name)
            break
        value = getattr(value, part)
print(json.dumps(missing))
"""


@pytest.mark.parametrize("example", RAILTRACKS, ids=_id)
def test_a_railtracks_example_parses_and_uses_railtracks(example: Example) -> None:
    example.compiled()  # a syntax error fails here, pointing at the page
    assert _rt_names(example.code), f"{_id(example)}: it uses nothing of railtracks"


# railtracks 1.7.0 needs mcp<2 and rc's dev extra mcp>=2.3, so one venv cannot hold both
# and run the MCP tests: $RC_RAILTRACKS_PYTHON names the interpreter of a venv of its own.
RAILTRACKS_PYTHON = os.environ.get("RC_RAILTRACKS_PYTHON") or sys.executable


def _has_railtracks(python: str) -> bool:
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('railtracks') is None)"
    return subprocess.run([python, "-c", probe], capture_output=True, timeout=60).returncode == 0


def railtracks_lacks(names: list[str], where: Path) -> list[str]:
    """Those of `names` (as `_rt_names` gives them) that the installed railtracks lacks."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "RAILTRACKS_HOME": str(where)}
    done = subprocess.run(
        [RAILTRACKS_PYTHON, "-c", _RAILTRACKS_LACKS, json.dumps(names)],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    missing: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return missing


def test_the_railtracks_examples_name_only_what_railtracks_has(tmp_path: Path) -> None:
    if not _has_railtracks(RAILTRACKS_PYTHON):
        pytest.skip(
            f"railtracks is not installed for {RAILTRACKS_PYTHON} (the bench extra has it; "
            "or set RC_RAILTRACKS_PYTHON to a venv's python that has railtracks==1.7.0)"
        )
    used = {name: example for example in RAILTRACKS for name in _rt_names(example.code)}
    missing = railtracks_lacks([*sorted(used), "rt.no_such_name"], tmp_path)
    assert missing[-1:] == ["rt.no_such_name"], "the check itself finds nothing missing"
    assert not missing[:-1], "railtracks 1.7.0 has none of: " + ", ".join(
        f"{name} ({_id(used[name])})" for name in missing[:-1]
    )


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
    with pytest.raises(DocsMarkError, match=r"docs/bad\.md:") as caught:
        examples_in(text, "docs/bad.md")
    assert message in str(caught.value)


def test_rt_names_are_found_in_railtracks_code() -> None:
    code = (
        "import railtracks as rt\nfrom railtracks.exceptions import FatalError\n"
        "x = rt.llm.OpenAILLM('m')\ny = x.content\nrt.call\n"
    )
    assert _rt_names(code) == {
        "rt.llm.OpenAILLM",
        "rt.llm",
        "rt.call",
        "railtracks.exceptions:FatalError",
    }
