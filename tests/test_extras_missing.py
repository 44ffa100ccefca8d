"""Without an optional extra, its feature fails at first use with the pip command to run."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_without(module: str, code: str) -> str:
    """Run `code` in a fresh interpreter where importing `module` fails; its stderr."""
    blocked = f"import sys; sys.modules[{module!r}] = None\n"
    done = subprocess.run(
        [sys.executable, "-c", blocked + code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    return done.stderr


@pytest.mark.parametrize(
    ("module", "code", "extra"),
    [
        ("mcp", "import requestcompletion as rc\nrc.mcp", "mcp"),
        (
            "opentelemetry",
            "from requestcompletion.observability import otel\notel.instrument()",
            "otel",
        ),
    ],
)
def test_a_missing_extra_names_the_install_command(module: str, code: str, extra: str) -> None:
    stderr = run_without(module, code)
    assert "MissingExtraError" in stderr
    assert f"pip install 'requestcompletion[{extra}]'" in stderr
