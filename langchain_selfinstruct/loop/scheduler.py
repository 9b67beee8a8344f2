"""Ordering and concurrency of the loop: which unit of work runs next, and in which order it counts.

Why not rounds of ``abatch``: a round waits for its slowest call, so at 50 ms per call and 32 slots
only about a third of the slots were busy (benchmarks/README.md). Here every result is handled as
it arrives, and determinism comes from committing in a fixed order instead:

- generations are numbered; their results are filtered in that order against the pool plus every
  candidate kept from earlier generations (the paper's code also dedups against all kept
  instructions, before instances exist), so filter decisions never depend on timing;
- kept candidates are numbered in filter order and started in that order; their outcomes are
  committed in that order, so ids and the accepted set are the first ``target`` successes
  whatever finishes first;
- generation ``g`` samples its machine prompt tasks from the pool as it stood once generation
  ``g - lag`` was committed (``lag`` = ``max_concurrency``), so prompts do not depend on timing
  either.

The scheduler knows the rest of the loop only through :class:`LoopDriver` (what a generation, a
filter pass and an acceptance mean), :class:`~langchain_selfinstruct.loop.executor.Executor`
(where work runs) and :class:`~langchain_selfinstruct.loop.budget.Budget` (when to stop).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol

from langchain_selfinstruct.errors import describe_error, is_fatal_model_error
from langchain_selfinstruct.loop.budget import Budget
from langchain_selfinstruct.loop.events import LoopEvent, Rejected, RoundFinished
from langchain_selfinstruct.loop.executor import Executor
from langchain_selfinstruct.loop.work import (
    Candidate,
    CompleteCandidate,
    GenerateInstructions,
    WorkDone,
)
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.stats import RunStats
from langchain_selfinstruct.steps import InstanceFilterResult

__all__ = ["Committed", "Filtered", "LoopDriver", "Scheduler"]


@dataclass
class Filtered:
    """What the instruction filter made of one generation."""

    candidates: list[Candidate]
    """Kept instructions, already in the pool, in generation order."""
    rejects: list[Rejected]
    """Rejected instructions, or the generation's failure."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Rejections by reason, as the filter counted them."""
    failures: Counter[str] = field(default_factory=Counter)
    """Failed steps by name."""
    generated: int = 0
    """Instructions parsed from the model before filtering."""


@dataclass
class Committed:
    """What committing one candidate's outcome produced."""

    events: list[LoopEvent]
    """Reject events, then ``Accepted`` when the task joined the pool."""
    task: Task | None = None
    """The accepted task."""
    rejected: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)


class LoopDriver(Protocol):
    """The four things the scheduler asks of the loop."""

    def generate(self, number: int, visible: int) -> GenerateInstructions:
        """Sample generation ``number``'s prompt from the first ``visible`` machine tasks."""

    async def filter(self, unit: GenerateInstructions, result: list[str] | Exception) -> Filtered:
        """Filter one generation's instructions (in generation order) and admit the kept ones."""

    def complete(self, number: int, candidate: Candidate) -> CompleteCandidate:
        """The unit of work that completes ``candidate`` (classify, instances, filter)."""

    def accept(self, candidate: Candidate, outcome: InstanceFilterResult | Exception) -> Committed:
        """Turn a candidate's outcome into records, and its task (if any) into a pool task."""


@dataclass
class _Generation:
    """One instruction-generation call and the candidates it contributed."""

    unit: GenerateInstructions
    done: WorkDone | None = None
    filtered: Filtered | None = None
    emitted: bool = False
    end: int = 0
    """Position after its last kept candidate."""


