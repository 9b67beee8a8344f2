"""Benchmarks of the bootstrap loop itself, on the scripted fake model (no weights, no network).

1. Loop overhead at a 52K pool: the pool and its index are pre-filled with ~52,000 synthetic
   machine tasks (the dedup benchmarks' corpus generator), then a zero-latency fake model runs
   the loop for a few hundred accepted tasks. Reported: tasks/s and milliseconds per accepted
   task spent outside the model, split into the instruction filter (rules + pool dedup), the
   pool updates on acceptance (mean ROUGE-L against the pool + index add) and the rest
   (LangChain plumbing, parsing, prompt building, the fake's bookkeeping). A second row does the
   same through ``run_to_directory`` (resume of a 52K-line ``tasks.jsonl``, fsync per task).
2. Throughput with a 50 ms fake model at concurrency 32 against the ideal of
   ``concurrency / latency`` model calls per second (measured: model calls / wall time). The
   run also reports CPU per model call (the ceiling it implies on one core), mean calls in
   flight, the rate in the steady middle of the run (model calls starting between the 10th and
   the 90th percentile of start times, so without the ramp-up and the tail) and repeats the run
   at a 0.5 s latency, where CPU no longer matters, to isolate what scheduling alone costs.

Usage: ``python benchmarks/bench_loop.py [--quick] [--runs 3] [--only overhead|throughput]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.outputs import LLMResult
from pydantic import PrivateAttr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dedup_corpus import generate_corpus

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline
from langchain_selfinstruct.dedup import DuplicateCheck, NearDuplicateIndex
from langchain_selfinstruct.pipeline import LoopState
from langchain_selfinstruct.presets import get_preset
from langchain_selfinstruct.run_store import RunDirectory
from langchain_selfinstruct.runner import run_settings, run_to_directory
from langchain_selfinstruct.schema import Instance, Task, save_tasks
from langchain_selfinstruct.steps import InstructionFilter, InstructionFilterResult


@dataclass
class Clock:
    """Seconds spent per labelled section, and the spans of every model call."""

    seconds: dict[str, float] = field(default_factory=dict)
    spans: list[tuple[float, float]] = field(default_factory=list)

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds

    def get(self, label: str) -> float:
        return self.seconds.get(label, 0.0)


class TimedFake(FakeSelfInstructLLM):
    """The scripted fake, recording the span of every call (the pipeline copies share it)."""

    _clock: Clock = PrivateAttr(default_factory=Clock)

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        start = time.perf_counter()
        result = await super()._agenerate(prompts, stop, run_manager, **kwargs)
        self._clock.spans.append((start, time.perf_counter()))
        return result


class TimedIndex(NearDuplicateIndex):
    """An exact index timing the calls the loop makes; the first bulk add counts as setup."""

    def __init__(self, clock: Clock, threshold: float) -> None:
        super().__init__(threshold=threshold)
        self.clock = clock

    def _timed(self, label: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return call()
        finally:
            self.clock.add(label, time.perf_counter() - start)

    def add(self, texts: Iterable[str]) -> None:
        label = "index_build" if len(self) == 0 else "accept_index"
        self._timed(label, lambda: super(TimedIndex, self).add(texts))

    def check_batch(self, texts: Iterable[str], k: int = 10) -> list[DuplicateCheck]:
        checks: list[DuplicateCheck] = self._timed(
            "filter_dedup", lambda: super(TimedIndex, self).check_batch(texts, k)
        )
        return checks

    def average_similarity(self, text: str) -> float:
        score: float = self._timed(
            "accept_index", lambda: super(TimedIndex, self).average_similarity(text)
        )
        return score


class TimedFilter(InstructionFilter):
    """The paper's instruction filter, timing each batch (rules and pool dedup)."""

    clock: Clock

    def _filter(self, candidates: list[str]) -> InstructionFilterResult:
        start = time.perf_counter()
        try:
            return super()._filter(candidates)
        finally:
            self.clock.add("filter", time.perf_counter() - start)


