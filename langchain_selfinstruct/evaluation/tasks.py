"""Evaluation tasks: the paper's ``user_oriented_instructions.jsonl`` format, one item per instance.

A task has ``id``, ``motivation_app``, ``instruction`` and ``instances`` (``input`` and the
reference ``output``); the paper's set has one instance per task, but every instance is an item
of its own, so nothing in a file is silently left out. The project ships its own set of
user-oriented tasks (``evaluation/user_oriented_tasks.jsonl``), used when no file is given.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from langchain_selfinstruct.resources import data_path
from langchain_selfinstruct.schema import TaskFileError, load_tasks

__all__ = ["DEFAULT_EVAL_TASKS_NAME", "EvalItem", "default_eval_tasks_path", "load_eval_items"]

DEFAULT_EVAL_TASKS_NAME = "user_oriented_tasks.jsonl"
NO_INPUT = "(none)"
"""How an empty input is shown to the answerer and the judges."""


class EvalItem(BaseModel):
    """One thing to answer: an instruction, its input and the reference output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    instance_index: int
    instruction: str
    input: str
    reference: str
    """The reference output, shown to the judges as a guide."""
    motivation_app: str = ""
    """The app the task is motivated by (the paper's field; the report groups by it)."""

    @property
    def key(self) -> str:
        """``task_id`` for a task's only instance, ``task_id#index`` otherwise; stable."""
        return self.task_id if self.instance_index == 0 else f"{self.task_id}#{self.instance_index}"

    @property
    def shown_input(self) -> str:
        """The input as the prompts show it (``(none)`` when empty)."""
        return self.input.strip() or NO_INPUT


def default_eval_tasks_path() -> Path:
    """The project's own evaluation set (at least 100 tasks over 30 apps)."""
    return data_path("evaluation", DEFAULT_EVAL_TASKS_NAME)


def load_eval_items(path: str | os.PathLike[str] | None = None) -> list[EvalItem]:
    """Read an evaluation file in the paper's format; ``None``: the project's own set.

    Raises:
        TaskFileError: The file is unreadable or not valid, or a task has no instance, an empty
            instruction or an empty reference output; the message names the file and the line,
            or the task, and the field.
    """
    file = default_eval_tasks_path() if path is None else Path(path)
    items: list[EvalItem] = []
    for task in load_tasks(file):
        if not task.instruction.strip():
            raise TaskFileError(file, None, f"task {task.id!r}: field 'instruction': empty")
        if not task.instances:
            raise TaskFileError(
                file, None, f"task {task.id!r}: field 'instances': a task needs at least one"
            )
        app = getattr(task, "motivation_app", "") or ""
        for index, instance in enumerate(task.instances):
            if not instance.output.strip():
                raise TaskFileError(
                    file,
                    None,
                    f"task {task.id!r}: field 'instances.{index}.output': empty reference output",
                )
            items.append(
                EvalItem(
                    task_id=task.id,
                    instance_index=index,
                    instruction=task.instruction.strip(),
                    input=instance.input,
                    reference=instance.output.strip(),
                    motivation_app=str(app),
                )
            )
    return items
