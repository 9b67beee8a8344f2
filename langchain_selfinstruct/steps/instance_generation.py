"""Step 3 of Self-Instruct: generate input/output instances for a task (paper §2.3)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar, Literal

from langchain_core.prompts import BasePromptTemplate
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field, PrivateAttr, field_validator

from langchain_selfinstruct.parsers import InstanceList, InstanceParser, instances_from_structured
from langchain_selfinstruct.presets import PAPER_MAX_INSTANCES
from langchain_selfinstruct.schema import Instance, Task
from langchain_selfinstruct.steps.generative import Attempts, GenerativeStep
from langchain_selfinstruct.steps.inputs import TaskArgs, ToolDefaults, task_of
from langchain_selfinstruct.steps.prompt_loading import PromptOverride, coerce_prompt

__all__ = ["InstanceGenerator"]

Mode = Literal["input_first", "output_first"]
_VARIABLES = ("instruction", "max_instances")


class InstanceGenerator(ToolDefaults, GenerativeStep[Task | Mapping[str, Any], list[Instance]]):
    """Generate up to ``max_instances`` input/output instances for one task (paper §2.3).

    Classification tasks are prompted output-first (a class label, then an input with that label)
    so that every label gets examples; other tasks input-first (an input, then its output), and
    tasks without input get their output directly. A task whose ``is_classification`` is unknown
    is treated as a non-classification task.

    Example:
        .. code-block:: python

            from langchain_openai import ChatOpenAI

            from langchain_selfinstruct.steps import InstanceGenerator

            generate = InstanceGenerator(ChatOpenAI(model="gpt-4o-mini"), max_instances=3)
            generate.invoke({"instruction": "Convert miles to km.", "is_classification": False})
            # -> [Instance(input="5 miles", output="8.05 km"), ...]
    """

    name: str | None = "self_instruct.generate_instances"
    """Run name in callbacks and traces; default ``"self_instruct.generate_instances"``."""
    max_instances: int = Field(default=PAPER_MAX_INSTANCES, gt=0)
    """Most instances returned per task; completion prompts also stop at ``"Example {n + 1}"``.
    Default: the preset's, 5 (paper §2.3 code)."""
    input_first_prompt: PromptOverride = None
    """Prompt override for non-classification tasks (template or path) using ``{instruction}``
    and optionally ``{max_instances}``; default ``instances_input_first.<chat|completion>.txt``."""
    output_first_prompt: PromptOverride = None
    """Prompt override for classification tasks (template or path) using ``{instruction}`` and
    optionally ``{max_instances}``; default ``instances_output_first.<chat|completion>.txt``."""

    # Default sampling: the paper's greedy decoding, 300 tokens, stop at "Task:" (faithful preset).
    _preset_fields: ClassVar[dict[str, str]] = {
        "sampling": "instance_generation",
        "max_instances": "max_instances",
    }
    input_args: ClassVar[type[BaseModel]] = TaskArgs
    _chains: dict[Mode, Attempts[list[Instance]]] = PrivateAttr()

    def __init__(self, llm: Runnable[Any, Any], **kwargs: Any) -> None:
        super().__init__(llm, **kwargs)

    @field_validator("input_first_prompt", "output_first_prompt", mode="before")
    @classmethod
    def _check_prompts(cls, value: object) -> object:
        return coerce_prompt(value, required=("instruction",), allowed=_VARIABLES)

    def _build(self) -> None:
        overrides: dict[Mode, BasePromptTemplate[Any] | None] = {
            "input_first": self.input_first_prompt,
            "output_first": self.output_first_prompt,
        }
        self._chains = {}
        for mode, override in overrides.items():
            prompt = self._template(override, f"instances_{mode}")
            parser = InstanceParser(mode=mode, max_instances=self.max_instances)
            # Paper §2.3 code: a completion stops before the example past the limit.
            extra = [f"Example {self.max_instances + 1}"] if self._kind == "completion" else []
            convert = partial(instances_from_structured, max_instances=self.max_instances)
            self._chains[mode] = self._choose_chain(
                prompt, (parser, extra), (InstanceList, convert)
            )

    def _route(
        self, input: Task | Mapping[str, Any]
    ) -> tuple[Attempts[list[Instance]], dict[str, Any]]:
        task = task_of(input, "InstanceGenerator")
        mode: Mode = "output_first" if task.is_classification else "input_first"
        variables = {"instruction": task.instruction, "max_instances": self.max_instances}
        return self._chains[mode], variables
