"""The Self-Instruct data model and its JSONL format.

A :class:`Task` is one instruction with its input/output :class:`Instance` examples, in the format
of the paper's ``seed_tasks.jsonl`` (Wang et al., 2022, §2). Generated tasks also carry provenance:
which pool tasks prompted them, which model and sampling parameters produced them, and how similar
they are to the pool (the paper records the 10 most similar instructions and the average ROUGE-L).

Fields that other files add (``motivation_app`` in the paper's user-oriented set, say) are kept on a
round trip, and fields a file does not have are not added when it is saved again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from langchain_selfinstruct._io import atomic_write_text

__all__ = [
    "MAX_LINE_BYTES",
    "Instance",
    "Task",
    "TaskFileError",
    "checked_task_line",
    "dump_task_line",
    "load_tasks",
    "parse_task_lines",
    "save_tasks",
]

MAX_LINE_BYTES = 1 << 20
"""Longest line any reader of the package accepts (1 MiB), and so the longest any writer writes.

:func:`load_tasks` refuses a longer task line: it is a broken file or a runaway generation, and
as a prompt example it would cost a fortune in tokens. The loop rejects such a task
(``task:too_large``), :func:`save_tasks` and the run directory refuse to write one, and a reject
record is cut to fit."""


class Instance(BaseModel):
    """One input/output example of a task.

    ``input`` is empty for tasks that need no input (paper §2.3: about 40% of seed tasks).
    """

    model_config = ConfigDict(extra="allow")

    input: str = ""
    """The task input; ``""`` when the instruction is self-contained."""
    output: str
    """The expected output."""


class Task(BaseModel):
    """An instruction and its instances, optionally with generation provenance."""

    model_config = ConfigDict(extra="allow")

    id: str
    """Unique id, e.g. ``seed_task_0`` or ``machine_task_17``."""
    name: str | None = None
    """Short snake_case name; seed tasks have one, generated tasks usually do not."""
    instruction: str
    """The instruction text."""
    instances: list[Instance] = Field(default_factory=list)
    """Input/output examples."""
    is_classification: bool | None = None
    """Whether the task has a small finite label set (paper §2.2); ``None`` when unknown."""

    source: Literal["seed", "machine"] | None = None
    """``"seed"`` for human-written tasks, ``"machine"`` for generated ones."""
    model: str | None = None
    """Name of the model that generated the task."""
    model_params: dict[str, Any] | None = None
    """Sampling parameters used for generation (never credentials)."""
    prompt_task_ids: list[str] | None = None
    """Ids of the pool tasks shown in the instruction-generation prompt, in prompt order."""
    most_similar: dict[str, float] | None = None
    """Up to 10 most similar pool instructions with their ROUGE-L F scores."""
    avg_similarity_score: float | None = None
    """Mean ROUGE-L F of the instruction against the pool at acceptance time."""
    created_at: datetime | None = None
    """When the task was accepted (UTC)."""


class TaskFileError(ValueError):
    """A task file could not be read; the message names file, line and field."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        location = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{location}: {message}")


def load_tasks(path: str | os.PathLike[str], *, allow_empty: bool = False) -> list[Task]:
    """Load tasks from a JSONL file in the paper's format.

    Blank lines are skipped. A task without an ``id`` gets ``<file stem>_<line>``.

    Args:
        path: The ``.jsonl`` file, one task object per line.
        allow_empty: Return ``[]`` for a file with no task (a run that accepted nothing yet)
            instead of raising.

    Returns:
        The tasks, in file order.

    Raises:
        TaskFileError: The file is missing, empty (unless ``allow_empty``), not UTF-8, or a
            line is not a valid task or longer than :data:`MAX_LINE_BYTES`. The message names
            the file, the line and the offending field.
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as e:
        raise TaskFileError(file, None, f"cannot read task file ({e.strerror})") from e
    tasks = parse_task_lines(file, raw)
    if not tasks and not allow_empty:
        raise TaskFileError(file, None, "file is empty: expected one JSON task object per line")
    return tasks


def parse_task_lines(file: Path, raw: bytes) -> list[Task]:
    """Parse JSONL task bytes read from ``file`` (named in errors); blank lines are skipped.

    Raises:
        TaskFileError: A line is too long, not UTF-8 or not a valid task.
    """
    tasks: list[Task] = []
    for number, line_bytes in enumerate(raw.splitlines(), start=1):
        if len(line_bytes) > MAX_LINE_BYTES:
            raise TaskFileError(
                file, number, f"line is {len(line_bytes)} bytes, over the 1 MiB limit for one task"
            )
        try:
            line = line_bytes.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TaskFileError(file, number, f"not valid UTF-8 (byte {e.start})") from e
        if line.strip():
            tasks.append(_parse_task_line(file, number, line))
    return tasks


def _parse_task_line(file: Path, number: int, line: str) -> Task:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise TaskFileError(file, number, f"invalid JSON ({e.msg} at column {e.colno})") from e
    if not isinstance(data, dict):
        raise TaskFileError(file, number, f"expected a JSON object, got {type(data).__name__}")
    data.setdefault("id", f"{file.stem}_{number}")
    try:
        return Task.model_validate(data)
    except ValidationError as e:
        raise TaskFileError(file, number, _describe_validation_error(e)) from e


def _describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "<task>"
    extra = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"field '{field}': {first['msg'].lower()}{extra}"


def dump_task_line(task: Task) -> str:
    """Serialize one task as a JSONL line without fields the task never set.

    Args:
        task: The task.

    Returns:
        One line of JSON (no trailing newline).
    """
    return json.dumps(task.model_dump(mode="json", exclude_unset=True), ensure_ascii=False)


def checked_task_line(task: Task) -> str:
    """Serialize a task with :func:`dump_task_line`, refusing a line :func:`load_tasks` refuses.

    Args:
        task: The task.

    Returns:
        One line of JSON of at most :data:`MAX_LINE_BYTES` bytes.

    Raises:
        ValueError: The line would be longer than :data:`MAX_LINE_BYTES`.
    """
    line = dump_task_line(task)
    size = len(line.encode("utf-8"))
    if size > MAX_LINE_BYTES:
        raise ValueError(
            f"task {task.id}: its line would be {size} bytes, over the 1 MiB limit for one task "
            "(MAX_LINE_BYTES) that load_tasks accepts; it is not written"
        )
    return line


def save_tasks(path: str | os.PathLike[str], tasks: Iterable[Task]) -> None:
    """Write tasks as JSONL, atomically.

    The content goes to a temporary file that replaces ``path`` only once fully written, so a
    failed save never truncates an existing file.

    Args:
        path: Destination ``.jsonl`` file.
        tasks: The tasks to write.

    Raises:
        ValueError: A task's line would be longer than :data:`MAX_LINE_BYTES`; nothing is
            written.
    """
    atomic_write_text(path, "".join(checked_task_line(task) + "\n" for task in tasks))
