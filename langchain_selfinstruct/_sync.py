"""Drive an async iterator from synchronous code, with a clean Ctrl-C.

The loop is written once, asynchronously. Sync callers get it through a worker thread with its own
event loop, so ``invoke`` also works where a loop is already running (notebooks). Ctrl-C reaches
only the main thread, and escalates:

1. the first asks the loop to stop after its in-flight work (which includes the disk writes,
   done in the worker, so an interrupt never tears a line);
2. the second cancels the work in flight and waits for the loop's cleanup (a run directory
   writes its stats there), which takes no model call;
3. a third stops waiting.

Every sync call runs on the same worker loop, which lives as long as the process: model clients
keep connections open between calls (langchain-openai shares one async HTTP client per server),
and a connection opened on an event loop that has since closed fails with "Event loop is closed".
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar, cast

__all__ = ["ThreadIterator", "iterate_in_thread"]

T = TypeVar("T")

_POLL_S = 0.1
_worker_lock = threading.Lock()
_worker: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None


def iterate_in_thread(factory: Callable[[threading.Event], AsyncIterator[T]]) -> ThreadIterator[T]:
    """Iterate ``factory(stop)`` on a worker thread's event loop.

    Args:
        factory: Builds the async iterator; it must end soon after ``stop`` is set.

    Returns:
        An iterator of the items, in order; see :class:`ThreadIterator`.
    """
    return ThreadIterator(factory)


class ThreadIterator(Iterator[T], Generic[T]):
    """The items of an async iterator running on the worker loop.

    Raises ``KeyboardInterrupt`` once the loop has ended after an interrupt (a Ctrl-C while
    waiting for an item, or :meth:`interrupt`).
    """

    def __init__(self, factory: Callable[[threading.Event], AsyncIterator[T]]) -> None:
        self._items: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._interrupts = 0
        self._finished = False
        self._cancel = _start(factory, self._stop, self._items)

    def __iter__(self) -> ThreadIterator[T]:
        return self

    def __next__(self) -> T:
        while not self._finished:
            try:
                kind, value = self._items.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                self.interrupt()
                continue
            if kind == "item":
                return cast(T, value)
            self._finished = True
            self._stop.set()
            if kind == "error" and not (self._interrupts and _is_cancel(value)):
                raise value
            if self._interrupts:
                raise KeyboardInterrupt
        raise StopIteration

    def interrupt(self) -> None:
        """Escalate as a Ctrl-C does: stop after the work in flight, then cancel it, then give up.

        Raises:
            KeyboardInterrupt: On the third call, without waiting for the loop to end.
        """
        self._interrupts += 1
        if self._interrupts == 1:
            self._stop.set()
        elif self._interrupts == 2:
            self._cancel()
        else:
            self._finished = True
            raise KeyboardInterrupt

    def close(self) -> None:
        """Stop early: the loop ends after its in-flight work."""
        self._stop.set()

    def __del__(self) -> None:
        # Like a generator that is dropped: the loop must not run on for nobody.
        self._stop.set()


def _is_cancel(error: BaseException) -> bool:
    return isinstance(error, (asyncio.CancelledError, KeyboardInterrupt))


def _start(
    factory: Callable[[threading.Event], AsyncIterator[Any]],
    stop: threading.Event,
    items: queue.Queue[tuple[str, Any]],
) -> Callable[[], None]:
    """Start ``factory(stop)`` feeding ``items``; return the function that cancels it."""
    loop, thread = _worker_loop()
    if threading.current_thread() is thread:
        # Called from code running on the worker loop itself: waiting for it would deadlock.
        loop = asyncio.new_event_loop()
        task = loop.create_task(_consume(factory, stop, items))
        threading.Thread(
            target=_run_until_complete, args=(loop, task), name="selfinstruct-nested", daemon=True
        ).start()
        cancel_work: Callable[[], object] = task.cancel
    else:
        cancel_work = asyncio.run_coroutine_threadsafe(_consume(factory, stop, items), loop).cancel

    def cancel() -> None:
        try:
            loop.call_soon_threadsafe(cancel_work)
        except RuntimeError:
            return  # the loop has already finished and closed: nothing left to cancel

    return cancel


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


def _run_until_complete(loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
    try:
        loop.run_until_complete(task)
    finally:
        loop.close()
