"""Shared fixtures: every test runs in its own folder with the default global config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import requestcompletion as rc


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Saved runs go to a fresh folder; the global config is reset afterwards."""
    monkeypatch.chdir(tmp_path)
    rc.set_config(rc.ExecutorConfig())
    yield
    rc.set_config(rc.ExecutorConfig())
