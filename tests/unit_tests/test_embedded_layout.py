"""How the embedded model's copies and threads are laid out over the usable cores."""

from __future__ import annotations

import pytest

from langchain_selfinstruct import llama_handles
from langchain_selfinstruct.llama_handles import replica_layout


@pytest.mark.parametrize(
    ("cpus", "n_threads", "n_replicas", "expected"),
    [
        (2, None, None, (1, 2)),  # this project's machines: two single-thread copies
        (1, None, None, (1, 1)),
        (8, None, None, (4, 2)),  # larger machines: still two copies, more threads each
        (2, 2, None, (2, 1)),  # a copy that wants both cores is the only one
        (8, 2, None, (2, 2)),
        (8, None, 4, (2, 4)),  # asked for four copies: the cores are shared out
        (2, 1, 3, (1, 3)),  # both given: taken as they are
    ],
)
def test_layout(
    cpus: int,
    n_threads: int | None,
    n_replicas: int | None,
    expected: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(llama_handles, "_usable_cpus", lambda: cpus)
    assert replica_layout(n_threads, n_replicas) == expected
