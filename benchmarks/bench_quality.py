"""Benchmarks of the data-quality work: --curate's cost and effect, and --exclude at 100,000 texts.

1. Curation on the fake model: the same run with and without ``--curate`` (the judge is a second
   fake with its own seed). Reported: judge calls per accepted task, the share of instances kept
   (instances on accepted tasks over those plus the instances rejected one by one), the share of
   candidates accepted, and wall time.
2. The same on the embedded SmolLM2-135M model (generator and judge), at most 10 tasks.
3. Decontamination against 100,000 excluded texts (the dedup benchmarks' corpus): build time and
   time per checked instruction, ROUGE-L and 13-gram rules together.

Usage: ``python benchmarks/bench_quality.py [--tasks 50] [--embedded-tasks 5] [--skip-embedded]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_dedup_corpus import generate_corpus

from langchain_selfinstruct import (
    CurationRule,
    Decontaminator,
    FakeSelfInstructLLM,
    SelfInstructPipeline,
    TaskReviewer,
)
from langchain_selfinstruct.stats import RunStats


def _instance_share(stats: RunStats) -> float:
    dropped = sum(n for reason, n in stats.rejected.items() if reason.startswith("instance:"))
    total = stats.instances_kept + dropped
    return stats.instances_kept / total if total else 0.0


def _row(label: str, stats: RunStats, judge_calls: int, seconds: float) -> dict[str, Any]:
    candidates = stats.accepted + stats.rejected.get("task:no_valid_instances", 0)
    candidates += stats.rejected.get("task:conflicting_outputs", 0)
    return {
        "run": label,
        "accepted": stats.accepted,
        "judge calls / accepted task": judge_calls / stats.accepted if stats.accepted else 0.0,
        "instances kept": f"{_instance_share(stats):.1%}",
        "candidates accepted": f"{stats.accepted / candidates:.1%}" if candidates else "n/a",
        "model calls": stats.model_calls,
        "wall s": round(seconds, 2),
    }


def curation(
    llm: Any, judge: Any, tasks: int, label: str, calls: Any, preset: str = "faithful"
) -> list[dict[str, Any]]:
    rows = []
    for curate in (False, True):
        rule = CurationRule(TaskReviewer(judge)) if curate else None
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            before = calls()
            pipeline = SelfInstructPipeline(
                llm, seed=0, max_concurrency=4, judged_rule=rule, preset=preset
            )
            summary = pipeline.run(out, tasks)
            seconds = time.perf_counter() - start
            rows.append(
                _row(
                    f"{label}{' --curate' if curate else ''}",
                    summary.stats,
                    calls() - before,
                    seconds,
                )
            )
    return rows


def decontamination(n: int, checks: int) -> dict[str, Any]:
    corpus = generate_corpus(n + checks, seed=0)
    texts = list(corpus.texts)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "excluded.txt"
        path.write_text("\n".join(texts[:n]) + "\n", encoding="utf-8")
        start = time.perf_counter()
        rule = Decontaminator([path])
        built = time.perf_counter() - start
    candidates = texts[n:]
    start = time.perf_counter()
    hits = rule.check(candidates)
    checked = time.perf_counter() - start
    return {
        "excluded texts": len(rule),
        "build s": round(built, 2),
        "checked": len(candidates),
        "flagged": sum(hit is not None for hit in hits),
        "by n-gram": sum(hit is not None and hit.detail["rule"] == "ngram" for hit in hits),
        "per check ms": round(checked / len(candidates) * 1000, 3),
    }


def _print(rows: list[dict[str, Any]]) -> None:
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[k]) for k in keys) + " |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--embedded-tasks", type=int, default=5)
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--excluded", type=int, default=100_000)
    args = parser.parse_args()

    judge = FakeSelfInstructLLM(seed=9)
    rows = curation(
        FakeSelfInstructLLM(seed=1), judge, args.tasks, "fake", lambda: judge._calls.total()
    )
    _print(rows)  # printed as soon as measured: the embedded rows take minutes
    if not args.skip_embedded:
        from langchain_selfinstruct import load_embedded_model
        from langchain_selfinstruct.stats import UsageTracker

        llm = load_embedded_model("completion")
        counter = UsageTracker()
        judge_llm = llm.model_copy(update={"callbacks": [counter]})
        embedded = curation(
            llm, judge_llm, args.embedded_tasks, "embedded", lambda: counter.calls, preset="fast"
        )
        _print(embedded)
    print()
    _print([decontamination(args.excluded, 1_000)])


if __name__ == "__main__":
    main()
