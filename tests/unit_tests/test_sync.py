"""The sync bridge: order, errors, running inside an event loop, and a clean Ctrl-C."""

from __future__ import annotations

import asyncio
import queue
import signal
import threading
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from langchain_selfinstruct import _sync
from langchain_selfinstruct._sync import iterate_in_thread


class _StepFailed(Exception):
    """A distinctive error type, to check the type survives the thread hop."""


async def _count(n: int) -> AsyncIterator[int]:
    for number in range(n):
        await asyncio.sleep(0)
        yield number


async def _until_stopped(stop: threading.Event, *, grace_s: float = 0.0) -> AsyncIterator[Any]:
    """Yield 0, 1, 2, wait for ``stop`` (bounded), then yield one more item."""
    for number in range(3):
        yield number
    for _ in range(500):
        if stop.is_set():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(grace_s)
    yield "after-stop" if stop.is_set() else "timed-out"


def _drain_into(items: Iterator[Any], received: list[Any]) -> None:
    for item in items:
        received.append(item)


def test_items_arrive_in_order() -> None:
    assert list(iterate_in_thread(lambda stop: _count(200))) == list(range(200))


def test_the_loop_runs_on_a_worker_thread() -> None:
    threads: list[int] = []

    async def where(stop: threading.Event) -> AsyncIterator[int]:
        threads.append(threading.get_ident())
        yield 1

    assert list(iterate_in_thread(where)) == [1]
    assert threads and threads[0] != threading.get_ident()


def test_an_exception_propagates_with_its_type_after_the_earlier_items() -> None:
    async def failing(stop: threading.Event) -> AsyncIterator[int]:
        yield 1
        yield 2
        raise _StepFailed("the model server went away")

    received: list[int] = []
    with pytest.raises(_StepFailed, match="went away"):
        _drain_into(iterate_in_thread(failing), received)
    assert received == [1, 2]


def test_an_exception_before_the_first_item_propagates() -> None:
    def factory(stop: threading.Event) -> AsyncIterator[int]:
        raise LookupError("no such run")

    with pytest.raises(LookupError, match="no such run"):
        list(iterate_in_thread(factory))


async def test_works_when_called_from_inside_a_running_event_loop() -> None:
    # asyncio.run() in this thread would fail here; the worker thread has its own loop.
    assert asyncio.get_running_loop().is_running()
    assert list(iterate_in_thread(lambda stop: _count(5))) == [0, 1, 2, 3, 4]


def test_closing_the_iterator_early_sets_stop() -> None:
    seen: list[threading.Event] = []

    def factory(stop: threading.Event) -> AsyncIterator[Any]:
        seen.append(stop)
        return _until_stopped(stop)

    items = iterate_in_thread(factory)
    assert next(items) == 0
    items.close()
    assert seen[0].is_set()


class _InterruptingQueue(queue.Queue[tuple[str, Any]]):
    """Raises KeyboardInterrupt from ``get`` (like Ctrl-C in the main thread) after 3 items."""

    interrupts = 1

    def __init__(self) -> None:
        super().__init__()
        self.delivered = 0
        self.raised = 0

    def get(self, block: bool = True, timeout: float | None = None) -> tuple[str, Any]:
        if self.delivered >= 3 and self.raised < self.interrupts:
            self.raised += 1
            raise KeyboardInterrupt
        item = super().get(block, timeout)
        self.delivered += 1
        return item


def _patch_queue(monkeypatch: pytest.MonkeyPatch, interrupts: int) -> None:
    cls = type("Q", (_InterruptingQueue,), {"interrupts": interrupts})
    monkeypatch.setattr(_sync, "queue", types.SimpleNamespace(Queue=cls, Empty=queue.Empty))


def test_ctrl_c_sets_stop_drains_to_the_end_then_reraises(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch_queue(monkeypatch, interrupts=1)
    stops: list[threading.Event] = []

    def factory(stop: threading.Event) -> AsyncIterator[Any]:
        stops.append(stop)
        return _until_stopped(stop)

    received: list[Any] = []
    with pytest.raises(KeyboardInterrupt):
        _drain_into(iterate_in_thread(factory), received)
    assert received == [0, 1, 2, "after-stop"]
    assert stops[0].is_set()


def test_a_second_ctrl_c_aborts_without_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch_queue(monkeypatch, interrupts=2)
    received: list[Any] = []
    with pytest.raises(KeyboardInterrupt):
        _drain_into(iterate_in_thread(lambda stop: _until_stopped(stop, grace_s=0.3)), received)
    assert received == [0, 1, 2]


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGINT"),
    reason="signals reach only the main thread",
)
def test_a_real_sigint_during_the_loop_stops_it_cleanly() -> None:
    main_ident = threading.main_thread().ident
    assert main_ident is not None

    async def interrupted(stop: threading.Event) -> AsyncIterator[Any]:
        yield "before"
        # Let the main thread drain the queue and block in get() before the signal lands.
        await asyncio.sleep(0.3)
        signal.pthread_kill(main_ident, signal.SIGINT)
        for _ in range(500):
            if stop.is_set():
                break
            await asyncio.sleep(0.01)
        yield "after-stop" if stop.is_set() else "timed-out"

    received: list[Any] = []
    with pytest.raises(KeyboardInterrupt):
        _drain_into(iterate_in_thread(interrupted), received)
    assert received == ["before", "after-stop"]


def test_a_second_ctrl_c_cancels_the_work_and_waits_for_its_cleanup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _patch_queue(monkeypatch, interrupts=2)
    cleaned: list[str] = []

    async def slow(stop: threading.Event) -> AsyncIterator[Any]:
        try:
            for number in range(3):
                yield number
            await asyncio.sleep(30)
            yield "never"
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # the cleanup may itself await (the run writes its stats)
            cleaned.append("cancelled")
            raise

    received: list[Any] = []
    with pytest.raises(KeyboardInterrupt):
        _drain_into(iterate_in_thread(slow), received)
    assert received == [0, 1, 2]
    assert cleaned == ["cancelled"]


def test_a_third_ctrl_c_gives_up_waiting_for_the_cleanup(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch_queue(monkeypatch, interrupts=3)

    async def stubborn(stop: threading.Event) -> AsyncIterator[Any]:
        for number in range(3):
            yield number
        while True:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                await asyncio.sleep(0.5)
                return

    with pytest.raises(KeyboardInterrupt):
        list(iterate_in_thread(stubborn))


def test_interrupt_escalates_like_ctrl_c_for_a_caller_interrupted_outside_the_iterator() -> None:
    stops: list[threading.Event] = []

    def factory(stop: threading.Event) -> AsyncIterator[Any]:
        stops.append(stop)
        return _until_stopped(stop)

    items = iterate_in_thread(factory)
    assert next(items) == 0
    items.interrupt()
    assert stops[0].is_set()
    with pytest.raises(KeyboardInterrupt):
        list(items)
