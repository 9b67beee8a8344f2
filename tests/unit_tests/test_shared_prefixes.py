"""Two copies never read the same long prompt start cold at once; other calls are not held up."""

from __future__ import annotations

import threading
import time
from typing import Any

from langchain_selfinstruct.llama_handles import LlamaHandle

HEADER = "Write examples for each task.\n" * 80  # about 2,400 characters, like a few-shot header


class _Client:
    """Records when each prompt's call ran; the first call of a prompt start takes a while."""

    def __init__(self, log: list[tuple[str, str, float]], lock: threading.Lock) -> None:
        self.log, self.lock = log, lock

    def create_completion(self, prompt: str, **params: Any) -> dict[str, Any]:
        with self.lock:
            self.log.append(("start", prompt[-6:], time.monotonic()))
        time.sleep(0.3)
        with self.lock:
            self.log.append(("end", prompt[-6:], time.monotonic()))
        return {"choices": [{"text": "", "finish_reason": "stop"}], "usage": {}}


def _run(prompts: list[str], delays: list[float]) -> dict[tuple[str, str], float]:
    log: list[tuple[str, str, float]] = []
    lock = threading.Lock()
    handle = LlamaHandle([_Client(log, lock), _Client(log, lock)])

    def call(prompt: str, delay: float) -> None:
        time.sleep(delay)
        handle.run("create_completion", prompt)

    threads = [
        threading.Thread(target=call, args=pair) for pair in zip(prompts, delays, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return {(event, name): at for event, name, at in log}


def test_a_call_sharing_a_long_start_waits_for_the_one_reading_it() -> None:
    times = _run([HEADER + "task-A", HEADER + "task-B"], [0.0, 0.05])
    assert times[("start", "task-B")] >= times[("end", "task-A")]


def test_a_call_with_another_start_uses_the_free_copy_meanwhile() -> None:
    other = "Decide whether each task is a classification.\n" * 60
    times = _run([HEADER + "task-A", HEADER + "task-B", other + "task-C"], [0.0, 0.05, 0.1])
    assert times[("start", "task-C")] < times[("end", "task-A")]  # the second copy is not idle
    assert times[("start", "task-B")] >= times[("end", "task-A")]


def test_once_a_start_was_read_calls_sharing_it_run_side_by_side() -> None:
    log: list[tuple[str, str, float]] = []
    lock = threading.Lock()
    handle = LlamaHandle([_Client(log, lock), _Client(log, lock)])
    handle.run("create_completion", HEADER + "warm-1")  # the header's state is now cached
    log.clear()
    threads = [
        threading.Thread(target=handle.run, args=("create_completion", HEADER + name))
        for name in ("task-A", "task-B")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    times = {(event, name): at for event, name, at in log}
    assert times[("start", "task-B")] < times[("end", "task-A")]
    assert times[("start", "task-A")] < times[("end", "task-B")]


def test_short_shared_starts_do_not_wait() -> None:
    times = _run(["Short header. task-A", "Short header. task-B"], [0.0, 0.05])
    assert times[("start", "task-B")] < times[("end", "task-A")]
