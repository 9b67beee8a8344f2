"""One walker for every model wrapper: leaves, primary and rebuild, and what uses them."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseLanguageModel, FakeListLLM, GenericFakeChatModel
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_core.runnables import ConfigurableField, Runnable, RunnableLambda
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langchain_selfinstruct import FakeSelfInstructLLM, model_name
from langchain_selfinstruct.models import model_secrets
from langchain_selfinstruct.rate_limit import AcquireRateLimit, with_rate_limiter
from langchain_selfinstruct.steps.model_setup import configure_model, with_cache
from langchain_selfinstruct.unwrap import is_openai_compatible_server, leaves, primary, rebuild

KEY = "sk-unwrap-test-key-0001"


def _llm(text: str = "a") -> FakeSelfInstructLLM:
    return FakeSelfInstructLLM(seed=len(text))


WRAPPERS: dict[str, Any] = {
    "bind": lambda m: m.bind(stop=["x"]),
    "with_config": lambda m: m.with_config(tags=["t"]),
    "with_retry": lambda m: m.with_retry(stop_after_attempt=2),
    "with_fallbacks": lambda m: m.with_fallbacks([FakeListLLM(responses=["b"])]),
    "configurable_alternatives": lambda m: m.configurable_alternatives(
        ConfigurableField(id="model"), other=FakeListLLM(responses=["c"])
    ),
    "configurable_fields": lambda m: m.configurable_fields(seed=ConfigurableField(id="seed")),
    "rate_limit_step": lambda m: with_rate_limiter(m, InMemoryRateLimiter()),
    "nested": lambda m: (
        with_rate_limiter(m, InMemoryRateLimiter())
        .with_fallbacks([FakeListLLM(responses=["d"])])
        .bind(stop=["y"])
        .with_config(run_name="n")
    ),
}


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_primary_sees_through_every_wrapper(wrapper: str) -> None:
    model = _llm()
    wrapped: Runnable[Any, Any] = WRAPPERS[wrapper](model)
    assert primary(wrapped) is model
    assert model_name(wrapped) == "fake:self-instruct"


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_rebuild_changes_every_leaf_and_keeps_the_wrappers(wrapper: str) -> None:
    model = _llm()
    wrapped: Runnable[Any, Any] = WRAPPERS[wrapper](model)

    def tag(leaf: Runnable[Any, Any]) -> Runnable[Any, Any]:
        if not isinstance(leaf, BaseLanguageModel):
            return leaf  # the rate-limit step in front of a completion model
        return leaf.model_copy(update={"tags": ["changed"]})

    rebuilt = rebuild(wrapped, tag)
    assert type(rebuilt) is type(wrapped)
    tags = [leaf.tags for leaf in leaves(rebuilt) if isinstance(leaf, BaseLanguageModel)]
    assert tags == [["changed"]] * len(leaves(wrapped))
    assert model.tags is None  # the caller's model is untouched


def test_fallbacks_and_alternatives_contribute_every_leaf_primary_first() -> None:
    first, second, third = _llm("a"), FakeListLLM(responses=["b"]), FakeListLLM(responses=["c"])
    chained = first.with_fallbacks([second]).configurable_alternatives(
        ConfigurableField(id="m"), other=third
    )
    assert leaves(chained) == [first, second, third]


def test_a_sequence_without_a_model_is_its_own_leaf() -> None:
    sequence = RunnableLambda(str) | RunnableLambda(len)
    assert leaves(sequence) == [sequence]


def test_configure_model_and_with_cache_reach_models_behind_a_rate_limit_step() -> None:
    limited = with_rate_limiter(_llm(), InMemoryRateLimiter())
    configured, applied = configure_model(limited, {"temperature": 0.3, "nonexistent": 1})
    assert isinstance(primary(configured), FakeSelfInstructLLM)
    assert applied == {}  # the fake declares no sampling field: nothing is set
    uncached = primary(with_cache(limited, False))
    assert isinstance(uncached, FakeSelfInstructLLM) and uncached.cache is False


def test_secrets_are_found_behind_every_layer_and_fallback() -> None:
    chat = ChatOpenAI(model="m", api_key=SecretStr(KEY))
    other = ChatOpenAI(model="m", api_key=SecretStr(KEY[::-1]))
    wrapped = chat.bind(stop=["x"]).with_fallbacks([other]).with_config(tags=["t"])
    assert set(model_secrets(wrapped)) == {KEY, KEY[::-1]}


def test_the_openai_compatible_server_check_reads_the_primary_model() -> None:
    local = ChatOpenAI(model="m", api_key=SecretStr(KEY), base_url="http://127.0.0.1:8000/v1")
    hosted = ChatOpenAI(model="m", api_key=SecretStr(KEY))
    assert is_openai_compatible_server(local.bind(stop=["x"]))
    assert not is_openai_compatible_server(hosted.with_fallbacks([local]))
    assert not is_openai_compatible_server(GenericFakeChatModel(messages=iter([])))


def test_a_chat_model_keeps_its_own_rate_limiter_and_a_completion_model_gets_a_step() -> None:
    limiter = InMemoryRateLimiter()
    chat = GenericFakeChatModel(messages=iter([]))
    assert with_rate_limiter(chat, limiter).rate_limiter is limiter  # type: ignore[attr-defined]
    step, model = with_rate_limiter(_llm(), limiter).steps  # type: ignore[attr-defined]
    assert isinstance(step, AcquireRateLimit) and step.rate_limiter is limiter
    assert isinstance(model, FakeSelfInstructLLM)
