"""Benchmarks of the evaluation (``selfinstruct eval``).

1. Judge throughput: ``grade_run`` (one judge call per reply) and ``compare_run`` (two per pair)
   over replies to the project's own set, with the scripted fake judge at 50 ms per call and
   concurrency 32, against the ideal ``concurrency / latency`` = 640 calls/s. Reported: judge
   calls / wall time, median of ``--runs``.
2. The embedded SmolLM2 end to end on our own set: ``answer_run`` then ``grade_run`` with the
   embedded model as answerer and judge. The full set is slow on a shared CPU, so ``--items``
   (default 10) items are run and the time for all items is extrapolated linearly, labelled so.

Usage: ``python benchmarks/bench_eval.py [--runs 3] [--items 10] [--only judge|embedded]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from langchain_selfinstruct import FakeSelfInstructLLM
from langchain_selfinstruct.evaluation import (
    answer_run,
    compare_run,
    grade_run,
    load_eval_items,
)

LATENCY_S = 0.05
CONCURRENCY = 32
"""The loop benchmark's setting; a 0.5 s row isolates scheduling from CPU."""
MODELS = 4


def _answered_dir(root: Path) -> Path:
    out = root / "eval"
    for seed in range(MODELS):
        answer_run(out, FakeSelfInstructLLM(seed=seed), f"fake{seed}", concurrency=64)
    return out


def judge_throughput(runs: int) -> None:
    print(f"judge calls/s, fake judge, concurrency {CONCURRENCY}, median of {runs} runs")
    head = f"{'command':<8} {'latency':>8} {'calls':>6} {'calls/s':>8} {'ideal':>6} {'of ideal':>9}"
    print(f"{head} {'CPU ms/call':>12}")
    for name, latency in (("grade", LATENCY_S), ("compare", LATENCY_S), ("grade", 0.5)):
        rates, cpu, calls = [], [], 0
        ideal = CONCURRENCY / latency
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                out = _answered_dir(Path(tmp))
                judge = {"fake": FakeSelfInstructLLM(latency_s=latency)}
                start, start_cpu = time.perf_counter(), time.process_time()
                if name == "grade":
                    counts = grade_run(out, judge, concurrency=CONCURRENCY)
                    calls = counts.done + counts.failed
                else:
                    counts = compare_run(out, judge, "fake0", concurrency=CONCURRENCY)
                    calls = 2 * (counts.done + counts.failed)
                rates.append(calls / (time.perf_counter() - start))
                cpu.append((time.process_time() - start_cpu) / calls * 1000)
        rate = statistics.median(rates)
        row = f"{name:<8} {latency * 1000:>6.0f}ms {calls:>6} {rate:>8.0f} {ideal:>6.0f}"
        print(f"{row} {rate / ideal:>8.0%} {statistics.median(cpu):>12.2f}", flush=True)


def embedded_end_to_end(items: int) -> None:
    from langchain_selfinstruct.models import resolve_model

    total = len(load_eval_items())
    llm = resolve_model("embedded")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "eval"
        start = time.perf_counter()
        answered = answer_run(out, llm, "embedded", limit=items, concurrency=2)
        answer_s = time.perf_counter() - start
        start = time.perf_counter()
        graded = grade_run(out, {"embedded": llm}, concurrency=2)
        grade_s = time.perf_counter() - start
    print(f"embedded SmolLM2 on {items} of our {total} items (answer, then grade, concurrency 2)")
    print(
        f"{'phase':<8} {'done':>5} {'failed':>7} {'wall s':>8} {'s/item':>7} {'all items s*':>13}"
    )
    for phase, counts, seconds in (("answer", answered, answer_s), ("grade", graded, grade_s)):
        per = seconds / items
        print(
            f"{phase:<8} {counts.done:>5} {counts.failed:>7} {seconds:>8.1f} {per:>7.2f} "
            f"{per * total:>13.0f}"
        )
    if items < total:
        print(f"* extrapolated linearly from {items} items to {total}, not measured")
    else:
        print("* measured: the whole set")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--only", choices=("judge", "embedded"))
    args = parser.parse_args()
    if args.only in (None, "judge"):
        judge_throughput(args.runs)
    if args.only in (None, "embedded"):
        embedded_end_to_end(args.items)


if __name__ == "__main__":
    main()
