"""Step 4 for instances (Wang et al., 2022, §2.4): :class:`InstanceFilter` as a Runnable.

It cleans a task's generated instances and drops tasks whose instances contradict each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import BaseModel, ConfigDict, Field

from langchain_selfinstruct.presets import PAPER_MAX_INSTANCES
from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps import _rules
from langchain_selfinstruct.steps.dict_output import DictOutput
from langchain_selfinstruct.steps.filter_results import (
    InstanceFilterResult,
    InstanceRejection,
    InstanceRule,
    RuleHit,
    count,
    custom_rule,
)
from langchain_selfinstruct.steps.inputs import TaskArgs, ToolDefaults, task_of

__all__ = ["InstanceFilter"]


class InstanceFilter(
    DictOutput, ToolDefaults, RunnableSerializable[Task | Mapping[str, Any], Task | None]
):
    """Keep a task's valid instances, or drop the task (paper §2.4 and its released code).

    Instances are compared after ``strip()``. Dropped: empty output, input equal to output, input
    or output ending with ":" (usually a cut-off generation), and exact duplicates. The whole task
    is dropped when a non-empty input maps to two different outputs (``conflicting_outputs``) or
    nothing valid is left (``no_valid_instances``). The first ``max_instances`` valid instances
    are kept, in order; the rest are ``over_limit``. ``.pick("instances")`` and ``.assign``
    see the kept task as the dict of its fields.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = "self_instruct.filter_instances"
    input_args: ClassVar[type[BaseModel]] = TaskArgs
    max_instances: int = Field(default=PAPER_MAX_INSTANCES, ge=1)
    """Instances kept per task; default 5 (paper §2.3 code keeps at most 5)."""
    custom_rules: Sequence[Callable[[str, str], str | RuleHit | None]] = ()
    """Extra rules over stripped ``(input, output)`` run after the built-in ones; each returns a
    reason to drop the instance, or ``None`` to keep it."""

    def invoke(
        self, input: Task | Mapping[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Task | None:
        """Filter a task's instances.

        Args:
            input: The task, or a mapping with ``instruction`` and ``instances``.
            config: Runnable config (callbacks, tags, run name).
            **kwargs: Ignored.

        Returns:
            The task with only valid instances, or ``None`` when it must be dropped. For the
            reasons and counts, use :meth:`apply`.
        """
        return self.apply(input, config).task

    def apply(
        self, task: Task | Mapping[str, Any], config: RunnableConfig | None = None
    ) -> InstanceFilterResult:
        """Filter a task's instances and report why each dropped one was dropped.

        Traced as this Runnable's run, with the whole result as its output, so the reasons show
        up in the trace.

        Args:
            task: The task, or a mapping with ``instruction`` and ``instances``.
            config: Runnable config (callbacks, tags, run name).

        Returns:
            The filtered task (or ``None``), the rejected instances, the task-level reason and the
            counts.
        """
        task = task_of(task, "InstanceFilter")
        run = cast("Callable[[Any], Any]", self._apply)
        return cast("InstanceFilterResult", self._call_with_config(run, task, config))

    def _apply(self, task: Task) -> InstanceFilterResult:
        rules: list[InstanceRule] = [
            _rules.empty_output,
            _rules.input_equals_output,
            _rules.ends_with_colon,
            *(custom_rule(rule) for rule in self.custom_rules),
        ]
        valid: list[Instance] = []
        rejected: list[InstanceRejection] = []
        seen: set[tuple[str, str]] = set()
        for instance in task.instances:
            pair = (instance.input.strip(), instance.output.strip())
            hit = next((h for rule in rules if (h := rule(*pair)) is not None), None)
            if hit is None and pair in seen:
                hit = RuleHit("duplicate", {})
            if hit is not None:
                rejected.append(
                    InstanceRejection(instance=instance, reason=hit.reason, detail=hit.detail)
                )
                continue
            seen.add(pair)
            valid.append(instance)
        task_reason = self._task_reason(valid)
        if task_reason is None:
            over = valid[self.max_instances :]
            rejected.extend(InstanceRejection(instance=i, reason="over_limit") for i in over)
        kept = valid[: self.max_instances] if task_reason is None else []
        stats = count(len(task.instances), len(kept), (r.reason for r in rejected))
        if task_reason is not None:
            return InstanceFilterResult(
                task=None, rejected=rejected, task_reason=task_reason, stats=stats
            )
        task = task.model_copy(update={"instances": kept})
        return InstanceFilterResult(task=task, rejected=rejected, stats=stats)

    @staticmethod
    def _task_reason(valid: list[Instance]) -> str | None:
        if _rules.find_conflict(valid) is not None:
            return "conflicting_outputs"
        return None if valid else "no_valid_instances"
