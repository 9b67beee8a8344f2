"""Instance rules that ask a model (``--curate``), under the one filter contract.

A model-backed rule gives, for each instance of a task, the same answer as any rule: ``None``
(keep) or a :class:`~langchain_selfinstruct.steps.filter_results.RuleHit` (drop, with a reason
such as ``judge:invalid_output``). It differs only in needing the whole task (the instruction)
and a model call, so it cannot run inside the synchronous per-instance loop of
:class:`~langchain_selfinstruct.steps.InstanceFilter`. :class:`~langchain_selfinstruct.steps.
CompleteTask` runs it right after that filter, on the instances the paper's rules kept, and
:func:`apply_judged_rule` folds its hits into the filter's result: the same kept instances,
typed rejections and ``total`` / ``kept`` / ``dropped_<reason>`` counts the loop already merges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from langchain_core.runnables import RunnableConfig

from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps.filter_results import (
    InstanceFilterResult,
    InstanceRejection,
    RuleHit,
    count,
)

__all__ = ["JudgedInstanceRule", "apply_judged_rule"]


@runtime_checkable
class JudgedInstanceRule(Protocol):
    """A rule over a task's instances that asks a model: one keep or drop per instance."""

    def judge(self, task: Task, config: RunnableConfig | None = None) -> list[RuleHit | None]:
        """One ``None`` (keep) or ``RuleHit`` (drop) per instance of ``task``, in order."""

    async def ajudge(
        self, task: Task, config: RunnableConfig | None = None
    ) -> list[RuleHit | None]:
        """Async :meth:`judge`."""


def apply_judged_rule(
    result: InstanceFilterResult, hits: Sequence[RuleHit | None]
) -> InstanceFilterResult:
    """Drop the instances a judged rule hit; drop the task when none is left.

    Args:
        result: The instance filter's result, with a task (its kept instances were judged).
        hits: One verdict per kept instance, in order.

    Returns:
        The result with the hit instances moved to ``rejected`` (after the filter's own
        rejections) and the counts recomputed; the task is ``None`` with ``task_reason``
        ``no_valid_instances`` when nothing is left, as when the paper's rules leave nothing.

    Raises:
        ValueError: ``result`` has no task, or ``hits`` does not match its instances.
    """
    if result.task is None:
        raise ValueError("a dropped task has no instances to judge")
    instances = result.task.instances
    if len(hits) != len(instances):
        raise ValueError(f"{len(hits)} verdicts for {len(instances)} instances")
    kept = [instance for instance, hit in zip(instances, hits, strict=True) if hit is None]
    rejected = list(result.rejected) + [
        InstanceRejection(instance=instance, reason=hit.reason, detail=hit.detail)
        for instance, hit in zip(instances, hits, strict=True)
        if hit is not None
    ]
    total = result.stats.get("total", len(instances))
    stats = count(total, len(kept), (rejection.reason for rejection in rejected))
    if not kept:
        return InstanceFilterResult(
            task=None, rejected=rejected, task_reason="no_valid_instances", stats=stats
        )
    task = result.task.model_copy(update={"instances": kept})
    return InstanceFilterResult(task=task, rejected=rejected, stats=stats)
