"""``selfinstruct review``: the paper's Table 2 review of a run, by one or two judges.

The sample is the paper's protocol: ``sample`` tasks (200 in the paper) and one instance of each,
both chosen by the seed with :func:`~langchain_selfinstruct.judges.seeded_sample` and
:func:`~langchain_selfinstruct.judges.seeded_index`, so the same seed reviews the same items
whatever the concurrency, and a larger sample extends a smaller one. Each ``(judge, task)`` is
reviewed once: verdicts are appended to ``review.jsonl`` as they arrive, and a rerun skips what
is there (failed items are tried again). Up to ``concurrency`` judge calls run at once.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable

from langchain_selfinstruct._sync import iterate_in_thread
from langchain_selfinstruct.export import load_run_tasks
from langchain_selfinstruct.judges import (
    REVIEW_QUESTIONS,
    TaskReviewer,
    seeded_index,
    seeded_sample,
)
from langchain_selfinstruct.models import model_secrets
from langchain_selfinstruct.quality.review_store import (
    REVIEW_FILE,
    ReviewLog,
    ReviewRecord,
    read_reviews,
)
from langchain_selfinstruct.schema import Task

__all__ = ["PAPER_SAMPLE", "ReviewSummary", "review_items", "review_run"]

PAPER_SAMPLE = 200
"""Instructions the paper's authors reviewed (§3, Table 2)."""
_MAX_ERROR_CHARS = 300


@dataclass
class ReviewSummary:
    """What one ``review`` call did."""

    path: Path
    """The ``review.jsonl``."""
    sampled: int
    """Items in the sample (tasks with at least one instance)."""
    reviewed: Counter[str] = field(default_factory=Counter)
    """Items reviewed in this call, by judge."""
    skipped: int = 0
    """Items already reviewed by an earlier call."""
    failed: Counter[str] = field(default_factory=Counter)
    """Items whose judge call failed after its retries, by judge (tried again next time)."""


def review_items(tasks: list[Task], sample: int, seed: int) -> list[tuple[Task, int]]:
    """The paper's sample: ``sample`` tasks, each with the index of the one instance to review.

    Tasks without instances cannot be reviewed and are left out.
    """
    chosen = seeded_sample([t for t in tasks if t.instances], sample, seed, key=lambda t: t.id)
    return [(task, seeded_index(task.id, len(task.instances), seed)) for task in chosen]


def review_run(
    run_dir: str | os.PathLike[str],
    judges: Mapping[str, Runnable[Any, Any]],
    *,
    sample: int = PAPER_SAMPLE,
    seed: int = 0,
    concurrency: int = 8,
) -> ReviewSummary:
    """Review a sample of a run with each judge, resuming ``review.jsonl``.

    Args:
        run_dir: The run directory.
        judges: Judge label (the ``--judge`` name) -> model.
        sample: Tasks to review (paper: 200).
        seed: Chooses the tasks and their instance; recorded on every line.
        concurrency: Judge calls at once.

    Returns:
        The counts of this call. Ctrl-C stops after the calls in flight; what was reviewed is
        on disk.

    Raises:
        ValueError: No judge, or ``review.jsonl`` holds a review with another seed.
        FileNotFoundError: No run there.
        langchain_selfinstruct.schema.TaskFileError: A run or review file is corrupt.
    """
    summary: list[ReviewSummary] = []
    events = iterate_in_thread(
        lambda stop: _review(Path(run_dir), judges, sample, seed, concurrency, stop, summary)
    )
    try:
        for _ in events:
            pass
    except KeyboardInterrupt:
        if not summary:
            raise
    return summary[0]


async def _review(
    run_dir: Path,
    judges: Mapping[str, Runnable[Any, Any]],
    sample: int,
    seed: int,
    concurrency: int,
    stop: threading.Event,
    out: list[ReviewSummary],
) -> AsyncIterator[ReviewRecord]:
    if not judges:
        raise ValueError("give at least one judge")
    path = run_dir / REVIEW_FILE
    existing = read_reviews(path)
    if other := sorted({r.seed for r in existing} - {seed}):
        raise ValueError(
            f"{path}: holds a review with seed {other[0]}; pass --seed {other[0]} to extend it, "
            "or move the file away for a new sample"
        )
    done = {r.key for r in existing if r.status == "reviewed"}
    items = review_items(load_run_tasks(run_dir), sample, seed)
    jobs = [(j, *item) for j in judges for item in items if (j, item[0].id) not in done]
    summary = ReviewSummary(path, len(items), skipped=len(items) * len(judges) - len(jobs))
    out.append(summary)
    reviewers = {label: TaskReviewer(llm) for label, llm in judges.items()}
    secrets = {label: model_secrets(llm) for label, llm in judges.items()}
    gate = asyncio.Semaphore(concurrency)

    async def judge(label: str, task: Task, index: int) -> ReviewRecord:
        async with gate:
            if stop.is_set():
                raise asyncio.CancelledError
            return await _judge_one(label, reviewers[label], task, index, seed, secrets[label])

    running = [asyncio.ensure_future(judge(*job)) for job in jobs]
    try:
        with ReviewLog(path) as log:
            for next_done in asyncio.as_completed(running):
                try:
                    record = await next_done
                except asyncio.CancelledError:
                    continue
                log.append(record)
                counter = summary.reviewed if record.status == "reviewed" else summary.failed
                counter[record.judge] += 1
                yield record
    finally:
        for future in running:
            future.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _judge_one(
    label: str, reviewer: TaskReviewer, task: Task, index: int, seed: int, secrets: tuple[str, ...]
) -> ReviewRecord:
    instance = task.instances[index]
    base: dict[str, Any] = {
        "judge": label,
        "task_id": task.id,
        "instance_index": index,
        "seed": seed,
        "instruction": task.instruction,
        "input": instance.input,
        "output": instance.output,
    }
    try:
        review = await reviewer.ainvoke(task.model_copy(update={"instances": [instance]}))
    except Exception as e:
        message = (str(e).splitlines() or [type(e).__name__])[0]
        for secret in secrets:
            message = message.replace(secret, "[redacted]")
        return ReviewRecord(status="failed", error=message[:_MAX_ERROR_CHARS], **base)
    answer = review.instances[0]
    verdicts = {question: answer.verdict(question) for question in REVIEW_QUESTIONS}
    return ReviewRecord(status="reviewed", verdicts=verdicts, usage=answer.usage, **base)
