"""Drive an async iterator from synchronous code, with a clean Ctrl-C.

The loop is written once, asynchronously. Sync callers get it through a worker thread with its own
event loop, so ``invoke`` also works where a loop is already running (notebooks). Ctrl-C reaches
only the main thread: the first one asks the loop to stop after its in-flight work (which includes
the disk writes, done in the worker, so an interrupt never tears a line); a second one aborts.

Every sync call runs on the same worker loop, which lives as long as the process: model clients
keep connections open between calls (langchain-openai shares one async HTTP client per server),
and a connection opened on an event loop that has since closed fails with "Event loop is closed".
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
_worker_lock = threading.Lock()
_worker: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None


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
    loop, thread = _worker_loop()
    if threading.current_thread() is thread:
        # Called from code running on the worker loop itself: waiting for it would deadlock.
        threading.Thread(
            target=_drain, args=(factory, stop, items), name="selfinstruct-nested", daemon=True
        ).start()
    else:
        asyncio.run_coroutine_threadsafe(_consume(factory, stop, items), loop)
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


def _worker_loop() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """The shared worker loop and its (daemon) thread, started on first use."""
    global _worker
    with _worker_lock:
        if _worker is None or not _worker[1].is_alive():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="selfinstruct-loop", daemon=True
            )
            thread.start()
            _worker = (loop, thread)
        return _worker


async def _consume(
    factory: Callable[[threading.Event], AsyncIterator[Any]],
    stop: threading.Event,
    items: queue.Queue[tuple[str, Any]],
) -> None:
    try:
        async for item in factory(stop):
            items.put(("item", item))
    except BaseException as e:  # handed to the consuming thread, which re-raises it
        items.put(("error", e))
    else:
        items.put(("done", None))


def _drain(
    factory: Callable[[threading.Event], AsyncIterator[Any]],
    stop: threading.Event,
    items: queue.Queue[tuple[str, Any]],
) -> None:
    asyncio.run(_consume(factory, stop, items))
