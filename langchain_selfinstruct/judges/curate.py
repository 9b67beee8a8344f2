"""``--curate``: the paper's review as an instance rule of the loop.

:class:`CurationRule` asks a :class:`~langchain_selfinstruct.judges.TaskReviewer` about each
instance the paper's rules kept and drops those the judge calls invalid, with the first failed
question as the reason (:func:`review_rule`). The loop records them as
``instance:judge:invalid_task`` (or ``_input``, ``_output``) in ``rejects.jsonl`` and drops a task
left without instances (``task:no_valid_instances``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from langchain_selfinstruct.judges.task_review import InstanceReview, TaskReviewer
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps.filter_results import RuleHit

__all__ = ["JUDGE_REASONS", "CurationRule", "review_rule"]

JUDGE_REASONS: dict[str, str] = {
    "valid_task": "judge:invalid_task",
    "appropriate_input": "judge:invalid_input",
    "acceptable_output": "judge:invalid_output",
}
"""Reject reason for each review question answered "no"."""


def review_rule(review: InstanceReview) -> RuleHit | None:
    """Keep an instance the judge passed on all three questions; else drop it.

    The reason is the first question answered "no", in the paper's order (task, input, output);
    the detail lists every failed question and the judge's reason for the first.
    """
    failed = review.failed
    if not failed:
        return None
    first = failed[0]
    detail = {"failed": failed, "rationale": review.verdict(first).rationale}
    return RuleHit(JUDGE_REASONS[first], detail)


class CurationRule:
    """A :class:`TaskReviewer` as a judged instance rule (``CompleteTask.judged_rule``).

    Example:
        .. code-block:: python

            from langchain_selfinstruct import CurationRule, SelfInstructPipeline, TaskReviewer

            pipeline = SelfInstructPipeline(llm, judged_rule=CurationRule(TaskReviewer(judge)))

    Args:
        reviewer: The judge.
    """

    def __init__(self, reviewer: TaskReviewer) -> None:
        self.reviewer = reviewer

    def __repr__(self) -> str:
        return f"CurationRule({self.reviewer.name})"

    def settings(self) -> dict[str, Any]:
        """What decides this rule's verdicts, for ``settings.json`` (a resume must match it)."""
        # Imported here: models imports the fake model, which answers judge prompts.
        from langchain_selfinstruct.models import model_name

        return {"rule": "curate", "judge": model_name(self.reviewer.llm)}

    def judge(self, task: Task, config: RunnableConfig | None = None) -> list[RuleHit | None]:
        """One verdict per instance of ``task``."""
        return [review_rule(r) for r in self.reviewer.invoke(task, config).instances]

    async def ajudge(
        self, task: Task, config: RunnableConfig | None = None
    ) -> list[RuleHit | None]:
        """Async :meth:`judge`."""
        review = await self.reviewer.ainvoke(task, config)
        return [review_rule(r) for r in review.instances]
