"""Scaling out the loop: its model work on Ray replicas (issue 16), one section per function.

1. ``ray_fake``: a 50 ms ``FakeSelfInstructLLM`` at concurrency 32, in process against Ray with
   1 and 2 replicas, as model calls/s and as a share of the ideal (concurrency / latency), with
   the driver's CPU per model call. The replicas' start (Ray workers importing the package and
   building their model) is timed apart and left out of the rate.
2. ``ray_embedded``: the embedded SmolLM2 model, 30 tasks, ``fast`` preset, concurrency 8, in
   process (its default layout: two llama.cpp copies sharing the cores) against Ray with 2
   single-thread replicas.
3. ``on_paper``: with the driver's measured CPU per accepted task on Ray, how many replicas one
   driver core can feed, and the pool size where the central dedup (``benchmarks/README.md``'s
   loop and index numbers) costs more than the rest of the driver's work.

Ray runs on a local cluster started here (``address="local"``, 2 CPUs, no dashboard).

Usage: ``python benchmarks/bench_scale.py [--runs 3] [--only ray_fake|ray_embedded|on_paper]``
(this file holds the Ray sections; ``bench_scale.py`` runs them beside the endpoint one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline
from langchain_selfinstruct.loop import Accepted, Budget, InProcessExecutor, WorkUnit
from langchain_selfinstruct.loop.ray_executor import RayExecutor
from langchain_selfinstruct.presets import get_preset
from langchain_selfinstruct.ray_replicas import RayReplicas, StepsRecipe

LATENCY_S, CONCURRENCY = 0.05, 32


@dataclass
class Measured:
    label: str
    calls: int
    units: int
    wall_s: float
    start_s: float
    driver_cpu_s: float
    accepted: int
    generated: int
    """Instructions the driver's filter checked against the pool."""

    @property
    def rate(self) -> float:
        return self.calls / self.wall_s


_start_times: list[tuple[float, float]] = []
"""(wall, driver CPU) each replica start took, by the wrapper below."""


_submitted = [0]
"""Units submitted to any executor so far."""


def _count_units() -> None:
    for executor in (InProcessExecutor, RayExecutor):
        submit = executor.submit

        def counted(self: Any, unit: WorkUnit, submit: Any = submit) -> None:
            _submitted[0] += 1
            submit(self, unit)

        executor.submit = counted  # type: ignore[method-assign]


_count_units()


def _time_starts() -> None:
    start = RayReplicas.start

    async def timed(
        self: RayReplicas, steps: StepsRecipe, config: Any, budget: Budget, **options: Any
    ) -> RayExecutor:
        wall, cpu = time.perf_counter(), time.process_time()
        executor = await start(self, steps, config, budget, **options)
        _start_times.append((time.perf_counter() - wall, time.process_time() - cpu))
        return executor

    RayReplicas.start = timed  # type: ignore[method-assign]


def _ray_init() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        _time_starts()


def measure(label: str, pipeline: SelfInstructPipeline, target: int) -> Measured:
    async def run() -> tuple[int, int, int, int]:
        state = pipeline.new_state()
        accepted = sum(
            [isinstance(event, Accepted) async for event in pipeline.events(target, state)]
        )
        stats = state.stats
        return (
            stats.model_calls,
            _submitted[0] - units_before,
            accepted,
            stats.generated_instructions,
        )

    units_before = _submitted[0]
    before = len(_start_times)
    wall, cpu = time.perf_counter(), time.process_time()
    calls, units, accepted, generated = asyncio.run(run())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    start_wall, start_cpu = _start_times[-1] if len(_start_times) > before else (0.0, 0.0)
    return Measured(
        label, calls, units, wall - start_wall, start_wall, cpu - start_cpu, accepted, generated
    )


