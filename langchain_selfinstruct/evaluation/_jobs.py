"""Run an evaluation command's model calls concurrently, appending each record as it arrives.

The pattern of ``selfinstruct review``: up to ``concurrency`` calls at once, every finished record
appended and fsynced before it is counted, Ctrl-C stopping after the calls in flight (what
finished is on disk), and a failed call recorded as a failure, never dropped. Unlike review, the
records that finish together are written with one fsync, on a worker thread: at 32 judge calls
in flight an fsync per record on the event loop held every call up (benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from langchain_selfinstruct._sync import iterate_in_thread
from langchain_selfinstruct.evaluation.store import JsonlLog

__all__ = ["Counts", "error_text", "run_jobs"]

R = TypeVar("R", bound=BaseModel)
_MAX_ERROR_CHARS = 300


@dataclass
class Counts:
    """What one evaluation command did."""

    path: Path
    """The log written."""
    total: int = 0
    """Calls the command had to make or had made before (done + skipped + failed)."""
    done: int = 0
    """Records written with a result in this call."""
    skipped: int = 0
    """Already done by an earlier call."""
    failed: int = 0
    """Calls that failed after their retries (recorded, and tried again next time)."""


def error_text(error: BaseException, secrets: Sequence[str]) -> str:
    """The first line of an error, credentials removed, at most 300 characters."""
    message = (str(error).splitlines() or [type(error).__name__])[0] or type(error).__name__
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    return message[:_MAX_ERROR_CHARS]


def run_jobs(
    counts: Counts,
    jobs: Sequence[Callable[[], Awaitable[R]]],
    failed: Callable[[R], bool],
    concurrency: int,
) -> Counts:
    """Run ``jobs`` (each returns its record, a failure included) and append their records.

    Returns:
        ``counts`` updated. A Ctrl-C stops after the calls in flight.
    """

    def factory(stop: threading.Event) -> AsyncIterator[R]:
        return _run(counts, jobs, failed, concurrency, stop)

    try:
        for _ in iterate_in_thread(factory):
            pass
    except KeyboardInterrupt:
        if not counts.done and not counts.failed:
            raise
    return counts


async def _run(
    counts: Counts,
    jobs: Sequence[Callable[[], Awaitable[R]]],
    failed: Callable[[R], bool],
    concurrency: int,
    stop: threading.Event,
) -> AsyncIterator[R]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[R]]) -> R:
        async with gate:
            if stop.is_set():
                raise asyncio.CancelledError
            return await job()

    running = [asyncio.ensure_future(one(job)) for job in jobs]
    position: dict[asyncio.Future[R], int] = {f: i for i, f in enumerate(running)}
    pending: set[asyncio.Future[R]] = set(running)
    try:
        with JsonlLog[R](counts.path) as log:
            while pending:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                ready = sorted((f for f in finished if not f.cancelled()), key=position.__getitem__)
                records = [f.result() for f in ready]  # a job returns its failure as a record
                # Group commit off the event loop: the calls in flight go on during the fsync,
                # and records that finished together cost one fsync, not one each.
                await asyncio.to_thread(log.append, *records)
                for record in records:
                    if failed(record):
                        counts.failed += 1
                    else:
                        counts.done += 1
                    yield record
    finally:
        for future in running:
            future.cancel()
        await asyncio.gather(*running, return_exceptions=True)
