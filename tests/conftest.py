"""Shared fixtures: every test runs in its own folder with the default global config,
no test can reach a real model provider, and the local LLM server
(`fake_llm_server`) is available everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import requestcompletion as rc

pytest_plugins = ["fake_llm_server"]


@pytest.fixture(autouse=True, scope="session")
def _no_real_requests() -> Iterator[None]:
    """Any provider request to a host other than 127.0.0.1 fails for the whole session."""
    with rc.testing.block_real_requests():
        yield


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Saved runs go to a fresh folder; the global config is reset afterwards."""
    monkeypatch.chdir(tmp_path)
    rc.set_config(rc.ExecutorConfig())
    yield
    rc.set_config(rc.ExecutorConfig())
