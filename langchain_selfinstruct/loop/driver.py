"""The Self-Instruct meaning of the scheduler's four calls: sample, filter, complete, accept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig

from langchain_selfinstruct.loop.events import Accepted, Rejected, RejectRecord, failure_record
from langchain_selfinstruct.loop.pool import Pool
from langchain_selfinstruct.loop.scheduler import Committed, Filtered
from langchain_selfinstruct.loop.work import Candidate, CompleteCandidate, GenerateInstructions
from langchain_selfinstruct.schema import MAX_LINE_BYTES, dump_task_line
from langchain_selfinstruct.steps import InstanceFilterResult, InstructionFilter
from langchain_selfinstruct.steps.complete_task import StepFailedError

__all__ = ["SelfInstructDriver"]


class SelfInstructDriver:
    """Drives the scheduler with the paper's steps over one :class:`Pool`.

    Args:
        pool: The run's pool; kept instructions are admitted to it as they pass the filter.
        instruction_filter: Step 4 for instructions; its ``index`` is the pool's.
        config: The run's Runnable config (the filter is traced under it).
        provenance: ``model`` and ``model_params`` recorded on every accepted task.
        secrets: Credentials to redact from error messages.
    """

    def __init__(
        self,
        pool: Pool,
        instruction_filter: InstructionFilter,
        config: RunnableConfig,
        provenance: dict[str, Any],
        secrets: Sequence[str],
    ) -> None:
        self.pool, self.instruction_filter, self.config = pool, instruction_filter, config
        self.provenance, self.secrets = provenance, tuple(secrets)

    def generate(self, number: int, visible: int) -> GenerateInstructions:
        """Sample the prompt of generation ``number`` (paper §2.1)."""
        prompt = self.pool.sample(visible)
        return GenerateInstructions(
            number=number,
            prompt=tuple(task.instruction for task in prompt),
            prompt_ids=tuple(task.id for task in prompt),
        )

    async def filter(self, unit: GenerateInstructions, result: list[str] | Exception) -> Filtered:
        """Filter one generation (paper §2.4) and admit what passes to the pool."""
        if isinstance(result, Exception):
            stage = "generate_instructions"
            record = failure_record(
                stage, result, self.secrets, prompt_task_ids=list(unit.prompt_ids)
            )
            return Filtered([], [Rejected(record)], failures=Counter({stage: 1}))
        filtered = await self.instruction_filter.ainvoke(result, self.config)
        ids = list(unit.prompt_ids)
        rejects = [
            Rejected(
                RejectRecord(
                    stage="filter_instructions",
                    reason=rejection.reason,
                    instruction=rejection.text,
                    detail=rejection.detail,
                    prompt_task_ids=ids,
                )
            )
            for rejection in filtered.rejected
        ]
        averages = self.pool.admit(filtered.kept)
        candidates = [
            Candidate(
                text=text,
                prompt_ids=unit.prompt_ids,
                similar=tuple(filtered.similar.get(text, ())),
                average=averages.get(text),
            )
            for text in filtered.kept
        ]
        return Filtered(candidates, rejects, filtered.dropped, generated=len(result))

    def complete(self, number: int, candidate: Candidate) -> CompleteCandidate:
        """Steps 2-4 for ``candidate`` (paper §2.2-§2.4)."""
        return CompleteCandidate(number=number, instruction=candidate.text)

    def accept(self, candidate: Candidate, outcome: InstanceFilterResult | Exception) -> Committed:
        """Record a candidate's rejections or failure, or add its task to the pool."""
        if isinstance(outcome, Exception):
            stage = outcome.stage if isinstance(outcome, StepFailedError) else "complete_task"
            record = failure_record(stage, outcome, self.secrets, instruction=candidate.text)
            return Committed([Rejected(record)], failures=Counter({stage: 1}))
        records = [
            RejectRecord(
                stage="filter_instances",
                reason=f"instance:{rejection.reason}",
                instruction=candidate.text,
                instance=rejection.instance.model_dump(),
                detail=rejection.detail,
            )
            for rejection in outcome.rejected
        ]
        rejected = Counter({f"instance:{r}": n for r, n in outcome.dropped.items()})
        if outcome.task is None:
            reason = f"task:{outcome.task_reason}"
            records.append(
                RejectRecord(stage="filter_instances", reason=reason, instruction=candidate.text)
            )
            rejected[reason] += 1
        committed = Committed([Rejected(record) for record in records], rejected=rejected)
        if outcome.task is None:
            return committed
        stamped = self.pool.stamp(outcome.task, candidate, self.provenance)
        size = len(dump_task_line(stamped).encode("utf-8"))
        if size > MAX_LINE_BYTES:
            # A runaway generation: as a line of tasks.jsonl, resume and export would refuse it,
            # so it is a counted reject instead.
            record = RejectRecord(
                stage="filter_instances",
                reason="task:too_large",
                instruction=candidate.text,
                instances=[instance.model_dump() for instance in stamped.instances],
                detail={"line_bytes": size, "limit": MAX_LINE_BYTES},
            )
            committed.events.append(Rejected(record))
            committed.rejected["task:too_large"] += 1
            return committed
        committed.task = self.pool.accept(stamped)
        committed.events.append(Accepted(committed.task))
        return committed
