"""Where a unit of model work runs: the seam between the scheduler and the model calls.

The scheduler decides *what* runs and in which order results count; an :class:`Executor` decides
*where* a unit runs. Today that is :class:`InProcessExecutor` (asyncio tasks on the scheduler's
event loop). Ray actors or a provider's batch API go behind the same four members later, without
touching the scheduler's ordering.

Contract (what every executor must do):

- **Ordering.** None is promised: :meth:`Executor.wait` returns units in the order they finished.
  The scheduler restores determinism itself by the numbers on the units (``number``), so an
  executor may reorder, batch or delay freely.
- **Cancellation.** :meth:`Executor.aclose` cancels every unit still running and returns once
  they are all settled; a cancelled unit is never reported by :meth:`Executor.wait`.
- **Errors.** A unit that fails (after the steps' own bounded retries) is reported as a
  :class:`~langchain_selfinstruct.loop.work.WorkDone` whose ``result`` is the ``Exception``; it
  is never dropped. Anything that is not an ``Exception`` (``KeyboardInterrupt``, ...) is raised
  from :meth:`Executor.wait`.
- **Usage accounting.** Every model call a unit made has reached the run's usage tracker (token
  counts, calls, errors) by the time the unit is reported done. In process, the tracker rides in
  the Runnable config's callbacks; a remote executor must send the usage back with the result.
- **Data.** Units and results are plain data (:mod:`langchain_selfinstruct.loop.work`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any, Protocol

from langchain_core.runnables import Runnable, RunnableConfig

from langchain_selfinstruct.loop.work import GenerateInstructions, WorkDone, WorkUnit
from langchain_selfinstruct.steps import InstanceFilterResult

__all__ = ["Executor", "InProcessExecutor", "UnitTasks"]


class Executor(Protocol):
    """Runs units of model work; see the module docstring for the contract."""

    @property
    def in_flight(self) -> int:
        """Units submitted and not yet reported by :meth:`wait`."""

    def submit(self, unit: WorkUnit) -> None:
        """Start ``unit``; returns at once."""

    async def wait(self) -> list[WorkDone]:
        """Wait until at least one unit is done; return every unit done by then."""

    async def aclose(self) -> None:
        """Cancel what is still running and wait until it has stopped."""


class UnitTasks:
    """The asyncio tasks of the units in flight, reported as the executor contract says.

    Both executors keep their units this way; they differ only in what a unit's task does.
    """

    def __init__(self) -> None:
        self._running: dict[asyncio.Future[Any], WorkUnit] = {}
        self._done: asyncio.Queue[asyncio.Future[Any]] = asyncio.Queue()

    def __len__(self) -> int:
        return len(self._running)

    def start(self, unit: WorkUnit, work: Awaitable[Any]) -> None:
        """Run ``work`` for ``unit`` as a task; returns at once."""
        task = asyncio.ensure_future(work)
        self._running[task] = unit
        task.add_done_callback(self._done.put_nowait)

    async def wait(self) -> list[WorkDone]:
        """Wait for one unit to finish, then take every other one finished by then."""
        finished = [await self._done.get()]
        while not self._done.empty():
            finished.append(self._done.get_nowait())
        return [done for task in finished if (done := self._report(task)) is not None]

    def _report(self, task: asyncio.Future[Any]) -> WorkDone | None:
        unit = self._running.pop(task)
        if task.cancelled():
            return None
        error = task.exception()
        if error is not None and not isinstance(error, Exception):
            raise error
        return WorkDone(unit, error if error is not None else task.result())

    async def cancel(self) -> None:
        """Cancel every task in flight and wait for all of them to settle."""
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)


class InProcessExecutor:
    """Runs each unit as an asyncio task on the current event loop.

    Args:
        generate: Step 1: prompt instructions in, new instructions out.
        complete: Steps 2-4 for one instruction (``CompleteTask``).
        config: The run's Runnable config (callbacks, usage tracker, tags) for every call.
    """

    def __init__(
        self,
        generate: Runnable[Sequence[str], list[str]],
        complete: Runnable[str, InstanceFilterResult],
        config: RunnableConfig,
    ) -> None:
        self._generate, self._complete, self._config = generate, complete, config
        self._tasks = UnitTasks()

    @property
    def in_flight(self) -> int:
        """Units submitted and not yet reported by :meth:`wait`."""
        return len(self._tasks)

    def submit(self, unit: WorkUnit) -> None:
        """Start ``unit`` as an asyncio task."""
        call: Coroutine[Any, Any, list[str] | InstanceFilterResult]
        if isinstance(unit, GenerateInstructions):
            call = self._generate.ainvoke(list(unit.prompt), self._config)
        else:
            call = self._complete.ainvoke(unit.instruction, self._config)
        self._tasks.start(unit, call)

    async def wait(self) -> list[WorkDone]:
        """Wait for one unit to finish, then take every other one finished by then."""
        return await self._tasks.wait()

    async def aclose(self) -> None:
        """Cancel every running unit and wait for all of them to settle."""
        await self._tasks.cancel()
