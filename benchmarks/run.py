"""The overhead benchmark: requestcompletion against plain asyncio and railtracks.

    python benchmarks/run.py [--quick] [--only W1,W2,...] [--repeat N]
                             [--timeout S] [--json results.json]

Runs every workload on plain asyncio (one task per call: the floor), on rc and on
railtracks 1.7.0 (when installed), each cell in a fresh worker process
(``worker.py``), and prints the medians with the ratios rc/floor, rc/railtracks and
railtracks/floor. A worker that goes ``--timeout`` seconds without finishing a
sample is killed and reported as "did not finish"; larger sizes of the same
workload are then not tried. See README.md for what each workload measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
IMPLS = ("asyncio", "rc", "railtracks")
WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")
TURNS = 5  # keep in step with _common.TURNS: the ideal W4 time is (TURNS + 1) x latency


@dataclass(frozen=True)
class Metric:
    """One row of the table: a sample key, how to show it, and the floor's key for it."""

    key: str
    title: str
    scale: float = 1.0  # multiply the sample value by this for display
    floor_key: str | None = None  # defaults to ``key``
    fallback: str | None = None  # shown when no sample has ``key``


@dataclass(frozen=True)
class Case:
    """One workload at one size: the worker arguments and the rows it fills."""

    workload: str
    label: str
    args: tuple[str, ...]
    metrics: tuple[Metric, ...]
    family: str = ""  # sizes of one family are skipped after a smaller one timed out
    fresh_process_per_sample: bool = False
    samples_per_repeat: int = 1  # for µs-scale cells, where one sample is mostly noise
    floor_args: tuple[str, ...] | None = None  # when the floor ignores a variant


@dataclass
class Outcome:
    """What one worker run gave: samples, or why there are none."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"  # ok | skip | error | timeout | not-run
    note: str = ""
    seconds: float = 0.0

    def median(self, key: str) -> float | None:
        values = [s[key] for s in self.samples if key in s]
        return statistics.median(values) if values else None


def _cases(quick: bool) -> list[Case]:
    w1 = (1_000,) if quick else (1_000, 10_000)
    w2 = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    w4 = ((100, 0.0), (100, 20.0)) if quick else ((100, 0.0), (100, 20.0), (1_000, 20.0))
    cases = [
        Case(
            "W1",
            f"{n:,} sequential calls",
            ("W1", "--n", str(n)),
            (Metric("us_per_call", "µs per call"),),
            family="W1",
        )
        for n in w1
    ]
    for n in w2:
        for variant, how in (("batch", "batch"), ("gather", "gather of calls")):
            cases.append(
                Case(
                    "W2",
                    f"{n:,} children, {how}",
                    ("W2", "--n", str(n), "--variant", variant),
                    (
                        Metric("wall_ms", "wall ms", fallback="cold_wall_ms"),
                        Metric("bytes_per_node", "peak RSS B/node"),
                    ),
                    family=f"W2-{variant}",
                    floor_args=("W2", "--n", str(n)),
                )
            )
    cases.append(
        Case(
            "W3",
            "recursion to depth 1,000",
            ("W3", "--n", "1000"),
            (Metric("ms", "total ms"), Metric("us_per_level", "µs per level")),
        )
    )
    for agents, latency in w4:
        metrics = [Metric("wall_ms", "wall ms")]
        if latency:
            metrics.append(Metric("x_ideal", f"× ideal {(TURNS + 1) * latency:.0f} ms"))
        cases.append(
            Case(
                "W4",
                f"{agents:,} agents, {latency:.0f} ms model",
                ("W4", "--n", str(agents), "--latency-ms", str(latency)),
                tuple(metrics),
                family=f"W4-{latency}",
            )
        )
    cases += [
        Case(
            "W5",
            "import",
            ("W5-import",),
            (Metric("import_ms", "ms"), Metric("rss_mb", "RSS after, MB")),
            fresh_process_per_sample=True,
        ),
        Case(
            "W5",
            "empty runner open+close",
            ("W5-empty",),
            (Metric("empty_runner_us", "µs"),),
            samples_per_repeat=20,
        ),
        Case(
            "W5",
            "runner + one call",
            ("W5-call",),
            (
                Metric("one_call_us", "µs"),
                Metric("one_call_sync_us", "µs, run_sync", floor_key="one_call_us"),
                Metric("one_call_async_sub_us", "µs, async subscriber", floor_key="one_call_us"),
                Metric("one_call_no_sub_us", "µs, no subscriber", floor_key="one_call_us"),
                Metric("one_call_default_us", "µs, defaults", floor_key="one_call_us"),
            ),
            samples_per_repeat=20,
        ),
        Case(
            "W6",
            "state of a 10,000-node run",
            ("W6", "--n", "10000"),
            (
                Metric("save_ms", "save ms"),
                Metric("to_json_ms", "to_json ms", floor_key="save_ms"),
                Metric("load_ms", "load ms"),
                Metric("bytes", "KB", scale=1e-3),
            ),
        ),
    ]
    return cases


# --- running workers ------------------------------------------------------------


def _worker_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(HERE), str(REPO / "src"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # railtracks: no network on import
    env["RAILTRACKS_HOME"] = str(scratch)  # railtracks: saved sessions go to scratch
    # imports are timed as users meet them, from bytecode caches (the standard
    # library's are installed; the first, discarded W5 import writes the others)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _lines(proc: subprocess.Popen[bytes], wait: float) -> Iterator[str | None]:
    """Yield the worker's stdout lines; None when ``wait`` seconds pass without one."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending = b""
    while True:
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            yield None
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            if pending.strip():
                yield pending.decode()
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if line.strip():
                yield line.decode()