def synthetic_pool(size: int) -> list[Task]:
    """``size`` machine tasks with instruction-like texts (seeded, so runs compare)."""
    texts = generate_corpus(size, seed=52, dup_share=0.0).texts
    return [
        Task(
            id=f"machine_task_{i}",
            instruction=text,
            instances=[Instance(output="An answer written for the benchmark.")],
            is_classification=False,
            source="machine",
        )
        for i, text in enumerate(texts)
    ]


def timed_pipeline(latency_s: float, concurrency: int) -> tuple[SelfInstructPipeline, Clock]:
    clock = Clock()
    llm = TimedFake(latency_s=latency_s)
    llm._clock = clock
    preset = get_preset("faithful")
    index = TimedIndex(clock, preset.rouge_threshold)
    instruction_filter = TimedFilter(
        index=index,
        threshold=preset.rouge_threshold,
        min_words=preset.min_words,
        max_words=preset.max_words,
        clock=clock,
    )
    pipeline = SelfInstructPipeline(
        llm,
        preset=preset,
        max_concurrency=concurrency,
        index=index,
        instruction_filter=instruction_filter,
    )
    return pipeline, clock


async def _drain(pipeline: SelfInstructPipeline, target: int, state: LoopState) -> None:
    async for _ in pipeline.events(target, state):
        pass


@dataclass
class LoopRun:
    """One measured run of the loop."""

    accepted: int
    calls: int
    wall_s: float
    cpu_s: float
    setup_s: float
    clock: Clock
    rounds: int

    @property
    def model_s(self) -> float:
        return sum(end - start for start, end in self.clock.spans)

    def per_task_ms(self, seconds: float) -> float:
        return 1000 * seconds / max(self.accepted, 1)

    def in_flight(self) -> float:
        return self.model_s / self.wall_s

    def steady_rate(self) -> float:
        """Model calls per second started between the 10th and 90th percentile start times."""
        starts = sorted(start for start, _ in self.clock.spans)
        low, high = len(starts) // 10, len(starts) * 9 // 10
        return (high - low) / (starts[high] - starts[low])


def run_loop(pool: list[Task], target: int, latency_s: float, concurrency: int) -> LoopRun:
    pipeline, clock = timed_pipeline(latency_s, concurrency)
    start = time.perf_counter()
    state = pipeline.new_state(pool)
    setup = time.perf_counter() - start
    cpu, start = time.process_time(), time.perf_counter()
    asyncio.run(_drain(pipeline, target, state))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    stats = state.stats
    return LoopRun(stats.accepted, stats.model_calls, wall, cpu, setup, clock, stats.rounds)


