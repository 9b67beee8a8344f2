"""``selfinstruct eval compare``: each model against a baseline, item by item, in both orders.

For every item both models answered, a :class:`~langchain_selfinstruct.evaluation.PairwiseJudge`
compares the two replies in both orders (an inconsistent pair is a tie, and counted). Which reply
is shown first in the first call is fixed by the recorded seed and the pair's key
(:func:`~langchain_selfinstruct.judges.shuffle_positions`). Verdicts are appended to
``DIR/pairs.jsonl``; each ``(judge, baseline, model, item)`` is judged once.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import Runnable

from langchain_selfinstruct.evaluation._jobs import Counts, error_text, run_jobs
from langchain_selfinstruct.evaluation.answer_run import latest_answers
from langchain_selfinstruct.evaluation.directory import load_eval_dir
from langchain_selfinstruct.evaluation.pairwise import PairRequest, PairwiseJudge
from langchain_selfinstruct.evaluation.store import (
    PAIRS_FILE,
    AnswerRecord,
    PairRecord,
    read_records,
)
from langchain_selfinstruct.evaluation.tasks import EvalItem
from langchain_selfinstruct.judges import shuffle_positions
from langchain_selfinstruct.models import model_secrets

__all__ = ["compare_run"]

_OUTCOME: dict[str, Literal["win", "tie", "loss"]] = {"a": "win", "b": "loss", "tie": "tie"}
"""Reply ``a`` is always the model's; the positions decide only what the judge sees first."""


def compare_run(
    out_dir: str | os.PathLike[str],
    judges: Mapping[str, Runnable[Any, Any]],
    baseline: str,
    *,
    seed: int = 0,
    concurrency: int = 8,
) -> Counts:
    """Compare every other model with ``baseline``, resuming ``pairs.jsonl``.

    Raises:
        ValueError: No judge, the baseline has no answers, or no other model has.
    """
    if not judges:
        raise ValueError("give at least one judge")
    items = {(i.task_id, i.instance_index): i for i in load_eval_dir(out_dir)}
    answers = latest_answers(out_dir)
    models = sorted({model for model, *_ in answers})
    if baseline not in models:
        raise ValueError(f"{out_dir}: no answers from the baseline {baseline!r}; have {models}")
    others = [m for m in models if m != baseline]
    if not others:
        raise ValueError(f"{out_dir}: only {baseline!r} has answers; nothing to compare with")
    path = Path(out_dir) / PAIRS_FILE
    done = {r.key for r in read_records(path, PairRecord) if r.status == "judged"}
    wanted = [
        (judge, answers[(model, task, index)], answers[(baseline, task, index)])
        for judge in judges
        for model in others
        for task, index in items
        if (model, task, index) in answers and (baseline, task, index) in answers
    ]
    todo = [w for w in wanted if (w[0], baseline, w[1].model, *w[1].item) not in done]
    counts = Counts(path, total=len(wanted), skipped=len(wanted) - len(todo))
    pair_judges = {name: PairwiseJudge(llm) for name, llm in judges.items()}
    secrets = {name: model_secrets(llm) for name, llm in judges.items()}

    def job(
        judge: str, mine: AnswerRecord, base: AnswerRecord
    ) -> Callable[[], Awaitable[PairRecord]]:
        item = items[mine.item]
        return lambda: _judge_one(pair_judges[judge], judge, item, mine, base, seed, secrets[judge])

    jobs = [job(*w) for w in todo]
    return run_jobs(counts, jobs, lambda r: r.status == "failed", concurrency)


async def _judge_one(
    judge: PairwiseJudge,
    name: str,
    item: EvalItem,
    mine: AnswerRecord,
    base: AnswerRecord,
    seed: int,
    secrets: tuple[str, ...],
) -> PairRecord:
    key = f"{item.key}|{base.model}|{mine.model}"
    baseline_first = shuffle_positions(key, 2, seed).order[0] == 1
    first, second = (base, mine) if baseline_first else (mine, base)
    common: dict[str, Any] = {
        "judge": name,
        "baseline": base.model,
        "model": mine.model,
        "task_id": item.task_id,
        "instance_index": item.instance_index,
        "seed": seed,
        "baseline_first": baseline_first,
    }
    request = PairRequest(
        instruction=item.instruction,
        input=item.input,
        reference=item.reference,
        response_a=first.response,
        response_b=second.response,
    )
    try:
        verdict = await judge.ainvoke(request)
    except Exception as e:
        return PairRecord(status="failed", error=error_text(e, secrets), **common)
    outcome = verdict.outcome
    if baseline_first and outcome != "tie":
        outcome = "b" if outcome == "a" else "a"
    return PairRecord(
        status="judged",
        outcome=_OUTCOME[outcome],
        inconsistent=verdict.inconsistent,
        length_model=verdict.length_b if baseline_first else verdict.length_a,
        length_baseline=verdict.length_a if baseline_first else verdict.length_b,
        rationales=verdict.rationales,
        usage=verdict.usage,
        **common,
    )