def _run_worker(
    impl: str, args: tuple[str, ...], repeat: int, timeout: float, scratch: Path
) -> Outcome:
    command = [sys.executable, str(HERE / "worker.py"), impl, *args, "--repeat", str(repeat)]
    outcome = Outcome()
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, cwd=scratch, env=_worker_env(scratch)
        )
        try:
            for line in _lines(proc, timeout):
                if line is None:
                    outcome.status = "timeout"
                    outcome.note = f"did not finish in {timeout:.0f} s"
                    break
                message = json.loads(line)
                if "sample" in message:
                    outcome.samples.append(message["sample"])
                elif "skip" in message:
                    outcome.status, outcome.note = "skip", message["skip"]
                elif "error" in message:
                    outcome.status, outcome.note = "error", message["error"]
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()
        if outcome.status == "ok" and (proc.returncode or not outcome.samples):
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace").strip().splitlines()[-3:]
            outcome.status = "error"
            outcome.note = f"worker exited {proc.returncode}: " + " | ".join(tail)
    if outcome.status == "timeout" and outcome.samples:
        # Some repeats finished: keep them, and say how many.
        outcome.status = "ok"
        outcome.note = f"{len(outcome.samples)} sample(s), then {outcome.note}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def _run_case(
    args: tuple[str, ...], fresh: bool, impl: str, repeat: int, timeout: float, scratch: Path
) -> Outcome:
    if not fresh:
        return _run_worker(impl, args, repeat, timeout, scratch)
    # One process per sample (import time); a first, discarded one writes the .pyc files.
    _run_worker(impl, args, 1, timeout, scratch)
    merged = Outcome()
    for _ in range(repeat):
        one = _run_worker(impl, args, 1, timeout, scratch)
        merged.samples += one.samples
        merged.seconds += one.seconds
        if one.status != "ok":
            merged.status, merged.note = one.status, one.note
            break
    return merged


# --- the table --------------------------------------------------------------------


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(top: float | None, bottom: float | None) -> str:
    if top is None or bottom is None or bottom == 0:
        return "–"
    return f"{top / bottom:.2f}×"


def _cell(outcome: Outcome | None, value: float | None) -> str:
    if outcome is None:
        return "–"
    if value is not None:
        return _number(value)
    return {"skip": "skipped", "timeout": "DNF", "error": "error", "not-run": "not run"}.get(
        outcome.status, "–"
    )


