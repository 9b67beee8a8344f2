"""Step 1 of Self-Instruct: generate new instructions from in-context examples (paper §2.1)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field, PrivateAttr, field_validator

from langchain_selfinstruct.parsers import (
    InstructionList,
    NumberedListParser,
    instructions_from_structured,
)
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps.generative import Attempts, GenerativeStep
from langchain_selfinstruct.steps.inputs import InstructionsArgs, ToolDefaults, instructions_of
from langchain_selfinstruct.steps.prompt_loading import PromptOverride, coerce_prompt

__all__ = ["InstructionGenerator"]

_VARIABLES = ("instructions", "next_number", "num_instructions")


def _one_line(instruction: str) -> str:
    # Paper §2.1 code: one instruction per list line, without the colon that would suggest an input.
    return re.sub(r"\s+", " ", instruction).strip().rstrip(":").strip()


class InstructionGenerator(
    ToolDefaults, GenerativeStep[Sequence[str | Task] | Mapping[str, Any], list[str]]
):
    """Generate new task instructions from a list of example instructions (paper §2.1).

    The completion prompt lists the examples as ``1.`` … ``8.`` under a header and ends with the
    next number, so the model continues the list (paper §2.1); the chat prompt asks for a
    numbered list of ``num_instructions`` new tasks. Either way the answer is parsed into a list of
    instruction strings; an unparseable answer is resampled up to ``max_retries`` times.

    Example:
        .. code-block:: python

            from langchain_openai import OpenAI

            from langchain_selfinstruct.steps import InstructionGenerator

            generate = InstructionGenerator(OpenAI(model="gpt-3.5-turbo-instruct"))
            generate.invoke(["Write a limerick about a cat.", "Sort the numbers: 4, 1, 3."])
            # -> ["Name three rivers in Africa.", ...]
    """

    name: str | None = "self_instruct.generate_instructions"
    """Run name in callbacks and traces; default ``"self_instruct.generate_instructions"``."""
    prompt: PromptOverride = None
    """Prompt override (a template or a path to an f-string template file) using
    ``{instructions}`` and optionally ``{next_number}`` / ``{num_instructions}``; default the
    shipped ``instruction_generation.<chat|completion>.txt``."""
    num_instructions: int = Field(default=8, gt=0)
    """How many new instructions the chat prompt asks for; default 8."""

    # Default sampling: the paper's temperature 0.7, top_p 0.5, stop at item 16 (faithful preset).
    _preset_fields: ClassVar[dict[str, str]] = {"sampling": "instruction_generation"}
    input_args: ClassVar[type[BaseModel]] = InstructionsArgs
    _chain: Attempts[list[str]] = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)

    @field_validator("prompt", mode="before")
    @classmethod
    def _check_prompt(cls, value: object) -> object:
        return coerce_prompt(value, required=("instructions",), allowed=_VARIABLES)

    def _build(self) -> None:
        prompt = self._template(self.prompt, "instruction_generation")
        parser = NumberedListParser(first_item_unnumbered=self._kind == "completion")
        structured = (InstructionList, instructions_from_structured)
        self._chain = self._choose_chain(prompt, (parser, ()), structured)

    def _route(
        self, input: Sequence[str | Task] | Mapping[str, Any]
    ) -> tuple[Attempts[list[str]], dict[str, Any]]:
        examples = instructions_of(input, "InstructionGenerator", allow_str=False)
        if not examples:
            raise ValueError(
                "InstructionGenerator expects a non-empty list of example instructions"
            )
        lines = [_one_line(item) for item in examples]
        variables = {
            "instructions": "\n".join(f"{n}. {line}" for n, line in enumerate(lines, start=1)),
            "next_number": len(lines) + 1,
            "num_instructions": self.num_instructions,
        }
        return self._chain, variables