class Scheduler:
    """One run of the loop: keeps ``width`` units of work busy and commits results in order.

    Args:
        driver: What generating, filtering and accepting mean.
        executor: Where units run.
        budget: Limits, usage and the stop switch.
        stats: The run's counters, updated in place.
        target: Tasks to accept.
        width: Units in flight at once (``max_concurrency``); also the generations in a round.
        max_stalled_rounds: Rounds in a row without an accepted task before the run stops.
        machine_count: Machine tasks in the pool when the run starts.
        secrets: Credentials to redact from ``stats.last_error``.
    """

    def __init__(
        self,
        driver: LoopDriver,
        executor: Executor,
        budget: Budget,
        stats: RunStats,
        *,
        target: int,
        width: int,
        max_stalled_rounds: int,
        machine_count: int,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.driver, self.executor, self.budget, self.stats = driver, executor, budget, stats
        self.target, self.width, self.lag = target, width, width
        self.max_stalled_rounds = max_stalled_rounds
        self.generations: list[_Generation] = []
        self.filtered = 0
        self.candidates: list[Candidate] = []
        self.started = 0
        self.outcomes: dict[int, InstanceFilterResult | Exception] = {}
        self.live = 0
        """Started candidates not committed and not known to have failed."""
        self.resolved, self.succeeded = 0, 0
        self.committed_generations, self.committed = 0, 0
        self.pool_after: list[int] = [machine_count]
        """Machine pool size once generation ``h - 1`` was committed, by ``h``."""
        self.accepted_machine = machine_count
        self.halt: str | None = None
        self.round_accepted, self.stalled, self.unreported = 0, 0, False
        self.secrets = secrets
        self.last_error: Exception | None = None
        """The last failure a unit reported, in arrival order (``stats.last_error`` says it)."""

    # -- main loop ----------------------------------------------------------------------------

    async def run(self) -> AsyncGenerator[LoopEvent, None]:
        """Run until the target, the budget, a stall or a stop; yield events in commit order."""
        try:
            while True:
                filtered = False
                if self.stats.stop_reason is None:
                    # One generation at a time, so slots freed meanwhile are refilled between.
                    filtered = await self._filter_next()
                    for event in self._commit():
                        yield event
                if self.stats.stop_reason is None:
                    self._launch()
                if filtered:
                    continue
                # Calls in flight are awaited even once the run is decided, so every call
                # made is counted as answered or failed (and llama.cpp cannot be interrupted).
                if not self.executor.in_flight:
                    break
                for done in await self.executor.wait():
                    self._collect(done)
            for event in self._finish():
                yield event
        finally:
            await self.executor.aclose()

    def _finish(self) -> list[LoopEvent]:
        stats = self.stats
        stats.stop_reason = stats.stop_reason or self.halt or "stalled"
        if self.committed_generations < len(self.generations):
            current = self.generations[self.committed_generations]
            if current.emitted:
                stats.surplus += current.end - self.committed
        self.budget.account(stats)
        return [self._round_finished()] if self.unreported else []

    # -- launching work -----------------------------------------------------------------------

    def _launch(self) -> None:
        while self.executor.in_flight < self.width and self.halt is None:
            self.budget.account(self.stats)
            reason = self.budget.stop_reason(self.stats)
            if reason is not None:
                # Work in flight finishes, and candidates in it may still be accepted.
                self.halt = reason
                return
            queued = self.started < len(self.candidates)
            wanted = self._wanted_generations(idle=not queued or not self._may_start())
            if wanted and self._may_sample():
                self._start_generation()
            elif queued and self._may_start():
                self._start_candidate()
            else:
                return

    def _promised(self) -> int:
        return self.stats.accepted + self.live

    def _may_start(self) -> bool:
        return self._promised() < self.target

    def _wanted_generations(self, *, idle: bool) -> bool:
        """Whether another generation call is worth a free slot.

        Generations come first while the candidates queued and expected from generations in
        flight would not fill every slot. A slot that would otherwise idle also takes one, as
        long as those candidates are not already enough to reach the target.
        """
        success = self.succeeded / self.resolved if self.resolved else 1.0
        needed = math.ceil((self.target - self._promised()) / max(success, 0.05))
        kept_per_call = len(self.candidates) / self.filtered if self.filtered else 1.0
        pending = len(self.generations) - self.filtered
        expected = len(self.candidates) - self.started + pending * kept_per_call
        return expected < (needed if idle else min(self.width, needed))

    def _may_sample(self) -> bool:
        return len(self.generations) - self.lag <= self.committed_generations

    def _start_generation(self) -> None:
        number = len(self.generations)
        visible = self.pool_after[max(number - self.lag, 0)]
        unit = self.driver.generate(number, visible)
        self.generations.append(_Generation(unit))
        self.executor.submit(unit)

    def _start_candidate(self) -> None:
        number = self.started
        self.started += 1
        self.live += 1
        self.executor.submit(self.driver.complete(number, self.candidates[number]))

    # -- results ------------------------------------------------------------------------------

    def _collect(self, done: WorkDone) -> None:
        if isinstance(done.result, Exception):
            self._failed(done.result)
        if isinstance(done.unit, GenerateInstructions):
            self.generations[done.unit.number].done = done
            return
        outcome = done.result
        if isinstance(outcome, list):
            raise TypeError("a candidate's unit returned a generation's result")
        self.outcomes[done.unit.number] = outcome
        self.resolved += 1
        if isinstance(outcome, Exception) or outcome.task is None:
            self.live -= 1
        else:
            self.succeeded += 1

    def _failed(self, error: Exception) -> None:
        self.last_error = error
        self.stats.last_error = describe_error(error, self.secrets)
        if is_fatal_model_error(error):
            # Every later call would be refused too: launch nothing more, rather than wait out
            # max_stalled_rounds of refusals. Work in flight still finishes and is counted.
            self.halt = self.halt or "model_error"

    async def _filter_next(self) -> bool:
        """Filter the next generation in order, if its result has arrived."""
        if self.filtered == len(self.generations):
            return False
        generation = self.generations[self.filtered]
        if generation.done is None:
            return False
        result = generation.done.result
        if isinstance(result, InstanceFilterResult):
            raise TypeError("a generation's unit returned a candidate's result")
        generation.filtered = await self.driver.filter(generation.unit, result)
        # Emitted once; a long run should not keep every generation's texts around.
        generation.done = None
        self.candidates.extend(generation.filtered.candidates)
        generation.end = len(self.candidates)
        self.filtered += 1
        return True

    # -- committing in order ------------------------------------------------------------------

    def _commit(self) -> list[LoopEvent]:
        events: list[LoopEvent] = []
        stats = self.stats
        while self.committed_generations < self.filtered and stats.stop_reason is None:
            generation = self.generations[self.committed_generations]
            if not generation.emitted:
                events.extend(self._emit(generation))
            while self.committed < generation.end and stats.stop_reason is None:
                outcome = self.outcomes.pop(self.committed, None)
                if outcome is None:
                    return events
                events.extend(self._commit_candidate(self.candidates[self.committed], outcome))
                self.committed += 1
            if stats.stop_reason is None:
                self.committed_generations += 1
                self.pool_after.append(self.accepted_machine)
                if self.committed_generations % self.width == 0:
                    events.append(self._end_round())
        return events

    def _emit(self, generation: _Generation) -> list[LoopEvent]:
        generation.emitted = True
        self.unreported = True
        filtered, generation.filtered = generation.filtered, None
        if filtered is None:
            return []
        self.stats.generated_instructions += filtered.generated
        self.stats.rejected.update(filtered.rejected)
        self.stats.failures.update(filtered.failures)
        return list(filtered.rejects)

    def _commit_candidate(
        self, candidate: Candidate, outcome: InstanceFilterResult | Exception
    ) -> list[LoopEvent]:
        stats = self.stats
        committed = self.driver.accept(candidate, outcome)
        stats.rejected.update(committed.rejected)
        stats.failures.update(committed.failures)
        if not isinstance(outcome, Exception) and outcome.task is not None:
            self.live -= 1  # live since it came back with a task; accepted or refused now
        if committed.task is not None:
            self.accepted_machine += 1
            stats.accepted += 1
            stats.instances_kept += len(committed.task.instances)
            self.round_accepted += 1
            if stats.accepted >= self.target:
                stats.stop_reason = "target"
        return committed.events

    def _end_round(self) -> RoundFinished:
        self.stalled = 0 if self.round_accepted else self.stalled + 1
        self.round_accepted = 0
        event = self._round_finished()
        if self.stalled >= self.max_stalled_rounds:
            self.stats.stop_reason = "stalled"
        return event

    def _round_finished(self) -> RoundFinished:
        self.unreported = False
        self.stats.rounds += 1
        self.budget.account(self.stats)
        return RoundFinished(self.stats)
