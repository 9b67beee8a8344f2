"""``selfinstruct eval grade``: every reply of every model graded A-D by each judge, blind.

The judge sees the task, the reference and one reply, never the model's name (the paper's
raters saw the models' responses anonymised and in random order, §4.4). The replies are graded
in an order fixed by a hash of the recorded seed and each reply's key
(:func:`~langchain_selfinstruct.judges.seeded_sample`), so models are interleaved and the order
does not depend on concurrency or on resuming. Grades are appended to ``DIR/grades.jsonl``;
each ``(judge, model, item)`` is graded once (failed ones again on the next call).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable

from langchain_selfinstruct.evaluation._jobs import Counts, error_text, run_jobs
from langchain_selfinstruct.evaluation.answer_run import latest_answers
from langchain_selfinstruct.evaluation.directory import load_eval_dir
from langchain_selfinstruct.evaluation.grader import GradeRequest, ResponseGrader
from langchain_selfinstruct.evaluation.store import (
    GRADES_FILE,
    AnswerRecord,
    GradeRecord,
    read_records,
)
from langchain_selfinstruct.evaluation.tasks import EvalItem
from langchain_selfinstruct.judges import seeded_sample
from langchain_selfinstruct.models import model_secrets

__all__ = ["grade_run"]


def grade_run(
    out_dir: str | os.PathLike[str],
    judges: Mapping[str, Runnable[Any, Any]],
    *,
    seed: int = 0,
    concurrency: int = 8,
) -> Counts:
    """Grade every answered reply in ``out_dir`` with each judge, resuming ``grades.jsonl``.

    Args:
        out_dir: An evaluation directory with answers.
        judges: Judge name (the ``--judge`` value) -> model.
        seed: Fixes the grading order; recorded on every line.
        concurrency: Judge calls at once.

    Raises:
        ValueError: No judge, no answers, or ``grades.jsonl`` holds this judge's grades under
            another seed.
    """
    if not judges:
        raise ValueError("give at least one judge")
    items = {(i.task_id, i.instance_index): i for i in load_eval_dir(out_dir)}
    answers = [a for a in latest_answers(out_dir).values() if a.item in items]
    if not answers:
        raise ValueError(f"{out_dir}: no answers yet; run `selfinstruct eval answer` first")
    path = Path(out_dir) / GRADES_FILE
    existing = read_records(path, GradeRecord)
    for judge in judges:
        if other := sorted({r.seed for r in existing if r.judge == judge} - {seed}):
            raise ValueError(
                f"{path}: {judge} graded with seed {other[0]}; pass --seed {other[0]} to resume"
            )
    done = {r.key for r in existing if r.status == "graded"}
    wanted = [(j, a) for j in judges for a in answers]
    todo = [(j, a) for j, a in wanted if (j, a.model, *a.item) not in done]
    ordered = seeded_sample(todo, len(todo), seed, key=lambda job: f"{job[0]}|{_key(job[1])}")
    counts = Counts(path, total=len(wanted), skipped=len(wanted) - len(todo))
    graders = {name: ResponseGrader(llm) for name, llm in judges.items()}
    secrets = {name: model_secrets(llm) for name, llm in judges.items()}

    def job(judge: str, answer: AnswerRecord) -> Callable[[], Awaitable[GradeRecord]]:
        item = items[answer.item]
        return lambda: _grade_one(graders[judge], judge, item, answer, seed, secrets[judge])

    jobs = [job(j, a) for j, a in ordered]
    return run_jobs(counts, jobs, lambda r: r.status == "failed", concurrency)


def _key(answer: AnswerRecord) -> str:
    return f"{answer.model}|{answer.task_id}|{answer.instance_index}"


async def _grade_one(
    grader: ResponseGrader,
    judge: str,
    item: EvalItem,
    answer: AnswerRecord,
    seed: int,
    secrets: tuple[str, ...],
) -> GradeRecord:
    base: dict[str, Any] = {
        "judge": judge,
        "model": answer.model,
        "task_id": item.task_id,
        "instance_index": item.instance_index,
        "seed": seed,
    }
    try:
        grade = await grader.ainvoke(GradeRequest.of(item, answer.response))
    except Exception as e:
        return GradeRecord(status="failed", error=error_text(e, secrets), **base)
    return GradeRecord(
        status="graded",
        grade=grade.grade,
        rationale=grade.rationale,
        usage=grade.usage,
        **base,
    )
