"""--curate: the review as a judged instance rule; what it drops is exactly what its rejects say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_selfinstruct import (
    CurationRule,
    FakeSelfInstructLLM,
    Instance,
    SelfInstructPipeline,
    Task,
    TaskReviewer,
)
from langchain_selfinstruct.judges import InstanceReview, Verdict, review_rule
from langchain_selfinstruct.steps import CompleteTask, InstanceFilter, RuleHit
from langchain_selfinstruct.steps.judged_rule import apply_judged_rule

YES, NO = Verdict(verdict="yes", rationale="ok"), Verdict(verdict="no", rationale="bad")


def _review(task: Verdict, input_: Verdict, output: Verdict) -> InstanceReview:
    return InstanceReview(
        instance_index=0, valid_task=task, appropriate_input=input_, acceptable_output=output
    )


@pytest.mark.parametrize(
    ("review", "reason"),
    [
        (_review(YES, YES, YES), None),
        (_review(YES, YES, NO), "judge:invalid_output"),
        (_review(YES, NO, NO), "judge:invalid_input"),
        (_review(NO, NO, NO), "judge:invalid_task"),
    ],
)
def test_the_first_failed_question_is_the_reason(
    review: InstanceReview, reason: str | None
) -> None:
    hit = review_rule(review)
    assert (hit.reason if hit else None) == reason
    if hit is not None:
        assert hit.detail["rationale"] == "bad"
        assert hit.detail["failed"] == review.failed


def test_applying_hits_moves_instances_and_recounts() -> None:
    task = Task(
        id="t",
        instruction="Add the numbers.",
        instances=[Instance(output=str(i)) for i in range(3)],
    )
    result = InstanceFilter().apply(
        task.model_copy(update={"instances": [*task.instances, Instance(output="")]})
    )
    judged = apply_judged_rule(result, [None, RuleHit("judge:invalid_output", {}), None])
    assert [i.output for i in judged.kept] == ["0", "2"]
    assert [r.reason for r in judged.rejected] == ["empty_output", "judge:invalid_output"]
    assert judged.stats == {
        "total": 4,
        "kept": 2,
        "dropped_empty_output": 1,
        "dropped_judge:invalid_output": 1,
    }
    dropped = apply_judged_rule(judged, [RuleHit("judge:invalid_task", {})] * 2)
    assert dropped.task is None and dropped.task_reason == "no_valid_instances"
    assert dropped.stats["kept"] == 0 and dropped.stats["dropped_judge:invalid_task"] == 2
    with pytest.raises(ValueError, match="1 verdicts for 2 instances"):
        apply_judged_rule(judged, [None])


INSTRUCTIONS = [
    f"Summarize a {adj} museum visit in plain language."
    for adj in ("quiet", "noisy", "tiny", "modern", "remote", "urban", "coastal", "rural")
]


@pytest.mark.parametrize("instruction", INSTRUCTIONS)
async def test_curation_keeps_exactly_what_the_judge_passes(instruction: str) -> None:
    plain = await CompleteTask(FakeSelfInstructLLM(seed=1)).ainvoke(instruction)
    rule = CurationRule(TaskReviewer(FakeSelfInstructLLM(seed=9)))
    curated = await CompleteTask(FakeSelfInstructLLM(seed=1), judged_rule=rule).ainvoke(instruction)
    judged = [r.instance for r in curated.rejected if r.reason.startswith("judge:")]
    assert sorted(map(repr, [*curated.kept, *judged])) == sorted(map(repr, plain.kept))
    assert not set(map(repr, curated.kept)) & set(map(repr, judged))
    if plain.task is not None:
        fresh = TaskReviewer(FakeSelfInstructLLM(seed=9)).invoke(plain.task)
        expected = [review_rule(r) for r in fresh.instances]
        assert [h.reason for h in expected if h] == [
            r.reason for r in curated.rejected if r.reason.startswith("judge:")
        ]


def test_a_failing_judge_fails_the_candidate_and_is_counted(tmp_path: Path) -> None:
    judge = FakeSelfInstructLLM(garbage_rate=1.0)
    pipeline = SelfInstructPipeline(
        FakeSelfInstructLLM(),
        judged_rule=CurationRule(TaskReviewer(judge, max_retries=1)),
        max_stalled_rounds=1,
    )
    summary = pipeline.run(tmp_path, 3)
    assert summary.stats.accepted == 0
    assert summary.stats.failures["judge_instances"] > 0
    records = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert any(r["stage"] == "judge_instances" and r["reason"] == "step_failed" for r in records)


def test_curated_run_keeps_only_what_a_fresh_judge_passes(tmp_path: Path) -> None:
    rule = CurationRule(TaskReviewer(FakeSelfInstructLLM(seed=5)))
    summary = SelfInstructPipeline(
        FakeSelfInstructLLM(seed=2), seed=2, max_concurrency=3, judged_rule=rule
    ).run(tmp_path, 15)
    fresh = TaskReviewer(FakeSelfInstructLLM(seed=5))
    tasks = [
        Task.model_validate_json(line)
        for line in (tmp_path / "tasks.jsonl").read_text().splitlines()
    ]
    records = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    judged = [r for r in records if r["reason"].startswith("instance:judge:")]
    assert judged, "the fake judge should reject some instances"
    for task in tasks:
        # The accepted instances are exactly those the judge passed (the judge saw them once).
        assert all(review_rule(r) is None for r in fresh.invoke(task).instances)
    for record in judged:
        task = Task(
            id="x", instruction=record["instruction"], instances=[Instance(**record["instance"])]
        )
        hit = review_rule(fresh.invoke(task).instances[0])
        assert hit is not None and f"instance:{hit.reason}" == record["reason"]
        # The record says why: every failed question and the judge's own words for the first.
        assert record["detail"] == hit.detail and record["detail"]["rationale"]
    counted = {k: v for k, v in summary.stats.rejected.items() if k.startswith("instance:judge:")}
    assert sum(counted.values()) == len(judged)