def ray_fake(runs: int, target: int = 500) -> list[Measured]:
    _ray_init()
    ideal = CONCURRENCY / LATENCY_S
    rows: list[Measured] = []
    configs: list[tuple[str, Callable[[], SelfInstructPipeline]]] = [
        (
            "in process",
            lambda: SelfInstructPipeline(
                FakeSelfInstructLLM(latency_s=LATENCY_S), max_concurrency=CONCURRENCY
            ),
        )
    ]
    for replicas in (1, 2):
        options = RayReplicas(model=f"fake:{LATENCY_S}", replicas=replicas, replica_cpus=1)
        configs.append(
            (
                f"Ray, {replicas} replica{'s' if replicas > 1 else ''}",
                lambda o=options: SelfInstructPipeline(  # type: ignore[misc]
                    o.driver_model(), ray=o, max_concurrency=CONCURRENCY
                ),
            )
        )
    # Interleaved, so a burst of load on the shared machine hits every row alike.
    samples: dict[str, list[Measured]] = {label: [] for label, _ in configs}
    for _ in range(runs):
        for label, make in configs:
            samples[label].append(measure(label, make(), target))
    print(f"\n50 ms fake model, concurrency {CONCURRENCY}, target {target}, median of {runs}")
    print(
        "| executor | model calls | wall s | calls/s | share of ideal | runs (calls/s) "
        "| replica start s | driver CPU ms per call |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for label, _ in configs:
        ordered = sorted(samples[label], key=lambda m: m.rate)
        median = ordered[len(ordered) // 2]
        rows.append(median)
        spread = ", ".join(f"{m.rate:.0f}" for m in samples[label])
        print(
            f"| {label} | {median.calls:,} | {median.wall_s:.2f} | {median.rate:.0f} | "
            f"{median.rate / ideal:.0%} | {spread} | {median.start_s:.1f} | "
            f"{1000 * median.driver_cpu_s / median.calls:.2f} |"
        )
    return rows


def _cold_in_process_model() -> None:
    """Forget what the in-process copies evaluated, so each run starts as cold as new replicas.

    The GGUF stays loaded for the process, and with it the copies' shared prefix-state cache and
    their last contexts: without this, the second and later in-process runs resume the few-shot
    headers the first one read, while Ray's replicas are new processes every run.
    """
    from langchain_selfinstruct import llama_handles

    for handle in llama_handles._HANDLES.values():
        for client in handle.clients:
            client.reset()
            if client.cache is not None:
                client.cache.cache_state.clear()


def ray_embedded(runs: int, target: int = 30) -> list[Measured]:
    _ray_init()
    from langchain_selfinstruct.models import resolve_model

    preset = get_preset("fast")
    options = RayReplicas(model="embedded", replicas=2, replica_cpus=1)
    samples: dict[str, list[Measured]] = {}
    configs: list[tuple[str, Callable[[], SelfInstructPipeline]]] = [
        (
            "in process (2 llama.cpp copies)",
            lambda: SelfInstructPipeline(
                resolve_model("embedded"), preset=preset, max_concurrency=8
            ),
        ),
        (
            "Ray, 2 single-thread replicas",
            lambda: SelfInstructPipeline(
                options.driver_model(), ray=options, preset=preset, max_concurrency=8
            ),
        ),
    ]
    for _ in range(runs):  # interleaved, as in ray_fake
        for label, make in configs:
            _cold_in_process_model()
            samples.setdefault(label, []).append(measure(label, make(), target))
    print(f"\nembedded SmolLM2, fast preset, {target} tasks, concurrency 8, median of {runs}")
    print(
        "| executor | wall s | tasks/s | runs (tasks/s) | model calls | calls/s | replica start s |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    rows = []
    for label, measured in samples.items():
        median = sorted(measured, key=lambda m: m.accepted / m.wall_s)[len(measured) // 2]
        rows.append(median)
        spread = ", ".join(f"{m.accepted / m.wall_s:.2f}" for m in measured)
        print(
            f"| {label} | {median.wall_s:.1f} | {median.accepted / median.wall_s:.2f} | {spread} | "
            f"{median.calls} | {median.rate:.1f} | {median.start_s:.1f} |"
        )
    return rows


# From benchmarks/README.md, "Loop" (1): driver milliseconds per accepted task spent on the pool,
# at a pool of 52,175 (seeds + machine): the instruction filter's dedup against the pool, and on
# keep the paper's mean ROUGE-L against the *whole* pool (exact in both index modes: it is
# provenance, never pruned) plus the index add. Both grow about linearly with the pool.
_POOL_MEASURED = 52_175
_FILTER_DEDUP_MS, _KEEP_MS = 3.4, 8.4
# "Near-duplicate index" (2, 3): FAISS mode decides 5,838 candidates/s at a 1M pool.
_FAISS_DECISION_MS_AT_1M = 1000 / 5838


def on_paper(runs: int, measured: list[Measured] | None = None) -> None:
    if measured is None:
        measured = ray_fake(runs, target=300)
    ray_rows = [m for m in measured if m.label.startswith("Ray")]
    per_task_ms = statistics.median(1000 * m.driver_cpu_s / m.accepted for m in ray_rows)
    units_per_task = statistics.median(m.units / m.accepted for m in ray_rows)
    checked_per_task = statistics.median(m.generated / m.accepted for m in ray_rows)
    print("\nOn paper: what one driver core can feed (Ray rows above, pool of 175 seeds)")
    print(
        f"- driver CPU per accepted task: {per_task_ms:.2f} ms ({units_per_task:.2f} units, "
        f"{checked_per_task:.2f} instructions checked) -> {1000 / per_task_ms:,.0f} tasks/s"
    )
    for label, units_per_s in (
        ("a vLLM-class server replica, 64 units in flight at ~1 s", 64.0),
        ("a hosted-API replica, 32 in flight at ~2 s", 16.0),
        ("a single-thread embedded SmolLM2 replica (ray_embedded)", 0.5),
    ):
        tasks_per_s = units_per_s / units_per_task
        print(f"- {label}: {tasks_per_s:.2f} tasks/s -> {1000 / per_task_ms / tasks_per_s:,.0f}")
    pool_ms = (_FILTER_DEDUP_MS + _KEEP_MS) / _POOL_MEASURED
    crossover = per_task_ms / pool_ms
    print(
        f"- central dedup, exact index: ~{1e6 * pool_ms:.0f} ns per pool task per accepted task; "
        f"as much as the rest of the driver's work at a pool of ~{crossover:,.0f}"
    )
    print("| pool | exact: ms per task | tasks/s | FAISS decisions + exact mean: ms | tasks/s |")
    for pool in (10_000, 52_000, 200_000, 1_000_000):
        exact = per_task_ms + pool_ms * pool
        faiss = (
            per_task_ms
            + checked_per_task * _FAISS_DECISION_MS_AT_1M
            + _KEEP_MS * pool / _POOL_MEASURED
        )
        print(
            f"| {pool:,} | {exact:.1f} | {1000 / exact:,.0f} | {faiss:.1f} | {1000 / faiss:,.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["ray_fake", "ray_embedded", "on_paper"])
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    fake_rows = None
    if args.only in (None, "ray_fake"):
        fake_rows = ray_fake(args.runs)
    if args.only in (None, "ray_embedded"):
        ray_embedded(args.runs)
    if args.only in (None, "on_paper"):
        on_paper(args.runs, fake_rows)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
