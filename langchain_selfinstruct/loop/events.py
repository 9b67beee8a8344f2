"""What one run of the loop reports: accepted tasks, typed reject records, finished rounds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.stats import RunStats

__all__ = ["Accepted", "LoopEvent", "RejectRecord", "Rejected", "RoundFinished", "failure_record"]

_MAX_ERROR_CHARS = 300


class RejectRecord(BaseModel):
    """One line of ``rejects.jsonl``: a rejected instruction or instance, or a failed step.

    Fields that do not apply are ``None`` and left out of the line (:meth:`to_dict`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str
    """The step: ``filter_instructions``, ``filter_instances``, or the step that failed."""
    reason: str
    """Machine-readable reason: ``near_duplicate``, ``instance:empty_output``, ``step_failed``..."""
    error: str | None = None
    """For ``step_failed``: the first line of the error, credentials redacted."""
    instruction: str | None = None
    """The candidate instruction concerned."""
    instance: dict[str, Any] | None = None
    """For an instance rejection: the instance as generated."""
    instances: list[dict[str, Any]] | None = None
    """For a task rejected whole after its instances were made (``task:too_large``): them all."""
    detail: dict[str, Any] | None = None
    """For an instruction rejection: the rule's evidence (matched word, ROUGE-L score, ...)."""
    prompt_task_ids: list[str] | None = None
    """For generation-level records: the ids of the prompt's in-context tasks."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready line, in field order, without the fields that do not apply."""
        return self.model_dump(exclude_none=True)


def failure_record(
    stage: str, error: BaseException, secrets: Sequence[str], **where: Any
) -> RejectRecord:
    """The record of a step that failed after its retries, with every known secret redacted.

    Args:
        stage: The step that failed.
        error: What it raised.
        secrets: Credentials to hide (servers and proxies sometimes quote the key they refused).
        **where: ``instruction=`` or ``prompt_task_ids=``.

    Returns:
        A ``step_failed`` record.
    """
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    for secret in secrets:
        message = message.replace(secret, "[redacted]")
    return RejectRecord(
        stage=stage, reason="step_failed", error=message[:_MAX_ERROR_CHARS], **where
    )


@dataclass(frozen=True)
class Accepted:
    """A task that passed every filter and joined the pool."""

    task: Task


@dataclass(frozen=True)
class Rejected:
    """A rejected instruction, instance or failed step, as written to ``rejects.jsonl``."""

    record: RejectRecord


@dataclass(frozen=True)
class RoundFinished:
    """A round ended: ``max_concurrency`` more generations were committed, or the run ended.

    ``stats`` are the run's counters so far.
    """

    stats: RunStats


LoopEvent = Accepted | Rejected | RoundFinished
