"""Step 2 of Self-Instruct: tell classification tasks apart (paper §2.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from langchain_core.caches import BaseCache
from langchain_core.runnables import Runnable
from pydantic import BaseModel, PrivateAttr, field_validator

from langchain_selfinstruct.parsers import (
    ClassificationAnswer,
    YesNoParser,
    is_classification_from_structured,
)
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps.generative import Attempts, GenerativeStep
from langchain_selfinstruct.steps.inputs import InstructionArgs, ToolDefaults, instruction_of
from langchain_selfinstruct.steps.prompt_loading import PromptOverride, coerce_prompt

__all__ = ["ClassificationIdentifier"]


class ClassificationIdentifier(ToolDefaults, GenerativeStep[str | Task | Mapping[str, Any], bool]):
    """Decide whether an instruction describes a classification task (paper §2.2).

    Classification tasks (a small, fixed label set) get their instances output-first in step 3.
    The completion prompt shows more than 20 labelled examples and ends with "Is it
    classification?"; the chat prompt shows the same examples and asks for a one-word answer.

    Example:
        .. code-block:: python

            from langchain_openai import ChatOpenAI

            from langchain_selfinstruct.steps import ClassificationIdentifier

            identify = ClassificationIdentifier(ChatOpenAI(model="gpt-4o-mini"))
            identify.invoke("Is the following sentence sarcastic? Answer yes or no.")  # -> True
    """

    name: str | None = "self_instruct.identify_classification"
    """Run name in callbacks and traces; default ``"self_instruct.identify_classification"``."""
    prompt: PromptOverride = None
    """Prompt override (a template or a path to an f-string template file) using
    ``{instruction}``; default the shipped ``classification.<chat|completion>.txt``."""

    cache: BaseCache | None = None
    """Cache for the greedy first answer, whose prompt always gets the same answer; resamples
    after an unparseable one are never cached. Default ``None``: no cache, not even a global
    LLM cache."""

    # Default sampling: the paper's greedy decoding, 3 tokens, stop at a newline (faithful preset).
    _preset_fields: ClassVar[dict[str, str]] = {"sampling": "classification"}
    input_args: ClassVar[type[BaseModel]] = InstructionArgs
    _chain: Attempts[bool] = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)

    @field_validator("prompt", mode="before")
    @classmethod
    def _check_prompt(cls, value: object) -> object:
        return coerce_prompt(value, required=("instruction",), allowed=("instruction",))

    def _first_attempt_cache(self) -> BaseCache | None:
        return self.cache

    def _build(self) -> None:
        prompt = self._template(self.prompt, "classification")
        self._chain = self._choose_chain(
            prompt, (YesNoParser(), ()), (ClassificationAnswer, is_classification_from_structured)
        )

    def _route(
        self, input: str | Task | Mapping[str, Any]
    ) -> tuple[Attempts[bool], dict[str, Any]]:
        return self._chain, {"instruction": instruction_of(input, "ClassificationIdentifier")}
