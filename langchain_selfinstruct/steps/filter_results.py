"""The one filter contract: a rule keeps (``None``) or drops with a reason and a detail.

Both filters return a result with the kept items, the typed rejections and the counts
(``total``, ``kept``, ``dropped_<reason>``, as datatrove's filters count), so whoever runs a
filter merges its counts instead of counting again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from langchain_selfinstruct.schema import Instance, Task

__all__ = [
    "InstanceFilterResult",
    "InstanceRejection",
    "InstanceRule",
    "InstructionFilterResult",
    "InstructionRule",
    "Rejection",
    "RuleHit",
    "count",
    "custom_rule",
    "dropped_counts",
]

Similar = list[tuple[str, float]]
_DROPPED = "dropped_"


class RuleHit(NamedTuple):
    """A rule's drop: a stable reason string and machine-readable detail. Keep is ``None``."""

    reason: str
    detail: dict[str, Any]


InstructionRule = Callable[[str], RuleHit | None]
"""A rule over one normalised instruction."""
InstanceRule = Callable[[str, str], RuleHit | None]
"""A rule over one instance's stripped ``(input, output)``."""


def custom_rule(rule: Callable[..., str | RuleHit | None]) -> Callable[..., RuleHit | None]:
    """A caller's rule that returns a reason, a ``RuleHit`` or ``None``, as a rule of this contract.

    A bare reason gets a detail naming the rule (``{"rule": "<function name>"}``); a ``RuleHit``
    (a rule with its own evidence, such as the decontamination rule) is passed through.
    """
    detail = {"rule": getattr(rule, "__name__", "")}

    def wrapped(*item: str) -> RuleHit | None:
        reason = rule(*item)
        if reason is None or isinstance(reason, RuleHit):
            return reason
        return RuleHit(reason, detail)

    return wrapped


def count(total: int, kept: int, reasons: Iterable[str]) -> dict[str, int]:
    """The counts of one filter call: ``total``, ``kept`` and ``dropped_<reason>``."""
    stats = {"total": total, "kept": kept}
    stats.update(Counter(f"{_DROPPED}{reason}" for reason in reasons))
    return stats


def dropped_counts(stats: dict[str, int]) -> Counter[str]:
    """The ``dropped_<reason>`` counts of :func:`count`, by reason."""
    return Counter(
        {k.removeprefix(_DROPPED): n for k, n in stats.items() if k.startswith(_DROPPED)}
    )


class Rejection(BaseModel):
    """A rejected candidate instruction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    """The candidate as given to the filter (before normalisation)."""
    reason: str
    """Stable machine-readable reason, e.g. ``too_short`` or ``blacklisted:image``."""
    detail: dict[str, Any] = Field(default_factory=dict)
    """Evidence, e.g. ``{"word": "image"}`` or ``{"against": "pool", "score": 0.82, ...}``."""


class InstructionFilterResult(BaseModel):
    """Outcome of :class:`~langchain_selfinstruct.steps.InstructionFilter` on one batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kept: list[str]
    """Normalised instructions that passed, in input order."""
    rejected: list[Rejection]
    """One entry per rejected candidate, with the first rule that fired."""
    similar: dict[str, Similar]
    """For each kept text, its most similar pool or batch texts with ROUGE-L F, best first."""
    stats: dict[str, int]
    """``total``, ``kept`` and ``dropped_<reason>`` counts."""

    @property
    def dropped(self) -> Counter[str]:
        """Rejections by reason (from :attr:`stats`)."""
        return dropped_counts(self.stats)


class InstanceRejection(BaseModel):
    """A dropped instance and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: Instance
    reason: str
    """``empty_output``, ``input_equals_output``, ``ends_with_colon``, ``duplicate``,
    ``over_limit`` or a custom rule's reason."""
    detail: dict[str, Any] = Field(default_factory=dict)
    """Evidence; a custom rule's name under ``rule``."""


class InstanceFilterResult(BaseModel):
    """Outcome of :class:`~langchain_selfinstruct.steps.InstanceFilter` on one task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: Task | None
    """The task with only its kept instances, or ``None`` when the task is dropped."""
    rejected: list[InstanceRejection]
    """Dropped instances: rule and duplicate rejections in task order, then ``over_limit`` ones."""
    task_reason: str | None = None
    """``conflicting_outputs`` or ``no_valid_instances`` when the task is dropped."""
    stats: dict[str, int] = Field(default_factory=dict)
    """``total``, ``kept`` and ``dropped_<reason>`` counts over the task's instances."""

    @property
    def kept(self) -> list[Instance]:
        """The kept instances (none when the task is dropped)."""
        return list(self.task.instances) if self.task is not None else []

    @property
    def dropped(self) -> Counter[str]:
        """Instance rejections by reason (from :attr:`stats`)."""
        return dropped_counts(self.stats)
