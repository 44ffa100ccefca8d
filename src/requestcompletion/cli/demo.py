"""The demo: a small workflow of class and function nodes that streams its progress."""

from __future__ import annotations

import asyncio

import requestcompletion as rc


async def fetch_word(index: int) -> str:
    """Pretend to fetch a word from somewhere slow."""
    await asyncio.sleep(0.01 * (index % 3))
    words = ["agents", "are", "graphs", "of", "nodes", "calling", "nodes"]
    return words[index % len(words)]


def count_letters(words: list[str]) -> int:
    """A blocking step: runs on a thread, off the event loop."""
    return sum(len(word) for word in words)


class Sentence(rc.Node[str]):
    """Fetch words in parallel, count their letters on a thread, build a sentence."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    async def invoke(self) -> str:
        await rc.stream(f"fetching {self.size} words in parallel")
        words = await rc.batch(fetch_word, range(self.size), return_exceptions=False)
        await rc.stream(f"got {words}")
        letters = await rc.call(count_letters, words)
        await rc.stream(f"{letters} letters counted on a thread")
        return " ".join(words) + f" ({letters} letters)"


def run_demo(state_dir: str = ".covailence") -> int:
    """Run the workflow, print its progress and answer, and say where it was saved."""
    with rc.Runner(
        subscriber=lambda item: print(f"  · {item}"),
        logging_setting="NONE",
        state_dir=state_dir,
    ) as runner:
        info = runner.run_sync(Sentence, 7)
    print(f"answer: {info.answer}")
    print(f"{len(info.nodes)} nodes ran; the run was saved to {runner.saved_to}")
    return 0