def _rows(cases: list[Case], results: dict[tuple[int, str], Outcome]) -> list[dict[str, Any]]:
    rows = []
    for index, case in enumerate(cases):
        for metric in case.metrics:
            values: dict[str, float | None] = {}
            for impl in IMPLS:
                outcome = results.get((index, impl))
                key = (metric.floor_key or metric.key) if impl == "asyncio" else metric.key
                value = outcome.median(key) if outcome else None
                if value is None and outcome and metric.fallback:
                    value = outcome.median(metric.fallback)
                values[impl] = None if value is None else value * metric.scale
            rows.append(
                {"workload": case.workload, "case": case.label, "metric": metric.title}
                | {"values": values, "case_index": index}
            )
    return rows


def _print_table(rows: list[dict[str, Any]], results: dict[tuple[int, str], Outcome]) -> None:
    header = [
        "",
        "case",
        "metric",
        "asyncio",
        "rc",
        "rc/asyncio",
        "railtracks",
        "rc/rt",
        "rt/asyncio",
    ]
    lines = [header]
    for row in rows:
        v = row["values"]
        out = {impl: results.get((row["case_index"], impl)) for impl in IMPLS}
        lines.append(
            [
                row["workload"],
                row["case"],
                row["metric"],
                _cell(out["asyncio"], v["asyncio"]),
                _cell(out["rc"], v["rc"]),
                _ratio(v["rc"], v["asyncio"]),
                _cell(out["railtracks"], v["railtracks"]),
                _ratio(v["rc"], v["railtracks"]),
                _ratio(v["railtracks"], v["asyncio"]),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for number, line in enumerate(lines):
        cells = [
            cell.ljust(width) if i < 3 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def _print_notes(cases: list[Case], results: dict[tuple[int, str], Outcome]) -> None:
    notes: dict[str, list[str]] = {}
    for (index, impl), outcome in sorted(results.items()):
        if outcome.note:
            where = f"{cases[index].workload} {cases[index].label}"
            notes.setdefault(f"{impl}: {outcome.note}", []).append(where)
    if notes:
        print("\nNotes:")
    for note, where in notes.items():
        print(f"  - {note}  [{'; '.join(where)}]")


def _environment(repeat: int, timeout: float) -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": [round(x, 2) for x in load],
        "commit": commit or "(no commit)",
        "repeat": repeat,
        "timeout_s": timeout,
        "rc_settings": "rc.Runner(save_state=False, logging_setting='NONE') + 1 subscriber",
        "railtracks_settings": "rt.Session(flow_name=..., save_state=False) + 1 subscriber",
    }


@dataclass(frozen=True)
class Plan:
    """What one invocation runs, from the command line."""

    cases: list[Case]
    impls: list[str]
    repeat: int
    rt_repeat: int
    timeout: float
    rounds: int = 1


def _run_all(plan: Plan, scratch: Path) -> dict[tuple[int, str], Outcome]:
    """Every case on every implementation, one worker at a time (the machine is small).

    With several rounds the whole sequence runs again and each cell pools its
    samples over the rounds, so asyncio and rc are sampled across the same slow
    drifts of a noisy machine rather than minutes apart. railtracks runs in the
    first round only: it is slow, and 100x off is 100x off.
    """
    results: dict[tuple[int, str], Outcome] = {}
    gave_up: dict[tuple[str, str], Case] = {}
    for round_number in range(plan.rounds):
        floors: dict[tuple[str, ...], Outcome] = {}  # W2 variants share one floor run
        impls = [i for i in plan.impls if round_number == 0 or i != "railtracks"]
        for index, case in enumerate(plan.cases):
            for impl in impls:
                stuck = gave_up.get((impl, case.family)) if case.family else None
                if stuck is not None:
                    if (index, impl) not in results:
                        results[index, impl] = Outcome(
                            status="not-run",
                            note=f"not run: {stuck.label} did not finish in {plan.timeout:.0f} s",
                        )
                    continue
                floor_args = case.floor_args or case.args
                if impl == "asyncio" and floor_args in floors:
                    _pool(results, (index, impl), floors[floor_args])
                    continue
                label = f" (round {round_number + 1})" if plan.rounds > 1 else ""
                print(f"... {case.workload} {case.label} on {impl}{label}", end="", file=sys.stderr)
                sys.stderr.flush()
                outcome = _run_case(
                    floor_args if impl == "asyncio" else case.args,
                    case.fresh_process_per_sample,
                    impl,
                    (plan.rt_repeat if impl == "railtracks" else plan.repeat)
                    * case.samples_per_repeat,
                    plan.timeout,
                    scratch,
                )
                print(f": {outcome.status} in {outcome.seconds:.1f} s", file=sys.stderr)
                _pool(results, (index, impl), outcome)
                if impl == "asyncio":
                    floors[floor_args] = outcome
                if outcome.status == "timeout" and case.family:
                    gave_up[impl, case.family] = case
    return results


def _pool(results: dict[tuple[int, str], Outcome], key: tuple[int, str], new: Outcome) -> None:
    """Add one round's outcome of a cell to what the earlier rounds gave."""
    old = results.get(key)
    if old is None:
        results[key] = Outcome(list(new.samples), new.status, new.note, new.seconds)
        return
    old.samples += new.samples
    old.seconds += new.seconds
    if new.status != "ok" and old.status == "ok":
        old.status, old.note = new.status, new.note


def _write_json(
    path: Path,
    environment: dict[str, Any],
    cases: list[Case],
    rows: list[dict[str, Any]],
    results: dict[tuple[int, str], Outcome],
) -> None:
    payload = {
        "environment": environment,
        "rows": [{k: v for k, v in row.items() if k != "case_index"} for row in rows],
        "cells": [
            {
                "workload": cases[index].workload,
                "case": cases[index].label,
                "impl": impl,
                "status": outcome.status,
                "note": outcome.note,
                "seconds": round(outcome.seconds, 3),
                "samples": outcome.samples,
            }
            for (index, impl), outcome in sorted(results.items())
        ],
    }
    path.write_text(json.dumps(payload, indent=2))


def _plan(argv: list[str] | None) -> tuple[Plan, Path | None]:
    parser = argparse.ArgumentParser(
        description="Framework overhead: rc vs plain asyncio vs railtracks 1.7.0."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repeats, 30 s limit")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W2")
    parser.add_argument("--repeat", type=int, help="measured repeats per cell (default 5; quick 3)")
    parser.add_argument(
        "--rt-repeat", type=int, help="repeats for railtracks, which is slow (default 3; quick 1)"
    )
    parser.add_argument("--timeout", type=float, help="seconds one sample may take (default 60)")
    parser.add_argument(
        "--impl", default=",".join(IMPLS), help="comma-separated subset of asyncio,rc,railtracks"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run everything this many times, alternating, and pool the samples (default 1)",
    )
    parser.add_argument("--json", type=Path, help="also write every sample to this file")
    args = parser.parse_args(argv)

    only = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    if only - set(WORKLOADS):
        parser.error(f"unknown workload(s) {sorted(only - set(WORKLOADS))}; choose from W1..W6")
    impls = [i.strip() for i in args.impl.split(",") if i.strip()]
    if not impls or set(impls) - set(IMPLS):
        parser.error(f"--impl takes a subset of {', '.join(IMPLS)}")
    repeat = args.repeat or (3 if args.quick else 5)
    plan = Plan(
        cases=[c for c in _cases(args.quick) if not only or c.workload in only],
        impls=impls,
        repeat=repeat,
        rt_repeat=args.rt_repeat or (1 if args.quick else min(repeat, 3)),
        timeout=args.timeout or (30.0 if args.quick else 60.0),
        rounds=max(args.rounds, 1),
    )
    return plan, args.json


def main(argv: list[str] | None = None) -> int:
    plan, json_path = _plan(argv)
    environment = _environment(plan.repeat, plan.timeout)
    print(f"# requestcompletion overhead benchmark ({environment['commit']})")
    for key, value in environment.items():
        print(f"#   {key}: {value}")

    scratch = Path(tempfile.mkdtemp(prefix="rc-bench-"))
    try:
        results = _run_all(plan, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rows = _rows(plan.cases, results)
    print()
    _print_table(rows, results)
    _print_notes(plan.cases, results)
    print(
        "\nMedians of the repeats; ratios below 1× mean faster or smaller than the"
        " column divided by. DNF = did not finish within the time limit."
    )
    if json_path is not None:
        _write_json(json_path, environment, plan.cases, rows, results)
        print(f"wrote {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
