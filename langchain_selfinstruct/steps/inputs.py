"""The inputs every step accepts, their schemas (for ``as_tool``), and the tool defaults.

Siblings accept the same shapes: an instruction is a ``str``, a :class:`Task` or a mapping with
an ``"instruction"`` string; a batch of instructions is a list of those or a mapping with
``"instructions"``; a task is a :class:`Task` or a mapping with ``"instruction"`` (and
optionally ``"is_classification"`` and ``"instances"``). Anything else is a ``TypeError``
naming what was expected, before any model is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from langchain_selfinstruct.schema import Instance, Task

__all__ = [
    "InstructionArgs",
    "InstructionsArgs",
    "TaskArgs",
    "ToolDefaults",
    "instruction_of",
    "instructions_of",
    "task_of",
]


class InstructionArgs(BaseModel):
    """One task instruction."""

    instruction: str = Field(description="The task instruction, e.g. 'Sort the numbers.'")


class InstructionsArgs(BaseModel):
    """A list of task instructions."""

    instructions: list[str] = Field(description="Task instructions, one per item.")


class TaskArgs(BaseModel):
    """A task: its instruction, whether it is a classification task, and its instances."""

    instruction: str = Field(description="The task instruction.")
    is_classification: bool | None = Field(
        default=None, description="Whether the task has a small fixed label set; None: unknown."
    )
    instances: list[Instance] = Field(
        default_factory=list, description="Input/output examples of the task."
    )


def _expected(step: str, what: str, value: object) -> TypeError:
    return TypeError(f"{step} expects {what}; got {type(value).__name__}")


def instruction_of(value: object, step: str) -> str:
    """The stripped instruction in ``value``; ``TypeError``/``ValueError`` naming the input."""
    if isinstance(value, Task | InstructionArgs | TaskArgs):
        text: object = value.instruction
    elif isinstance(value, Mapping):
        text = value.get("instruction")
    else:
        text = value
    if not isinstance(text, str):
        what = "an instruction: a str, a Task, or a mapping with an 'instruction' string"
        raise _expected(step, what, value)
    if not text.strip():
        raise ValueError(f"{step} expects a non-empty instruction")
    return text.strip()


def instructions_of(value: object, step: str, *, allow_str: bool) -> list[str]:
    """The instructions in ``value`` (a list, or a mapping with ``"instructions"``).

    Args:
        value: The step's input.
        step: The step's name, for the error.
        allow_str: Take a bare string as one instruction (a filter of one candidate makes
            sense); otherwise refuse it, since iterating it would give its characters.
    """
    if isinstance(value, InstructionsArgs):
        value = value.instructions
    elif isinstance(value, Mapping):
        value = value.get("instructions")
    if isinstance(value, str) and allow_str:
        value = [value]
    what = "a list of instructions (str or Task), or a mapping with an 'instructions' list"
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _expected(step, what, value)
    items = list(value)
    if not all(isinstance(item, str | Task) for item in items):
        raise TypeError(f"{step} expects {what}; got an item that is neither")
    return [item.instruction if isinstance(item, Task) else item for item in items]


def task_of(value: object, step: str) -> Task:
    """``value`` as a :class:`Task` (a copy is not made of a ``Task``)."""
    if isinstance(value, Task):
        return value
    if isinstance(value, TaskArgs):
        value = value.model_dump()
    if not isinstance(value, Mapping):
        what = "a Task or a mapping with an 'instruction' (and 'instances')"
        raise _expected(step, what, value)
    instruction = instruction_of(value, step)
    return Task(
        id=str(value.get("id") or "pending"),
        instruction=instruction,
        is_classification=value.get("is_classification"),
        instances=[Instance.model_validate(i) for i in value.get("instances") or ()],
    )


class ToolDefaults:
    """``get_input_schema`` from :attr:`input_args`, and ``as_tool`` defaults for a step.

    A tool name must match ``^[a-zA-Z0-9_-]+$`` for the major providers, so the run name's
    dots become underscores; the description is the class docstring's first line.
    """

    input_args: ClassVar[type[BaseModel]]

    def get_input_schema(self, config: RunnableConfig | None = None) -> type[BaseModel]:
        """The step's input as an object schema, so ``as_tool`` gets named arguments."""
        return self.input_args

    def as_tool(
        self,
        args_schema: type[BaseModel] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        arg_types: dict[str, type] | None = None,
    ) -> BaseTool:
        """``Runnable.as_tool`` with a provider-safe name and the step's summary by default."""
        runnable: Runnable[Any, Any] = self  # type: ignore[assignment]
        summary = (type(self).__doc__ or "").strip().splitlines()[0]
        return Runnable.as_tool(
            runnable,
            args_schema,
            name=name or runnable.get_name().replace(".", "_"),
            description=description or summary,
            arg_types=arg_types,
        )
