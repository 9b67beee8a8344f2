"""Scaling out the loop: its model work on Ray replicas (issue 16), one section per function.

1. ``ray_fake``: a 50 ms ``FakeSelfInstructLLM`` at concurrency 32, in process against Ray with
   1 and 2 replicas, as model calls/s and as a share of the ideal (concurrency / latency), with
   the driver's CPU per model call. The replicas' start (Ray workers importing the package and
   building their model) is timed apart and left out of the rate.
2. ``ray_embedded``: the embedded SmolLM2 model, 30 tasks, ``fast`` preset, concurrency 8, in
   process (its default layout: two llama.cpp copies sharing the cores) against Ray with 2
   single-thread replicas.
3. ``on_paper``: with the driver's measured CPU per unit on Ray, how many replicas one driver
   can feed, and the pool size where the central dedup (``benchmarks/README.md``'s numbers)
   costs more per candidate than that.

Ray runs on a local cluster started here (``address="local"``, 2 CPUs, no dashboard).

Usage: ``python benchmarks/bench_scale.py [--runs 3] [--only ray_fake|ray_embedded|on_paper]``
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
from langchain_selfinstruct.loop import Accepted, InProcessExecutor, WorkUnit
from langchain_selfinstruct.loop.ray_executor import RayExecutor
from langchain_selfinstruct.presets import get_preset
from langchain_selfinstruct.ray_replicas import RayReplicas, StepsRecipe
from langchain_selfinstruct.stats import UsageTracker

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
        self: RayReplicas, steps: StepsRecipe, config: Any, usage: UsageTracker, *, expected: str
    ) -> RayExecutor:
        wall, cpu = time.perf_counter(), time.process_time()
        executor = await start(self, steps, config, usage, expected=expected)
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


def ray_embedded(runs: int, target: int = 30) -> list[Measured]:
    _ray_init()
    from langchain_selfinstruct.models import resolve_model

    preset = get_preset("fast")
    options = RayReplicas(model="embedded", replicas=2, replica_cpus=1)
    rows = []
    for _ in range(runs):
        local = SelfInstructPipeline(resolve_model("embedded"), preset=preset, max_concurrency=8)
        rows.append(measure("in process (2 llama.cpp copies)", local, target))
        on_ray = SelfInstructPipeline(
            options.driver_model(), ray=options, preset=preset, max_concurrency=8
        )
        rows.append(measure("Ray, 2 single-thread replicas", on_ray, target))
    print(f"\nembedded SmolLM2, fast preset, {target} tasks, concurrency 8")
    print("| executor | wall s | tasks/s | model calls | calls/s | replica start s |")
    for m in rows:
        print(
            f"| {m.label} | {m.wall_s:.1f} | {m.accepted / m.wall_s:.2f} | {m.calls} | "
            f"{m.rate:.1f} | {m.start_s:.1f} |"
        )
    return rows


# From benchmarks/README.md, "Near-duplicate index", exact mode: 52,000 texts checked one by one
# against all kept before them (so ~17,000 kept on average), decisions plus top-10 and mean
# ROUGE-L for every kept text: 147.3 s, 2,832 us per candidate. Both scale with the pool.
_EXACT_US_PER_CANDIDATE, _EXACT_MEAN_POOL = 2832.0, 17_000
_FAISS_DECISIONS_PER_S_AT_1M = 5838.0  # FAISS mode, 1M pool, decisions only


def on_paper(runs: int, measured: list[Measured] | None = None) -> None:
    if measured is None:
        measured = ray_fake(runs, target=300)
    ray_rows = [m for m in measured if m.label.startswith("Ray")]
    per_unit_s = statistics.median(m.driver_cpu_s / m.units for m in ray_rows)
    checked_per_unit = statistics.median(m.generated / m.units for m in ray_rows)
    feed = 1 / per_unit_s
    print("\nOn paper: what one driver core can feed")
    print(
        f"- driver CPU per unit on Ray (pool ~175 + run): {1000 * per_unit_s:.2f} ms; "
        f"{checked_per_unit:.2f} instructions dedup-checked per unit"
    )
    print(f"  -> about {feed:,.0f} units/s per driver core, before dedup grows with the pool")
    for label, per_replica in (
        ("a vLLM-class server replica: 64 units in flight at ~1 s each", 64.0),
        ("a hosted API replica: 32 in flight at ~2 s each", 16.0),
        ("one single-thread embedded SmolLM2 replica (measured below)", 0.5),
    ):
        print(f"- {label}: {per_replica:g} units/s -> {feed / per_replica:,.0f} replicas")
    us_per_pool_text = _EXACT_US_PER_CANDIDATE / _EXACT_MEAN_POOL
    crossover = per_unit_s * 1e6 / (checked_per_unit * us_per_pool_text)
    print(
        f"- central dedup, exact mode: ~{us_per_pool_text * 1000:.0f} ns per pool text per "
        f"checked instruction; it costs as much as the rest of a unit at a pool of "
        f"~{crossover:,.0f}"
    )
    for pool in (10_000, 52_000, 200_000, 1_000_000):
        unit_s = per_unit_s + checked_per_unit * us_per_pool_text * pool / 1e6
        print(f"  pool {pool:>9,}: {1000 * unit_s:7.2f} ms per unit -> {1 / unit_s:8,.0f} units/s")
    print(
        f"- FAISS mode at 1M decides {_FAISS_DECISIONS_PER_S_AT_1M:,.0f} instructions/s -> "
        f"{_FAISS_DECISIONS_PER_S_AT_1M / checked_per_unit:,.0f} units/s (decisions only)"
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
        ray_embedded(1)
    if args.only in (None, "on_paper"):
        on_paper(args.runs, fake_rows)
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
