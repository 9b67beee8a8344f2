"""Sampling steps never use a global LLM cache, standalone too; classification may, when asked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake import FakeListLLM

from langchain_selfinstruct.steps import (
    ClassificationIdentifier,
    InstanceGenerator,
    InstructionGenerator,
)


@pytest.fixture
def global_cache() -> Iterator[InMemoryCache]:
    cache = InMemoryCache()
    set_llm_cache(cache)
    try:
        yield cache
    finally:
        set_llm_cache(None)


def test_two_generations_are_two_answers_under_a_global_cache(global_cache: InMemoryCache) -> None:
    llm = FakeListLLM(
        responses=["Name a river.\n2. Sort a list.", "Add two numbers.\n2. Spell it."]
    )
    step = InstructionGenerator(llm)
    first, second = step.invoke(["Write a poem."]), step.invoke(["Write a poem."])
    assert first != second
    assert global_cache._cache == {}


def test_instance_retries_are_not_served_from_a_global_cache(global_cache: InMemoryCache) -> None:
    llm = FakeListLLM(responses=["", "Input: 3\nOutput: 4"])
    instances = InstanceGenerator(llm).invoke({"instruction": "Add one to a number."})
    assert [(i.input, i.output) for i in instances] == [("3", "4")]
    assert global_cache._cache == {}


def test_classification_resamples_are_not_cached(global_cache: InMemoryCache) -> None:
    llm = FakeListLLM(responses=["maybe", "maybe", "Yes"])
    assert ClassificationIdentifier(llm).invoke("Is it sarcastic?") is True
    assert global_cache._cache == {}


def test_classification_uses_the_cache_it_is_given_for_its_greedy_answer() -> None:
    cache = InMemoryCache()
    step = ClassificationIdentifier(FakeListLLM(responses=["Yes", "No"]), cache=cache)
    assert step.invoke("Is it sarcastic?") is True
    assert step.invoke("Is it sarcastic?") is True  # the same greedy answer, from the cache
    assert len(cache._cache) == 1
