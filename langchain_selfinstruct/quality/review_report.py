"""The numbers of the report's review section: this run's Table 2 next to the paper's.

Per judge and question: the share answering "yes" with its 95% Wilson interval, beside the
paper's 92 / 79 / 58% (Wang et al., 2022, Table 2); a few example failures per question; and,
when two judges reviewed the same items, Cohen's kappa per question, so a reader sees how far
to trust the numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from langchain_selfinstruct.judges import REVIEW_QUESTIONS, cohen_kappa, wilson_interval
from langchain_selfinstruct.presets import PAPER_TABLE2
from langchain_selfinstruct.quality.review_store import ReviewRecord

__all__ = ["review_numbers"]

_EXAMPLE_CHARS = 200


def review_numbers(records: Sequence[ReviewRecord], examples: int = 3) -> dict[str, Any] | None:
    """Summarise ``review.jsonl``; ``None`` when it holds no verdict.

    Args:
        records: The file's records, in file order.
        examples: Failures shown per question (the first judge's, in file order).

    Returns:
        ``judges`` (per judge: items, failures still unreviewed, per question ``yes``, ``n``,
        ``share``, ``ci_low``, ``ci_high``, ``paper``; token usage), ``examples`` and
        ``agreement`` (per question kappa between the first two judges, on the items both
        reviewed; ``None`` with one judge).
    """
    reviewed: dict[tuple[str, str], ReviewRecord] = {}
    failed: set[tuple[str, str]] = set()
    for record in records:
        if record.status == "reviewed":
            reviewed.setdefault(record.key, record)
        else:
            failed.add(record.key)
    if not reviewed:
        return None
    judges = list(dict.fromkeys(judge for judge, _ in reviewed))
    by_judge = {j: [r for (k, _), r in reviewed.items() if k == j] for j in judges}
    return {
        "seed": next(iter(reviewed.values())).seed,
        "judges": {
            judge: _judge_numbers(
                items, len({k for k in failed if k[0] == judge} - reviewed.keys())
            )
            for judge, items in by_judge.items()
        },
        "examples": _examples(by_judge[judges[0]], examples),
        "agreement": _agreement(by_judge[judges[0]], by_judge[judges[1]])
        if len(judges) > 1
        else None,
        "agreement_judges": judges[:2] if len(judges) > 1 else None,
    }


def _yes(record: ReviewRecord, question: str) -> bool:
    return record.verdicts is not None and record.verdicts[question].verdict == "yes"


def _judge_numbers(items: list[ReviewRecord], unreviewed: int) -> dict[str, Any]:
    questions = {}
    for question in REVIEW_QUESTIONS:
        yes = sum(_yes(r, question) for r in items)
        low, high = wilson_interval(yes, len(items))
        questions[question] = {
            "yes": yes,
            "n": len(items),
            "share": round(yes / len(items), 4),
            "ci_low": round(low, 4),
            "ci_high": round(high, 4),
            "paper": PAPER_TABLE2[question],
        }
    usage: Counter[str] = Counter()
    for record in items:
        if record.usage is not None:
            usage.update(record.usage.model_dump())
    return {"items": len(items), "failed": unreviewed, "questions": questions, "usage": dict(usage)}


def _examples(items: list[ReviewRecord], limit: int) -> dict[str, list[dict[str, str]]]:
    shown: dict[str, list[dict[str, str]]] = {}
    for question in REVIEW_QUESTIONS:
        failures = [r for r in items if not _yes(r, question)][:limit]
        shown[question] = [
            {
                "task_id": r.task_id,
                "instruction": r.instruction[:_EXAMPLE_CHARS],
                "input": r.input[:_EXAMPLE_CHARS],
                "output": r.output[:_EXAMPLE_CHARS],
                "rationale": r.verdicts[question].rationale if r.verdicts else "",
            }
            for r in failures
        ]
    return shown


def _agreement(first: list[ReviewRecord], second: list[ReviewRecord]) -> dict[str, Any]:
    theirs = {r.task_id: r for r in second}
    pairs = [(r, theirs[r.task_id]) for r in first if r.task_id in theirs]
    numbers: dict[str, Any] = {}
    for question in REVIEW_QUESTIONS:
        a = [_yes(x, question) for x, _ in pairs]
        b = [_yes(y, question) for _, y in pairs]
        kappa = cohen_kappa(a, b)
        agree = sum(x == y for x, y in zip(a, b, strict=True))
        numbers[question] = {
            "n": len(pairs),
            "observed": round(agree / len(pairs), 4) if pairs else None,
            "kappa": None if kappa is None else round(kappa, 4),
        }
    return numbers
