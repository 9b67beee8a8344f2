"""``selfinstruct eval answer``: collect one model's replies to every evaluation item.

Replies are appended to ``DIR/answers.jsonl`` as they arrive, up to ``concurrency`` calls at once;
a rerun skips every item the model answered and tries the failed ones again, so a killed run
loses at most the calls in flight and never answers an item twice.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable

from langchain_selfinstruct.evaluation._jobs import Counts, error_text, run_jobs
from langchain_selfinstruct.evaluation.answerer import ANSWER_SAMPLING, ResponseAnswerer
from langchain_selfinstruct.evaluation.directory import open_eval_dir
from langchain_selfinstruct.evaluation.store import ANSWERS_FILE, AnswerRecord, read_records
from langchain_selfinstruct.evaluation.tasks import EvalItem
from langchain_selfinstruct.models import model_secrets

__all__ = ["MAX_RESPONSE_CHARS", "answer_run", "latest_answers"]

MAX_RESPONSE_CHARS = 65_536
"""A longer reply is cut (and marked ``truncated``): a runaway generation, not an answer."""


def latest_answers(out_dir: str | os.PathLike[str]) -> dict[tuple[str, str, int], AnswerRecord]:
    """``(model, task id, instance index)`` -> the answered record of each item."""
    records = read_records(Path(out_dir) / ANSWERS_FILE, AnswerRecord)
    return {r.key: r for r in records if r.status == "answered"}


def answer_run(
    out_dir: str | os.PathLike[str],
    llm: Runnable[Any, Any],
    model: str,
    *,
    tasks: str | os.PathLike[str] | None = None,
    concurrency: int = 8,
    limit: int | None = None,
    max_tokens: int | None = None,
) -> Counts:
    """Ask ``llm`` every item of the directory's task set, resuming ``answers.jsonl``.

    Args:
        out_dir: The evaluation directory (created on first use).
        llm: The model to evaluate.
        model: Its name in the records (the ``--model`` value).
        tasks: The task file; ``None``: the directory's, or the project's own set.
        concurrency: Model calls at once.
        limit: Answer only the first ``limit`` items (a smaller, documented subset).
        max_tokens: Cap on each reply's tokens; default :data:`ANSWER_SAMPLING`'s.

    Returns:
        What this call did; ``failed`` items are tried again by the next call.

    Raises:
        ValueError: The directory holds another task set, or a file is not valid.
    """
    items = open_eval_dir(out_dir, tasks)[:limit]
    counts = Counts(Path(out_dir) / ANSWERS_FILE, total=len(items))
    done = latest_answers(out_dir)
    todo = [item for item in items if (model, item.task_id, item.instance_index) not in done]
    counts.skipped = len(items) - len(todo)
    sampling = ANSWER_SAMPLING
    if max_tokens is not None:
        sampling = sampling.model_copy(
            update={"max_tokens": max_tokens, "chat_max_tokens": max_tokens}
        )
    answerer = ResponseAnswerer(llm, sampling=sampling)
    secrets = model_secrets(llm)

    def job(item: EvalItem) -> Callable[[], Awaitable[AnswerRecord]]:
        return lambda: _answer_one(answerer, model, item, secrets)

    return run_jobs(counts, [job(i) for i in todo], lambda r: r.status == "failed", concurrency)


async def _answer_one(
    answerer: ResponseAnswerer, model: str, item: EvalItem, secrets: tuple[str, ...]
) -> AnswerRecord:
    base: dict[str, Any] = {
        "model": model,
        "task_id": item.task_id,
        "instance_index": item.instance_index,
    }
    try:
        answer = await answerer.ainvoke(item)
    except Exception as e:
        return AnswerRecord(status="failed", error=error_text(e, secrets), **base)
    text = answer.text
    return AnswerRecord(
        status="answered",
        response=text[:MAX_RESPONSE_CHARS],
        truncated=len(text) > MAX_RESPONSE_CHARS,
        usage=answer.usage,
        **base,
    )
