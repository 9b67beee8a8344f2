"""Step plumbing (model_setup, stop cut): model kind, sampling, structured-output support."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import FakeListLLM, GenericFakeChatModel
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage
from langchain_core.runnables import (
    Runnable,
    RunnableBinding,
    RunnableLambda,
    RunnableWithFallbacks,
)

from langchain_selfinstruct.parsers import cut_at_stop
from langchain_selfinstruct.steps import ClassificationIdentifier
from langchain_selfinstruct.steps.model_setup import (
    configure_model,
    resolve_prompt_kind,
    supports_structured_output,
)
from tests.unit_tests.fakes import (
    FakeStructuredChatModel,
    RecordingChatModel,
    RecordingLLM,
    Reply,
    Script,
)

SETTINGS = {"temperature": 0.7, "top_p": 0.5, "max_tokens": 99, "presence_penalty": 2.0}


def with_fallbacks(primary: Runnable[Any, Any], backup: Runnable[Any, Any]) -> Runnable[Any, Any]:
    return RunnableWithFallbacks(runnable=primary, fallbacks=[backup])


def chat_fake() -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter(["Yes"]))


class OllamaLike(GenericFakeChatModel):
    """A chat model that names its token cap like ChatOllama and has no ``max_tokens``."""

    num_predict: int | None = None


def test_completion_models_get_completion_prompts() -> None:
    llm = FakeListLLM(responses=["x"])
    assert resolve_prompt_kind(llm) == "completion"
    assert resolve_prompt_kind(llm.bind(stop=["x"])) == "completion"
    assert resolve_prompt_kind(with_fallbacks(llm, chat_fake())) == "completion"
    assert resolve_prompt_kind(llm.with_retry()) == "completion"


def test_chat_and_unknown_runnables_get_chat_prompts() -> None:
    assert resolve_prompt_kind(chat_fake()) == "chat"
    assert resolve_prompt_kind(with_fallbacks(chat_fake(), FakeListLLM(responses=["x"]))) == "chat"
    assert resolve_prompt_kind(RunnableLambda(lambda prompt: "Yes")) == "chat"


def test_forced_prompt_style_wins() -> None:
    assert resolve_prompt_kind(FakeListLLM(responses=["x"]), "chat") == "chat"
    assert resolve_prompt_kind(chat_fake(), "completion") == "completion"


def test_configure_sets_only_declared_fields_on_a_copy() -> None:
    model = RecordingChatModel(script=Script(["x"]), temperature=0.1)
    configured, applied = configure_model(model, SETTINGS)
    assert applied == {"temperature": 0.7, "top_p": 0.5, "max_tokens": 99}
    assert isinstance(configured, RecordingChatModel)
    assert (configured.temperature, configured.top_p, configured.max_tokens) == (0.7, 0.5, 99)
    assert not hasattr(configured, "presence_penalty")
    assert model.temperature == 0.1
    assert configured.log is model.log


def test_configure_maps_max_tokens_to_provider_names() -> None:
    model = OllamaLike(messages=iter(["x"]))
    configured, applied = configure_model(model, {"max_tokens": 42})
    assert applied == {"num_predict": 42}
    assert isinstance(configured, OllamaLike)
    assert configured.num_predict == 42


def test_configure_leaves_models_without_fields_untouched() -> None:
    llm = FakeListLLM(responses=["x"])
    configured, applied = configure_model(llm, SETTINGS)
    assert configured is llm
    assert applied == {}


def test_configure_looks_through_bindings_and_keeps_bound_kwargs() -> None:
    model = RecordingLLM(script=Script(["x"]))
    configured, applied = configure_model(model.bind(stop=["END"], temperature=0.0), SETTINGS)
    assert isinstance(configured, RunnableBinding)
    assert configured.kwargs == {"stop": ["END"], "temperature": 0.0}
    assert isinstance(configured.bound, RecordingLLM)
    assert configured.bound.top_p == 0.5
    assert applied["top_p"] == 0.5
    assert model.top_p is None


def test_configure_looks_through_fallbacks() -> None:
    primary = RecordingLLM(script=Script(["x"]))
    backup = RecordingChatModel(script=Script(["y"]))
    configured, applied = configure_model(with_fallbacks(primary, backup), SETTINGS)
    assert isinstance(configured, RunnableWithFallbacks)
    assert isinstance(configured.runnable, RecordingLLM)
    assert configured.runnable.presence_penalty == 2.0
    fallback = configured.fallbacks[0]
    assert isinstance(fallback, RecordingChatModel)
    assert fallback.max_tokens == 99
    assert applied["presence_penalty"] == 2.0


def test_configure_leaves_unknown_runnables_alone() -> None:
    runnable: RunnableLambda[Any, str] = RunnableLambda(lambda prompt: "Yes")
    assert configure_model(runnable, SETTINGS) == (runnable, {})


def test_bound_kwargs_override_configured_fields_at_call_time() -> None:
    model = RecordingChatModel(script=Script(["Yes"]))
    step = ClassificationIdentifier(model.bind(temperature=0.9), structured=False)
    assert step.invoke("Is it spam?") is True
    call = model.log.calls[-1]
    assert call.settings["max_tokens"] == 16
    assert call.kwargs["temperature"] == 0.9


def structured_fake(profile: ModelProfile | None) -> FakeStructuredChatModel:
    return FakeStructuredChatModel(script=Script(["x"]), structured=Script([None]), profile=profile)


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (ModelProfile(structured_output=True), True),
        (ModelProfile(tool_calling=True, structured_output=False), True),
        (ModelProfile(structured_output=False, tool_calling=False), False),
        (None, True),
    ],
)
def test_structured_support_follows_profile_then_class(
    profile: ModelProfile | None, expected: bool
) -> None:
    assert supports_structured_output(structured_fake(profile)) is expected


def test_plain_fakes_and_wrapped_models_do_not_claim_structured_support() -> None:
    assert not supports_structured_output(chat_fake())
    assert not supports_structured_output(FakeListLLM(responses=["x"]))
    assert not supports_structured_output(structured_fake(None).bind(stop=["x"]))


def test_structured_true_needs_with_structured_output() -> None:
    with pytest.raises(ValueError, match="with_structured_output"):
        ClassificationIdentifier(RunnableLambda(lambda prompt: "Yes"), structured=True)


def test_structured_auto_never_applies_to_completion_models() -> None:
    step = ClassificationIdentifier(RecordingLLM(script=Script([" Yes"])))
    assert not step.uses_structured_output


@pytest.mark.parametrize(
    ("output", "text", "finish"),
    [
        ("1. a\n2. b\n\n3. c", "1. a\n2. b", "stop"),
        (
            AIMessage(content="a Task: b", response_metadata={"finish_reason": "length"}),
            "a ",
            "stop",
        ),
        (
            AIMessage(content="no stop here", response_metadata={"finish_reason": "length"}),
            None,
            "length",
        ),
    ],
)
def testcut_at_stop(output: Any, text: str | None, finish: str) -> None:
    message = cut_at_stop(output, ["\n\n", "Task:"])
    expected = text if text is not None else output.content
    assert message.content == expected
    assert message.response_metadata.get("finish_reason", "stop") == finish


def testcut_at_stop_uses_the_earliest_stop() -> None:
    assert cut_at_stop("x Task: y\n\nz", ["\n\n", "Task:"]).content == "x "


def test_recording_fakes_report_finish_reasons() -> None:
    llm = RecordingLLM(script=Script([Reply("cut", "length")]))
    result = llm.generate(["p"])
    assert result.generations[0][0].generation_info == {"finish_reason": "length"}


def testcut_at_stop_keeps_usage_and_ids() -> None:
    usage = {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}
    message = AIMessage(content="Yes\nTask: more", id="run-1", usage_metadata=usage)
    cut = cut_at_stop(message, ["\n"])
    assert (cut.content, cut.id) == ("Yes", "run-1")
    assert isinstance(cut, AIMessage)
    assert cut.usage_metadata == usage
