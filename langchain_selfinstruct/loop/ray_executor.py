"""The executor seam's Ray implementation: units run on model replicas (Ray actors).

The loop, the pool, the index and the run directory stay on the driver; only the model work of a
unit (one instruction-generation call, or one candidate's classification and instance calls)
crosses to a replica, as plain data (:mod:`langchain_selfinstruct.loop.work`), and comes back as a
:class:`~langchain_selfinstruct.loop.replica_calls.UnitReply`. The contract of
:mod:`langchain_selfinstruct.loop.executor` holds:

- ordering is the scheduler's (it commits by unit number), so which replica answers first
  changes nothing in the dataset;
- :meth:`RayExecutor.aclose` cancels the Ray tasks in flight (``ray.cancel``), waits for them to
  settle, then ends the replicas;
- a unit's failure comes back as its result, its error chain intact;
- a unit's usage is added to the run's tracker, and its callback events replayed into the
  driver's handlers, before the unit is reported done;
- a replica that dies is restarted by Ray (the actor's bounded ``max_restarts``); the units it
  held are run again, on whichever replica is least busy, at most ``unit_retries`` times each,
  and counted as ``replica_retry`` in the run's fallbacks. A unit only counts once its reply
  arrives, so nothing is lost or committed twice. Past its retries the unit is reported failed
  with :class:`ReplicaLostError`. A replica Ray will not restart (``ActorDiedError``) gets no
  more units; once none is left, every unit fails that way at once, and the run stalls out.

A judged rule (``--curate``) runs on the driver, on each candidate's result as it comes back:
the judge is a model of its own, which the driver holds (as it does in process) and the replicas
need not load; its runs hang under the driver's run rather than under the candidate's.

Ray is imported only once an executor is used; the actors are made by ``ray_replicas.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig

from langchain_selfinstruct.loop.executor import UnitTasks
from langchain_selfinstruct.loop.replica_calls import UnitReply, driver_handlers, replay
from langchain_selfinstruct.loop.replica_calls import unpack_error as unpack
from langchain_selfinstruct.loop.work import GenerateInstructions, WorkDone, WorkUnit
from langchain_selfinstruct.stats import UsageTracker
from langchain_selfinstruct.steps.complete_task import StepFailedError
from langchain_selfinstruct.steps.filter_results import InstanceFilterResult
from langchain_selfinstruct.steps.judged_rule import JudgedInstanceRule, apply_judged_rule

__all__ = ["REPLICA_RETRY", "RayExecutor", "ReplicaLostError"]

REPLICA_RETRY = "replica_retry"
"""The fallback counted each time a unit is run again because its replica died."""
_RETRY_DELAY_S = 0.5
"""First pause before a lost unit runs again; it doubles with each retry."""
_COOLDOWN_S = 5.0
"""How long a replica that just failed a unit is passed over while another one is up."""


class ReplicaLostError(RuntimeError):
    """A unit's replica died more times than the unit may be retried."""


