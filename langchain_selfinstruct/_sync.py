"""Drive an async iterator from synchronous code, with a clean Ctrl-C.

The loop is written once, asynchronously. Sync callers get it through a worker thread with its own
event loop, so ``invoke`` also works where a loop is already running (notebooks). Ctrl-C reaches
only the main thread: the first one asks the loop to stop after its in-flight work (which includes
the disk writes, done in the worker, so an interrupt never tears a line); a second one aborts.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

__all__ = ["iterate_in_thread"]

T = TypeVar("T")

_POLL_S = 0.1


def iterate_in_thread(factory: Callable[[threading.Event], AsyncIterator[T]]) -> Iterator[T]:
    """Iterate ``factory(stop)`` on a worker thread's event loop.

    Args:
        factory: Builds the async iterator; it must end soon after ``stop`` is set.

    Yields:
        The iterator's items, in order.

    Raises:
        KeyboardInterrupt: Re-raised once the loop has stopped cleanly after a Ctrl-C.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=_drain, args=(factory, stop, items), name="selfinstruct-loop", daemon=True
    )
    thread.start()
    interrupted = False
    try:
        while True:
            try:
                kind, value = items.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                if interrupted:
                    raise
                interrupted = True
                stop.set()
                continue
            if kind == "error":
                raise value
            if kind == "done":
                break
            yield value
    finally:
        stop.set()
    if interrupted:
        raise KeyboardInterrupt


def _drain(
    factory: Callable[[threading.Event], AsyncIterator[Any]],
    stop: threading.Event,
    items: queue.Queue[tuple[str, Any]],
) -> None:
    async def consume() -> None:
        async for item in factory(stop):
            items.put(("item", item))

    try:
        asyncio.run(consume())
    except BaseException as e:  # handed to the consuming thread, which re-raises it
        items.put(("error", e))
    else:
        items.put(("done", None))