def run_with_files(pool: list[Task], target: int, concurrency: int) -> tuple[float, float, float]:
    """(resume seconds, loop seconds, total seconds) through ``run_to_directory``."""
    pipeline, _ = timed_pipeline(0.0, concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        save_tasks(out / "tasks.jsonl", pool)
        start = time.perf_counter()
        resume = RunDirectory(out).prepare(run_settings(pipeline, len(pool) + target))
        pipeline.new_state(resume.tasks)
        resume_s = time.perf_counter() - start
        # A fresh pipeline and index, so the run below resumes from scratch like a new process.
        pipeline, _ = timed_pipeline(0.0, concurrency)
        start = time.perf_counter()
        summary = run_to_directory(pipeline, out, len(pool) + target)
        total = time.perf_counter() - start
        assert summary.stats.accepted == target, summary.stats
    return resume_s, total - resume_s, total


def median_run(runs: list[LoopRun], key: Callable[[LoopRun], float]) -> LoopRun:
    ordered = sorted(runs, key=key)
    return ordered[len(ordered) // 2]


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def bench_overhead(pool_sizes: list[int], target: int, runs: int) -> None:
    print(
        f"\n(1) loop overhead, zero-latency fake, concurrency 8, {target} accepted tasks, "
        f"median of {runs} runs"
    )
    rows: list[tuple[str, ...]] = [
        (
            "pool",
            "setup s",
            "tasks/s",
            "ms/task",
            "model",
            "outside",
            "filter",
            "of which dedup",
            "accept idx",
            "rest",
            "CPU ms/call",
        )
    ]
    for size in pool_sizes:
        pool = synthetic_pool(size) if size else []
        measured = [run_loop(pool, target, 0.0, 8) for _ in range(runs)]
        run = median_run(measured, lambda r: r.wall_s)
        c = run.clock
        outside = run.wall_s - run.model_s
        rest = outside - c.get("filter") - c.get("accept_index")
        rows.append(
            (
                f"{size + 175:,}",
                f"{run.setup_s:.2f}",
                f"{run.accepted / run.wall_s:.0f}",
                f"{run.per_task_ms(run.wall_s):.2f}",
                f"{run.per_task_ms(run.model_s):.2f}",
                f"{run.per_task_ms(outside):.2f}",
                f"{run.per_task_ms(c.get('filter')):.2f}",
                f"{run.per_task_ms(c.get('filter_dedup')):.2f}",
                f"{run.per_task_ms(c.get('accept_index')):.2f}",
                f"{run.per_task_ms(rest):.2f}",
                f"{1000 * run.cpu_s / run.calls:.2f}",
            )
        )
    print(table(rows))
    print(
        "(ms columns are per accepted task; 'outside' = wall - time inside the fake model; "
        "pool = seeds + pre-filled machine tasks)"
    )
    size = pool_sizes[-1]
    pool = synthetic_pool(size)
    files = sorted((run_with_files(pool, target, 8) for _ in range(runs)), key=lambda r: r[2])
    resume_s, loop_s, total_s = files[len(files) // 2]
    print(
        f"through run_to_directory at {size + 175:,}: resume (read {size:,} lines + index) "
        f"{resume_s:.2f} s, loop {loop_s:.2f} s = {target / loop_s:.0f} tasks/s "
        f"({1000 * loop_s / target:.2f} ms/task incl. fsync), total {total_s:.2f} s"
    )


def bench_throughput(latency_s: float, concurrency: int, target: int, runs: int) -> LoopRun:
    measured = [run_loop([], target, latency_s, concurrency) for _ in range(runs)]
    return median_run(measured, lambda r: r.calls / r.wall_s)


def throughput_rows(cases: list[tuple[float, int, int, int]]) -> None:
    rows: list[tuple[str, ...]] = [
        (
            "latency",
            "conc",
            "target",
            "calls",
            "rounds",
            "wall s",
            "calls/s",
            "ideal",
            "ratio",
            "steady",
            "in flight",
            "CPU ms/call",
            "CPU ceiling",
        )
    ]
    for latency, concurrency, target, runs in cases:
        run = bench_throughput(latency, concurrency, target, runs)
        ideal = concurrency / latency
        cpu_per_call = run.cpu_s / run.calls
        rows.append(
            (
                f"{latency * 1000:.0f} ms",
                str(concurrency),
                str(target),
                str(run.calls),
                str(run.rounds),
                f"{run.wall_s:.2f}",
                f"{run.calls / run.wall_s:.0f}",
                f"{ideal:.0f}",
                f"{run.calls / run.wall_s / ideal:.0%}",
                f"{run.steady_rate() / ideal:.0%}",
                f"{run.in_flight():.1f}",
                f"{1000 * cpu_per_call:.2f}",
                f"{1 / cpu_per_call:.0f}/s",
            )
        )
    print(table(rows))
    print(
        "(ratio = measured calls/s over concurrency/latency; steady = the same for calls started "
        "between the 10th and 90th percentile start times; in flight = mean model calls in "
        "flight; CPU ceiling = calls/s one core sustains at this CPU per call)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small pool and targets")
    parser.add_argument("--runs", type=int, default=3, help="runs per row (median)")
    parser.add_argument("--only", choices=["overhead", "throughput"], help="run one part only")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    pool_sizes = [0, 5_000] if args.quick else [0, 52_000]
    if args.only != "throughput":
        bench_overhead(pool_sizes, 100 if args.quick else 300, runs)
    if args.only == "overhead":
        return
    target = 100 if args.quick else 500
    print(f"\n(2) throughput, 50 ms fake model, median of {runs} runs by calls/s")
    cases = [(0.05, 32, target, runs)]
    if not args.quick:
        # Concurrency 8 (the CLI default) needs less CPU per second; 0.5 s makes CPU negligible.
        cases += [(0.05, 8, target, runs), (0.5, 32, 150, 1)]
    throughput_rows(cases)


if __name__ == "__main__":
    main()