class RayExecutor:
    """Runs each unit on the least busy of ``replicas`` Ray actors.

    Args:
        replicas: Actor handles with async ``generate(prompt, context)`` and
            ``complete(instruction, context)`` methods returning a ``UnitReply``.
        config: The run's Runnable config: its callbacks (other than ``usage``) see every
            replica-side run, replayed under the run that submitted the unit.
        usage: The run's usage tracker; each reply's usage is added to it.
        unit_retries: Times a unit is run again after its replica died.
        judged_rule: Applied here to each candidate's result, as ``CompleteTask`` does in process.
    """

    def __init__(
        self,
        replicas: Sequence[Any],
        config: RunnableConfig,
        usage: UsageTracker,
        *,
        unit_retries: int = 2,
        judged_rule: JudgedInstanceRule | None = None,
    ) -> None:
        if not replicas:
            raise ValueError("a RayExecutor needs at least one replica")
        self.replicas = list(replicas)
        self.usage, self.unit_retries = usage, unit_retries
        self.judged_rule, self._config = judged_rule, config
        self._handlers, self._parent, self._context = driver_handlers(
            config.get("callbacks"), usage
        )
        self._busy = [0] * len(self.replicas)
        self._failed_at = [float("-inf")] * len(self.replicas)
        self._gone: set[int] = set()
        """Replicas Ray reported dead for good (``ActorDiedError``: restarts spent)."""
        self._tasks = UnitTasks()
        self._endpoints: dict[str, dict[str, dict[str, Any]]] = {}
        """The latest per-endpoint counts of each replica start, by its id."""

    @property
    def in_flight(self) -> int:
        """Units submitted and not yet reported by :meth:`wait`."""
        return len(self._tasks)

    def submit(self, unit: WorkUnit) -> None:
        """Send ``unit`` to a replica; returns at once."""
        self._tasks.start(unit, self._run(unit))

    def _pick(self) -> int:
        alive = [i for i in range(len(self.replicas)) if i not in self._gone]
        if not alive:
            raise ReplicaLostError("every Ray replica died and Ray restarts none of them")
        now = time.monotonic()
        healthy = [i for i in alive if now - self._failed_at[i] > _COOLDOWN_S]
        return min(healthy or alive, key=lambda i: (self._busy[i], i))

    async def _run(self, unit: WorkUnit) -> list[str] | Any:
        from ray.exceptions import ActorDiedError, RayActorError

        attempt = 0
        while True:
            index = self._pick()
            replica = self.replicas[index]
            if isinstance(unit, GenerateInstructions):
                ref = replica.generate.remote(list(unit.prompt), self._context)
            else:
                ref = replica.complete.remote(unit.instruction, self._context)
            self._busy[index] += 1
            try:
                reply: UnitReply = await ref
            except RayActorError as error:
                # ActorUnavailableError: restarting, may come back; ActorDiedError: gone.
                self._failed_at[index] = time.monotonic()
                if isinstance(error, ActorDiedError):
                    self._gone.add(index)
                if attempt >= self.unit_retries:
                    raise ReplicaLostError(
                        f"replica {index} died under this unit {attempt + 1} times"
                    ) from error
                attempt += 1
                self.usage.add(fallbacks={REPLICA_RETRY: 1})
                # Give Ray a moment to restart it, should it be the only replica.
                await asyncio.sleep(_RETRY_DELAY_S * 2 ** (attempt - 1))
                continue
            except asyncio.CancelledError:
                _cancel(ref)
                raise
            finally:
                self._busy[index] -= 1
            reply.usage.add_to(self.usage)
            if reply.endpoints is not None:
                self._endpoints[reply.endpoints[0]] = reply.endpoints[1]
            if reply.events:
                await replay(reply.events, self._handlers, self._parent)
            if reply.errors:
                raise unpack(reply.errors)
            return await self._judged(reply.result)

    async def _judged(self, result: Any) -> Any:
        """A candidate's result after the judged rule (``--curate``), which runs here."""
        if self.judged_rule is None or not isinstance(result, InstanceFilterResult):
            return result
        if result.task is None:
            return result
        try:
            hits = await self.judged_rule.ajudge(result.task, self._config)
        except Exception as error:
            raise StepFailedError("judge_instances", error) from error
        return apply_judged_rule(result, hits)

    def endpoint_counts(self) -> dict[str, dict[str, Any]]:
        """Every routed replica's per-endpoint counts so far, summed by endpoint."""
        total: dict[str, dict[str, Any]] = {}
        for counts in self._endpoints.values():
            for name, each in counts.items():
                into = total.setdefault(name, dict.fromkeys(each, 0))
                for key, value in each.items():
                    into[key] = round(into[key] + value, 3)
        return total

    async def wait(self) -> list[WorkDone]:
        """Wait for one unit to finish, then take every other one finished by then."""
        return await self._tasks.wait()

    async def aclose(self) -> None:
        """Cancel every unit in flight, wait for them to settle, then end the replicas."""
        import ray

        await self._tasks.cancel()
        for replica in self.replicas:
            ray.kill(replica, no_restart=True)


def _cancel(ref: Any) -> None:
    import ray

    # The replica's coroutine gets CancelledError; a call already inside llama.cpp finishes
    # there (it cannot be interrupted), and the replica is ended by aclose anyway.
    ray.cancel(ref)
