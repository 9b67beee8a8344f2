"""Structured output: native, then the text parser on the same answer, then a bounded resample."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

from langchain_selfinstruct.stats import UsageTracker
from langchain_selfinstruct.steps import ClassificationIdentifier


class ToolChat(GenericFakeChatModel):
    """Claims tool calling, but answers in plain text (as small chat models often do)."""

    log: list[str] = []  # noqa: RUF012 - shared by the step's copies of the model

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append("call")
        return super()._generate(*args, **kwargs)


class NoTools(GenericFakeChatModel):
    """Overrides bind_tools only to refuse it."""

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        raise NotImplementedError


def _chat(cls: type[GenericFakeChatModel], *answers: str) -> Any:
    return cls(messages=iter([AIMessage(a) for a in answers]))


def test_auto_falls_back_to_text_when_bind_tools_is_not_implemented() -> None:
    step = ClassificationIdentifier(_chat(NoTools, "Yes"))
    assert not step.uses_structured_output
    assert step.invoke("Is it sarcastic?") is True


def test_structured_true_on_a_completion_model_is_a_clear_error() -> None:
    # Raised in the constructor, so pydantic reports it as a ValidationError (a ValueError).
    with pytest.raises(ValueError, match="completion model: structured output needs a chat"):
        ClassificationIdentifier(FakeListLLM(responses=["Yes"]), structured=True)


def test_a_plain_text_answer_is_parsed_as_text_before_any_resample() -> None:
    ToolChat.log = []
    model = _chat(ToolChat, "Yes", "No")
    tracker = UsageTracker()
    step = ClassificationIdentifier(model, structured=True)
    assert step.uses_structured_output
    assert step.invoke("Is it sarcastic?", {"callbacks": [tracker]}) is True
    assert len(model.log) == 1
    assert tracker.fallbacks == {"text_parser": 1}


def test_unparseable_answers_resample_a_bounded_number_of_times_then_raise() -> None:
    ToolChat.log = []
    model = _chat(ToolChat, "perhaps", "maybe", "unsure", "Yes")
    tracker = UsageTracker()
    step = ClassificationIdentifier(model, structured=True, max_retries=2)
    with pytest.raises(OutputParserException):
        step.invoke("Is it sarcastic?", {"callbacks": [tracker]})
    assert len(model.log) == 3
    assert tracker.fallbacks == {"text_parser": 3, "resample": 2}
