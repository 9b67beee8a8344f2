"""Prices by longest prefix, token usage from chat and completion models, and the counters."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseLLM
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult

from langchain_selfinstruct import FakeSelfInstructLLM
from langchain_selfinstruct.stats import DEFAULT_PRICES, RunStats, UsageTracker, price_for


@pytest.mark.parametrize(
    ("name", "expected_key"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("openai:gpt-4o-mini", "gpt-4o-mini"),
        ("openai:gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai:gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4.1-nano", "gpt-4.1-nano"),
        ("azure_openai:gpt-4.1", "gpt-4.1"),
        ("openai:gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("anthropic:claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("embedded:SmolLM2-135M-Instruct", "embedded:"),
    ],
)
def test_price_is_the_longest_matching_prefix(name: str, expected_key: str) -> None:
    assert price_for(name) == DEFAULT_PRICES[expected_key]


@pytest.mark.parametrize("name", ["fake", "fake:self-instruct", "ollama:llama3.1", ""])
def test_unknown_models_have_no_price(name: str) -> None:
    assert price_for(name) is None


def test_user_prices_override_add_and_win_by_length() -> None:
    before = dict(DEFAULT_PRICES)
    prices = {
        "gpt-4o-mini": (1.0, 2.0),
        "gpt-4o-mini-2024": (3.0, 4.0),
        "ollama:": (0.0, 0.0),
    }
    assert price_for("openai:gpt-4o-mini", prices) == (1.0, 2.0)
    assert price_for("openai:gpt-4o-mini-2024-07-18", prices) == (3.0, 4.0)
    assert price_for("ollama:llama3.1", prices) == (0.0, 0.0)
    assert price_for("openai:gpt-4o", prices) == DEFAULT_PRICES["gpt-4o"]
    assert before == DEFAULT_PRICES


def _chat_result(*usages: tuple[int, int] | None) -> LLMResult:
    generations: list[ChatGeneration] = []
    for usage in usages:
        metadata = (
            None
            if usage is None
            else {"input_tokens": usage[0], "output_tokens": usage[1], "total_tokens": sum(usage)}
        )
        message = AIMessage(content="ok", usage_metadata=metadata)
        generations.append(ChatGeneration(message=message))
    return LLMResult(generations=[[generation] for generation in generations])


def test_tracker_sums_chat_usage_metadata() -> None:
    tracker = UsageTracker()
    tracker.on_llm_end(_chat_result((10, 3), (7, 2)))
    tracker.on_llm_end(_chat_result((1, 1)))
    assert (tracker.prompt_tokens, tracker.completion_tokens) == (18, 6)
    assert tracker.calls == 2


def test_tracker_prefers_usage_metadata_over_llm_output() -> None:
    tracker = UsageTracker()
    result = _chat_result((5, 4))
    result.llm_output = {"token_usage": {"prompt_tokens": 500, "completion_tokens": 400}}
    tracker.on_llm_end(result)
    assert (tracker.prompt_tokens, tracker.completion_tokens) == (5, 4)


def test_tracker_reads_completion_token_usage_and_counts_calls_without_usage() -> None:
    tracker = UsageTracker()
    tracker.on_llm_end(
        LLMResult(
            generations=[[Generation(text="1. Plan a picnic.")]],
            llm_output={"token_usage": {"prompt_tokens": 40, "completion_tokens": 12}},
        )
    )
    tracker.on_llm_end(_chat_result(None))
    tracker.on_llm_end(LLMResult(generations=[[Generation(text="x")]], llm_output=None))
    assert (tracker.prompt_tokens, tracker.completion_tokens) == (40, 12)
    assert tracker.calls == 3
    assert tracker.errors == 0


def test_tracker_sees_a_batch_through_the_callback_system() -> None:
    # BaseLLM reports one run per prompt; only the first carries the batch's token_usage.
    prompts = ["Task: Name a fruit.\nIs it classification?", "one two three", "a b"]
    tracker = UsageTracker()
    FakeSelfInstructLLM().batch([*prompts], config={"callbacks": [tracker]})
    assert tracker.calls == len(prompts)
    assert tracker.prompt_tokens == sum(len(p.split()) for p in prompts)
    assert tracker.completion_tokens > 0


class _BrokenLLM(BaseLLM):
    @property
    def _llm_type(self) -> str:
        return "broken"

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        raise ConnectionError("server closed the connection")


def test_tracker_counts_errors_reported_by_a_failing_model() -> None:
    tracker = UsageTracker()
    for _ in range(2):
        with pytest.raises(ConnectionError):
            _BrokenLLM().invoke("hello", config={"callbacks": [tracker]})
    assert tracker.errors == 2
    assert tracker.calls == 0


def test_tracker_totals_are_exact_under_concurrent_callbacks() -> None:
    tracker = UsageTracker()
    result = _chat_result((3, 1))

    def report() -> None:
        for _ in range(500):
            tracker.on_llm_end(result)
            tracker.on_llm_error(RuntimeError("x"))

    threads = [threading.Thread(target=report) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (tracker.calls, tracker.errors) == (4000, 4000)
    assert (tracker.prompt_tokens, tracker.completion_tokens) == (12000, 4000)


def test_run_stats_to_dict_is_plain_sorted_json() -> None:
    stats = RunStats(
        accepted=4,
        rounds=2,
        rejected=Counter({"near_duplicate": 3, "blacklisted:draw": 1}),
        failures=Counter({"generate_instances": 2}),
        prompt_tokens=100,
        completion_tokens=25,
        elapsed_s=1.23456,
        cost_usd=None,
        stop_reason="target",
    )
    record = stats.to_dict()
    assert json.loads(json.dumps(record)) == record
    assert list(record["rejected"]) == ["blacklisted:draw", "near_duplicate"]
    assert type(record["rejected"]) is dict
    assert record["failures"] == {"generate_instances": 2}
    assert record["total_tokens"] == stats.total_tokens == 125
    assert record["elapsed_s"] == 1.235
    assert record["cost_usd"] is None
    assert set(record) == {
        "accepted",
        "rounds",
        "generated_instructions",
        "instances_kept",
        "rejected",
        "failures",
        "fallbacks",
        "surplus",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "model_calls",
        "model_errors",
        "cost_usd",
        "elapsed_s",
        "stop_reason",
        "last_error",
        "endpoints",
    }


def test_run_stats_defaults_start_at_zero_and_do_not_share_counters() -> None:
    first, second = RunStats(), RunStats()
    first.rejected["near_duplicate"] += 1
    assert second.rejected == Counter()
    assert second.to_dict()["accepted"] == 0
    assert second.stop_reason is None


@pytest.mark.parametrize(
    ("cost", "shown"),
    [(None, "unknown (no price for this model)"), (0.0, "$0.0000"), (1234.56789, "$1,234.5679")],
)
def test_one_cost_format_for_every_display(cost: float | None, shown: str) -> None:
    from langchain_selfinstruct.stats import format_cost

    assert format_cost(cost) == shown


def test_langchain_cores_usage_callback_sees_the_fake_completion_models_tokens(
    tmp_path: Path,
) -> None:
    from langchain_core.callbacks import get_usage_metadata_callback

    from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline

    with get_usage_metadata_callback() as handler:
        summary = SelfInstructPipeline(FakeSelfInstructLLM(), max_concurrency=2).run(tmp_path, 3)
    stats = summary.stats
    assert stats.total_tokens > 0
    assert handler.usage_metadata == {
        "fake-self-instruct": {
            "input_tokens": stats.prompt_tokens,
            "output_tokens": stats.completion_tokens,
            "total_tokens": stats.total_tokens,
        }
    }


def test_a_completion_generation_answers_as_text_and_counts_once() -> None:
    from langchain_selfinstruct.stats import completion_generation

    generation = completion_generation(
        " Yes",
        model_name="m",
        prompt_tokens=7,
        completion_tokens=1,
        generation_info={"finish_reason": "length"},
    )
    assert generation.text == " Yes"
    assert generation.generation_info == {"finish_reason": "length"}
    result = LLMResult(
        generations=[[generation]],
        llm_output={"token_usage": {"prompt_tokens": 7, "completion_tokens": 1}},
    )
    tracker = UsageTracker()
    tracker.on_llm_end(result)
    assert (tracker.prompt_tokens, tracker.completion_tokens, tracker.calls) == (7, 1, 1)
