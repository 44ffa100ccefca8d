"""Every example in docs/agents.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "agents.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.strip().splitlines()[-1][:40])
def test_an_example_runs(example: str) -> None:
    exec(compile(example, str(DOC), "exec"), {"__name__": "docs_example"})
