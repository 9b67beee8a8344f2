"""The units of model work the scheduler hands to an executor, and what comes back.

Everything here is plain data (frozen dataclasses of strings and numbers, pydantic results), so a
unit can cross a process or machine boundary; no unit holds a closure over the pipeline's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_selfinstruct.steps import InstanceFilterResult

__all__ = ["Candidate", "CompleteCandidate", "GenerateInstructions", "WorkDone", "WorkUnit"]


@dataclass(frozen=True)
class GenerateInstructions:
    """Step 1 for one prompt: ask the model for new instructions (paper §2.1)."""

    number: int
    """Position among the run's generations; results are filtered in this order."""
    prompt: tuple[str, ...]
    """The in-context instructions, in prompt order."""
    prompt_ids: tuple[str, ...]
    """Their task ids, for provenance."""


@dataclass(frozen=True)
class Candidate:
    """An instruction that passed the instruction filter and joined the near-duplicate pool."""

    text: str
    prompt_ids: tuple[str, ...]
    """Ids of the prompt tasks of the generation it came from."""
    similar: tuple[tuple[str, float], ...]
    """Most similar pool or batch texts with their ROUGE-L F, best first."""
    average: float | None
    """Mean ROUGE-L F against the pool when it joined (the paper's ``avg_similarity_score``)."""


@dataclass(frozen=True)
class CompleteCandidate:
    """Steps 2 to 4 for one candidate: classify, generate instances, filter them (§2.2-§2.4)."""

    number: int
    """Position among the run's candidates; outcomes are committed in this order."""
    instruction: str


WorkUnit = GenerateInstructions | CompleteCandidate


@dataclass(frozen=True)
class WorkDone:
    """A finished unit: its result, or the exception it raised after its retries."""

    unit: WorkUnit
    result: list[str] | InstanceFilterResult | Exception
