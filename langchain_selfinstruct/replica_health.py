"""The load and health of a router's replicas: calls in flight, failures in a row, benches.

:class:`~langchain_selfinstruct.routing.ModelRouter` asks :meth:`ReplicaHealth.acquire` for a
replica before each call and tells :meth:`ReplicaHealth.release` how it ended; every copy of a
router shares one record, so all of a run's calls see the same picture of each replica. One
lock guards it, held only for bookkeeping (never across a call), so threads and asyncio tasks
alike may share it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from langchain_selfinstruct.errors import (
    NoReplicaAvailableError,
    describe_error,
    is_endpoint_failure,
)

__all__ = ["BenchPolicy", "EndpointCounts", "ReplicaHealth"]


@dataclass(frozen=True)
class EndpointCounts:
    """What one replica did: calls sent, calls that raised, time spent benched."""

    requests: int = 0
    """Calls sent to the replica (each fail-over to another replica is a call of its own)."""
    errors: int = 0
    """Calls that raised, whatever the cause."""
    benched_s: float = 0.0
    """Seconds the replica was out of rotation."""
    benches: int = 0
    """Times it was benched."""

    def minus(self, earlier: EndpointCounts) -> EndpointCounts:
        """The counts since ``earlier`` (a snapshot of the same replica)."""
        return EndpointCounts(
            self.requests - earlier.requests,
            self.errors - earlier.errors,
            self.benched_s - earlier.benched_s,
            self.benches - earlier.benches,
        )

    def to_dict(self) -> dict[str, int | float]:
        """JSON-ready, for ``stats.json``."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "benched_s": round(self.benched_s, 3),
            "benches": self.benches,
        }


class _Replica:
    """Load and health of one replica; only touched under :class:`_Health`'s lock."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.requests = 0
        self.errors = 0
        self.strikes = 0
        """Endpoint failures in a row."""
        self.benches_in_a_row = 0
        self.benches = 0
        self.bench_start = 0.0
        self.bench_until: float | None = None
        """End of the current or last bench; ``None`` once a call succeeded after it."""
        self.benched_s = 0.0
        """Benches that are over."""
        self.last_error = ""

    def benched(self, now: float) -> bool:
        return self.bench_until is not None and now < self.bench_until

    def on_probation(self, now: float) -> bool:
        return self.bench_until is not None and now >= self.bench_until

    def counts(self, now: float) -> EndpointCounts:
        current = 0.0
        if self.bench_until is not None:
            current = max(0.0, min(now, self.bench_until) - self.bench_start)
        return EndpointCounts(self.requests, self.errors, self.benched_s + current, self.benches)


@dataclass(frozen=True)
class BenchPolicy:
    """When a replica is benched and for how long: the router's fields of the same names."""

    max_failures: int
    bench_s: float
    max_bench_s: float
    clock: Callable[[], float]


class ReplicaHealth:
    """The shared record of every replica's load and health (thread- and task-safe)."""

    def __init__(self, size: int, policy: BenchPolicy) -> None:
        self._lock = threading.Lock()
        self._replicas = [_Replica() for _ in range(size)]
        self._next = 0
        self._policy = policy

    def acquire(self, tried: set[int]) -> int | None:
        """Take a slot on the least loaded usable replica not yet tried; ``None``: none left."""
        with self._lock:
            now = self._policy.clock()
            usable = [
                i for i in self._order() if i not in tried and not self._replicas[i].benched(now)
            ]
            # A replica on probation takes one call (the probe) unless nothing else can.
            ready = [
                i
                for i in usable
                if not (self._replicas[i].on_probation(now) and self._replicas[i].in_flight)
            ]
            choices = ready or usable
            if not choices:
                return None
            index = min(choices, key=lambda i: self._replicas[i].in_flight)
            self._next = (index + 1) % len(self._replicas)
            replica = self._replicas[index]
            replica.in_flight += 1
            replica.requests += 1
            return index

    def _order(self) -> list[int]:
        size = len(self._replicas)
        return [(self._next + offset) % size for offset in range(size)]

    def release(self, index: int, error: BaseException | None) -> bool:
        """Record how a call ended; ``True`` when it should be tried on another replica."""
        with self._lock:
            now = self._policy.clock()
            replica = self._replicas[index]
            replica.in_flight -= 1
            if error is None:
                if replica.bench_until is not None:
                    replica.benched_s += replica.bench_until - replica.bench_start
                replica.strikes = replica.benches_in_a_row = 0
                replica.bench_until = None
                return False
            if not isinstance(error, Exception):
                return False  # cancelled, interrupted or closed: not the replica's doing
            replica.errors += 1
            if not is_endpoint_failure(error):
                return False
            replica.last_error = describe_error(error)
            if replica.benched(now):
                return True  # a call that started before the bench: no new evidence
            replica.strikes += 1
            probe_failed = replica.on_probation(now)
            if probe_failed or replica.strikes >= self._policy.max_failures:
                self._bench(replica, now)
            return True

    def _bench(self, replica: _Replica, now: float) -> None:
        if replica.bench_until is not None:
            replica.benched_s += replica.bench_until - replica.bench_start  # an expired bench
        policy = self._policy
        duration = min(policy.max_bench_s, policy.bench_s * 2**replica.benches_in_a_row)
        replica.bench_start, replica.bench_until = now, now + duration
        replica.benches_in_a_row += 1
        replica.benches += 1
        replica.strikes = 0

    def exhausted(self, names: Sequence[str], last: BaseException | None) -> BaseException:
        """The error of a call no replica answered: ``NoReplicaAvailableError`` or ``last``."""
        with self._lock:
            now = self._policy.clock()
            if last is not None and not all(r.benched(now) for r in self._replicas):
                return last
            states = "; ".join(
                f"{name} benched {replica.bench_until - now:.1f} s more"
                + (f" after {replica.last_error}" if replica.last_error else "")
                for name, replica in zip(names, self._replicas, strict=True)
                if replica.bench_until is not None
            )
        return NoReplicaAvailableError(f"no replica of the model answers: {states}")

    def counts(self, names: Sequence[str]) -> dict[str, EndpointCounts]:
        """Each replica's counts now, under ``names`` (one per replica, in order)."""
        with self._lock:
            now = self._policy.clock()
            return {
                name: replica.counts(now)
                for name, replica in zip(names, self._replicas, strict=True)
            }
