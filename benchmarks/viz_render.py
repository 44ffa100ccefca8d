"""How fast the run viewer opens a big run: time to first render in headless chromium.

    python benchmarks/viz_render.py [--nodes 10000] [--repeat 7]

Saves one run of `--nodes` nodes with the real runner, serves it with
`requestcompletion.viz.Viewer`, and opens its page `--repeat` times, each in a
fresh page of one Debian chromium (`/usr/bin/chromium`, through Playwright; needs
`pip install -e '.[viz-test]'`). Prints the medians of: the server's part (load
the file, build the page's JSON) and the page's first render, measured by the page
itself from navigation start (`window.rcFirstRender`), on a fresh server (the file
read and turned into JSON for this page) and again on the same server (reused).
The target is under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "viz"))

from viz_runs import make_big_run

import requestcompletion as rc
from requestcompletion.viz import Viewer
from requestcompletion.viz.model import run_model, to_json

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        path = make_big_run(Path(folder), args.nodes)
        server_ms = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            to_json(run_model(rc.ExecutionInfo.load(path)))
            server_ms.append((time.perf_counter() - start) * 1000)
        cold_ms, warm_ms = [], []
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            for _ in range(args.repeat):
                with Viewer(folder) as viewer:  # a fresh server: the first open reads the file
                    for times in (cold_ms, warm_ms):
                        page = browser.new_page(viewport={"width": 1300, "height": 720})
                        page.goto(viewer.url + "#/run/big-run")
                        page.wait_for_function("() => window.rcFirstRender !== undefined")
                        times.append(page.evaluate("window.rcFirstRender"))
                        page.close()
            browser.close()
    nodes = args.nodes
    for label, values in (
        ("server: load + page JSON", server_ms),
        ("first render, first open", cold_ms),
        ("first render, opened again (the server kept the read)", warm_ms),
    ):
        print(
            f"{nodes} nodes, {label}: median {statistics.median(values):.0f} ms "
            f"(min {min(values):.0f}, max {max(values):.0f}, n={len(values)})"
        )


if __name__ == "__main__":
    main()
