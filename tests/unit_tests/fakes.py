"""Fake language models shared by the unit tests.

``FakeListLLM`` and ``GenericFakeChatModel`` from langchain-core cover the plain paths. The fakes
here add what those cannot show: the prompt a model received, the stop sequences and sampling
fields in effect at call time, a finish reason (truncation), and structured output.

Replies come from a :class:`Script` shared by reference, so a step's configured copy of a fake
(see ``configure_model``) consumes and records into the same objects as the test's instance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, BaseLLM, LanguageModelInput
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult, Generation, LLMResult
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, ConfigDict, Field

_SETTINGS = ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty")


@dataclass
class Reply:
    """One scripted answer and the finish reason the model reports with it."""

    text: str
    finish_reason: str = "stop"


class Script:
    """Scripted replies, served in order; the last one repeats once the script runs out."""

    def __init__(self, replies: Iterable[Any]) -> None:
        self.replies = list(replies)
        if not self.replies:
            raise ValueError("a script needs at least one reply")
        self.served = 0

    def next(self) -> Any:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


@dataclass
class Call:
    """What a fake model saw on one call."""

    prompt: str
    messages: list[BaseMessage] | None
    stop: list[str] | None
    settings: dict[str, Any]
    kwargs: dict[str, Any]


class CallLog:
    """Every call a fake model (or any copy of it) received."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    @property
    def prompts(self) -> list[str]:
        return [call.prompt for call in self.calls]


def _reply(item: Any) -> Reply:
    return item if isinstance(item, Reply) else Reply(str(item))


class _RecordingMixin(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: Script
    log: CallLog = Field(default_factory=CallLog)

    def _record(
        self,
        prompt: str,
        messages: list[BaseMessage] | None,
        stop: list[str] | None,
        kwargs: dict[str, Any],
    ) -> Reply:
        settings = {name: getattr(self, name) for name in _SETTINGS if hasattr(self, name)}
        self.log.calls.append(Call(prompt, messages, stop, settings, dict(kwargs)))
        return _reply(self.script.next())


class RecordingLLM(_RecordingMixin, BaseLLM):
    """A completion model with OpenAI-like sampling fields that records its calls."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    @property
    def _llm_type(self) -> str:
        return "recording-llm"

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        generations = []
        for prompt in prompts:
            reply = self._record(prompt, None, stop, kwargs)
            info = {"finish_reason": reply.finish_reason}
            generations.append([Generation(text=reply.text, generation_info=info)])
        return LLMResult(generations=generations)


class RecordingChatModel(_RecordingMixin, BaseChatModel):
    """A chat model with Anthropic-like fields (no penalties) that records its calls."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None

    @property
    def _llm_type(self) -> str:
        return "recording-chat"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(str(message.text) for message in messages)
        reply = self._record(prompt, list(messages), stop, kwargs)
        message = AIMessage(
            content=reply.text, response_metadata={"finish_reason": reply.finish_reason}
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def _prompt_text(value: LanguageModelInput) -> str:
    if isinstance(value, PromptValue):
        return value.to_string()
    return str(value)


class FakeStructuredChatModel(RecordingChatModel):
    """A chat model whose ``with_structured_output`` serves scripted objects.

    Each scripted item is a pydantic object or dict (validated against the schema), ``None`` (the
    model produced no structured output) or an exception (a parsing error). ``include_raw=True``
    returns the ``{"raw", "parsed", "parsing_error"}`` dict like the real implementations.
    """

    structured: Script
    profile: ModelProfile | None = Field(
        default_factory=lambda: ModelProfile(structured_output=True, tool_calling=True),
        exclude=True,
    )
    schemas: list[Any] = Field(default_factory=list)

    def with_structured_output(
        self, schema: dict[str, Any] | type, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        self.schemas.append(schema)

        def respond(value: LanguageModelInput) -> Any:
            prompt = _prompt_text(value)
            settings = {name: getattr(self, name) for name in _SETTINGS if hasattr(self, name)}
            self.log.calls.append(Call(prompt, None, None, settings, {"schema": schema}))
            item = self.structured.next()
            parsed, error = _validate(schema, item)
            if include_raw:
                return {
                    "raw": AIMessage(content=repr(item)),
                    "parsed": parsed,
                    "parsing_error": error,
                }
            if error is not None:
                raise error
            return parsed

        return RunnableLambda(respond, name="FakeStructuredChatModel")


def _validate(schema: Any, item: Any) -> tuple[Any, BaseException | None]:
    if isinstance(item, BaseException):
        return None, item
    if isinstance(item, dict) and isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            return schema.model_validate(item), None
        except ValueError as error:
            return None, error
    return item, None


class RunNames(BaseCallbackHandler):
    """Collects the names of chain runs in start order and counts model runs."""

    def __init__(self) -> None:
        self.chains: list[str] = []
        self.model_runs = 0

    def on_chain_start(
        self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.chains.append(str(kwargs.get("name")))

    def on_llm_start(
        self, serialized: dict[str, Any] | None, prompts: list[str], *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.model_runs += 1

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        self.model_runs += 1
