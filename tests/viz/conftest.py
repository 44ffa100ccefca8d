"""The viewer's test kit: Debian's headless chromium driven by Playwright, a served folder.

Playwright never downloads a browser here: it is pointed at /usr/bin/chromium
(`make test` installs Debian's package). Each browser gets a fresh profile
folder and the flags that keep it from reaching out to the network on its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from requestcompletion.viz import Viewer

CHROMIUM = Path(os.environ.get("RC_CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


# Module scope, not session: Playwright's sync API keeps an event loop running on the
# test thread while it is open, and tests after these ones (run_sync) must not see it.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser tests need: pip install -e '.[viz-test]'"
    )
    if not CHROMIUM.is_file():
        missing = f"no chromium at {str(CHROMIUM)!r}: `make test` installs Debian's package"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI must run the browser tests for real
        pytest.skip(missing)
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture
def open_browser(playwright: Any, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Start a fresh chromium (its own profile folder) and return its context."""
    contexts: list[Any] = []

    def start() -> Any:
        profile = tmp_path / f"profile-{len(contexts)}"
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1300, "height": 720},
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield start
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_browser: Callable[[], Any]) -> Any:
    context = open_browser()
    page = context.pages[0] if context.pages else context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"the page raised: {errors!r}"


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    return folder


@pytest.fixture
def viewer(runs_dir: Path) -> Iterator[Viewer]:
    with Viewer(runs_dir) as served:
        yield served
