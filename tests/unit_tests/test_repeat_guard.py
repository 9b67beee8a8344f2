"""The loop guard: a looping generation stops early and is reported as cut, nothing else is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_selfinstruct import embedded
from langchain_selfinstruct.llama_handles import LlamaHandle
from langchain_selfinstruct.repeat_guard import RepeatGuard, repeats_tail


def _ids(*tokens: int) -> np.ndarray[Any, np.dtype[np.int32]]:
    return np.array(tokens, dtype=np.int32)


def test_a_tail_seen_before_is_a_loop() -> None:
    assert repeats_tail(_ids(1, 2, 3, 9, 1, 2, 3), 3)
    assert not repeats_tail(_ids(1, 2, 3, 9, 1, 2, 4), 3)


def test_short_periods_count_once_the_window_is_covered() -> None:
    assert not repeats_tail(_ids(7, 7, 7), 3)  # the tail is the whole generation
    assert repeats_tail(_ids(7, 7, 7, 7), 3)
    assert repeats_tail(_ids(5, 6, 5, 6, 5, 6), 4)


def test_a_match_across_token_boundaries_is_not_a_token_match() -> None:
    # Little-endian bytes of (0x100, 0) are 00 01 00 00 00 00 00 00; those of 1 are 01 00 00 00,
    # found at byte 1. A byte search alone would call that a repeat.
    tokens = _ids(0x100, 0, 1)
    assert tokens[:-1].tobytes().find(tokens[-1:].tobytes()) == 1
    assert not repeats_tail(tokens, 1)


def test_the_guard_ignores_the_prompt_and_stays_fired() -> None:
    guard = RepeatGuard(window=2)
    prompt = [4, 5, 4, 5, 4, 5]  # a repetitive prompt is not the output looping
    assert not guard(prompt)
    assert not guard([*prompt, 4, 5, 4])  # generated 4 5 4: the tail "5 4" is new
    assert guard([*prompt, 4, 5, 4, 5])  # generated 4 5 4 5: the tail "4 5" came before
    assert guard.fired
    assert guard([*prompt, 4, 5, 4, 5, 9])  # once stopped, every later check agrees


def test_a_window_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        RepeatGuard(window=0)


class _LoopingClient:
    """A stand-in for ``llama_cpp.Llama``: generates ``tokens`` while the criteria allow."""

    def __init__(self, tokens: list[int]) -> None:
        self.tokens = tokens
        self.generated = 0

    def create_completion(self, prompt: str, **params: Any) -> dict[str, Any]:
        prompt_ids, out = [100, 101, 102], list[int]()
        criteria = params.get("stopping_criteria")
        finish = "length"
        for token in self.tokens:
            if criteria is not None and criteria(np.array(prompt_ids + out, dtype=np.int32), None):
                finish = "stop"  # what llama-cpp-python reports for a criteria stop
                break
            out.append(token)
        self.generated = len(out)
        usage = {"prompt_tokens": 3, "completion_tokens": len(out), "total_tokens": 3 + len(out)}
        text = " ".join(map(str, out))
        return {"choices": [{"text": text, "finish_reason": finish}], "usage": usage}


def _model(
    client: _LoopingClient,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    repeat_window: int | None,
) -> embedded.EmbeddedCompletionModel:
    monkeypatch.setattr(embedded, "llama_handle", lambda *args: LlamaHandle([client]))
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    return embedded.load_embedded_model(model_path=gguf, repeat_window=repeat_window)


def test_a_looping_output_is_cut_early_and_reported_as_cut(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    line = list(range(10, 22))  # a 12-token "sentence" the model repeats until max_tokens
    client = _LoopingClient(line * 20)
    llm = _model(client, monkeypatch, tmp_path, repeat_window=8)
    result = llm.generate(["prompt"])
    info = result.generations[0][0].generation_info or {}
    assert info["finish_reason"] == "length"  # the parsers must treat the last item as cut
    assert client.generated == 12 + 8  # one line, then the 8 tokens of its repeat that show it


def test_an_output_without_a_loop_is_untouched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client = _LoopingClient(list(range(10, 60)))
    llm = _model(client, monkeypatch, tmp_path, repeat_window=8)
    info = llm.generate(["prompt"]).generations[0][0].generation_info or {}
    assert client.generated == 50
    assert info["finish_reason"] == "length"  # the client's own reason, passed through


def test_the_guard_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    client = _LoopingClient(list(range(10, 22)) * 5)
    llm = _model(client, monkeypatch, tmp_path, repeat_window=None)
    llm.generate(["prompt"])
    assert client.generated == 60
