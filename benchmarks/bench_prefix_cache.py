"""Embedded model: classify + generate instances with and without the prefix-state cache.

Each variant runs in its own process (the loaded model is shared per process), on the same seed
tasks with the "fast" preset, and reports wall time, CPU time and peak RSS.

    python benchmarks/bench_prefix_cache.py --tasks 8 --runs 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import time


def _one(variant: str, num_tasks: int) -> dict[str, float]:
    from langchain_core.exceptions import OutputParserException

    from langchain_selfinstruct import (
        ClassificationIdentifier,
        InstanceGenerator,
        load_embedded_model,
        load_seed_tasks,
    )
    from langchain_selfinstruct.llama_handles import _HANDLES

    llm = load_embedded_model()
    if variant == "no cache":
        for handle in _HANDLES.values():
            for client in handle.clients:
                client.set_cache(None)
    classify = ClassificationIdentifier(llm, preset="fast")
    instances = InstanceGenerator(llm, preset="fast")
    wall, cpu = time.perf_counter(), time.process_time()
    for task in load_seed_tasks()[:num_tasks]:
        try:
            label = classify.invoke(task.instruction)
        except OutputParserException:
            label = False
        with contextlib.suppress(OutputParserException):
            instances.invoke(task.model_copy(update={"is_classification": label}))
    return {
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one(args.child, args.tasks)))
        return
    rows = []
    for variant in ("no cache", "prefix cache"):
        runs = [
            json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--tasks", str(args.tasks), "--child", variant],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            for _ in range(args.runs)
        ]
        rows.append((variant, *(statistics.median(r[k] for r in runs) for k in runs[0])))
    print(f"{'variant':<14} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}")
    for variant, wall, cpu, rss in rows:
        print(f"{variant:<14} {wall:>8.1f} {cpu:>8.1f} {rss:>12.0f}")
    print(f"CPU ratio (no cache / cache): {rows[0][2] / rows[1][2]:.2f}x")


if __name__ == "__main__":
    main()
