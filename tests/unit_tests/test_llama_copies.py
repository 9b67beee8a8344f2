"""How calls share the loaded copies: shortest call first, and no save of a state already cached."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from langchain_selfinstruct.llama_handles import LlamaHandle


class _Client:
    """Records the order in which calls got the copy; each call holds it a moment."""

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def create_completion(self, prompt: str, **params: Any) -> dict[str, Any]:
        self.order.append(prompt)
        time.sleep(0.2)
        return {"choices": [{"text": "", "finish_reason": "stop"}], "usage": {}}


def _arrive(handle: LlamaHandle, calls: list[tuple[str, int | None, float]]) -> None:
    def call(prompt: str, max_tokens: int | None, delay: float) -> None:
        time.sleep(delay)
        handle.run("create_completion", prompt, max_tokens=max_tokens)

    threads = [threading.Thread(target=call, args=args) for args in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)


def test_a_short_call_does_not_queue_behind_long_ones_that_came_first() -> None:
    order: list[str] = []
    handle = LlamaHandle([_Client(order)])
    _arrive(
        handle,
        [("gen-1", 320, 0.0), ("gen-2", 320, 0.05), ("gen-3", 320, 0.08), ("classify", 3, 0.1)],
    )
    assert order[0] == "gen-1"  # it had the copy already
    assert order[1] == "classify"
    assert order[2:] == ["gen-2", "gen-3"]  # equals keep their arrival order


def test_every_call_is_served_and_a_call_without_max_tokens_goes_last() -> None:
    order: list[str] = []
    handle = LlamaHandle([_Client(order), _Client(order)])
    _arrive(
        handle,
        [(f"call-{i}", i, 0.01 * i) for i in range(1, 7)] + [("unbounded", None, 0.02)],
    )
    assert sorted(order) == sorted([f"call-{i}" for i in range(1, 7)] + ["unbounded"])
    assert order[-1] == "unbounded"


class _Saving:
    """Stands in for a ``Llama`` whose context holds ``input_ids`` when it saves its state."""

    def __init__(self) -> None:
        self.input_ids = np.zeros(0, dtype=np.intc)
        self.saves = 0

    def save_state(self) -> Any:
        self.saves += 1
        return SimpleNamespace(
            input_ids=self.input_ids.copy(),
            scores=np.zeros((1, 4), dtype=np.single),
            llama_state_size=1000,
        )


def test_a_state_is_saved_only_when_no_cached_one_covers_nearly_all_of_it() -> None:
    pytest.importorskip("llama_cpp")
    from langchain_selfinstruct.llama_handles import (
        _NEW_TAIL_TOKENS,
        _prefix_state_cache,
        _skip_redundant_saves,
    )

    cache = _prefix_state_cache(1 << 30)
    client = _Saving()
    _skip_redundant_saves(client, cache)
    header = list(range(1000, 1700))

    def finish_call(ids: list[int]) -> None:  # what Llama does at the end of a completion
        client.input_ids = np.array(ids, dtype=np.intc)
        cache[tuple(ids)] = client.save_state()

    finish_call([*header, 1, 2, 3])  # the first call with this header: saved
    assert (client.saves, len(cache.cache_state)) == (1, 1)
    finish_call([*header, 4, 5, *range(60)])  # same header, a short tail of its own: skipped
    assert (client.saves, len(cache.cache_state)) == (1, 1)
    finish_call([*header, *range(5000, 5000 + _NEW_TAIL_TOKENS + 1)])  # a long new part: saved
    assert (client.saves, len(cache.cache_state)) == (2, 2)
    finish_call(list(range(9000, 9100)))  # another header: saved
    assert (client.saves, len(cache.cache_state)) == (3, 3)
