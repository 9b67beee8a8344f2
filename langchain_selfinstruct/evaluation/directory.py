"""An evaluation directory's task set: copied in on the first ``eval answer``, checked after.

Every model in a directory answers the same tasks, so the first ``eval answer`` copies the task
file to ``DIR/tasks.jsonl`` (temp file + rename) and records its SHA-256 in ``DIR/eval.json``; a
later ``--tasks`` with other content is refused rather than mixing two sets in one comparison.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from langchain_selfinstruct._io import atomic_write_bytes, atomic_write_json
from langchain_selfinstruct.evaluation.tasks import (
    EvalItem,
    default_eval_tasks_path,
    load_eval_items,
)

__all__ = [
    "EVAL_SETTINGS_FILE",
    "EVAL_TASKS_FILE",
    "EvalDirectoryError",
    "load_eval_dir",
    "open_eval_dir",
]

EVAL_TASKS_FILE = "tasks.jsonl"
EVAL_SETTINGS_FILE = "eval.json"


class EvalDirectoryError(ValueError):
    """The directory cannot be used as asked; the message names the path and the fix."""


def open_eval_dir(
    out_dir: str | os.PathLike[str], tasks: str | os.PathLike[str] | None = None
) -> list[EvalItem]:
    """The directory's items, copying ``tasks`` in when the directory has none yet.

    Args:
        out_dir: The evaluation directory (created when missing).
        tasks: A task file in the paper's format; ``None``: the directory's own copy, or the
            project's evaluation set for a new directory.

    Raises:
        EvalDirectoryError: ``tasks`` differs from the set the directory was started with.
        langchain_selfinstruct.schema.TaskFileError: The task file is not valid.
    """
    directory = Path(out_dir)
    copy = directory / EVAL_TASKS_FILE
    if copy.is_file():
        if tasks is not None and _sha256(Path(tasks)) != _recorded_sha256(directory):
            raise EvalDirectoryError(
                f"{directory}: was started with another task set ({copy}); use a new --out "
                "directory for other tasks"
            )
        return load_eval_items(copy)
    source = default_eval_tasks_path() if tasks is None else Path(tasks)
    items = load_eval_items(source)  # validate before anything is written
    data = source.read_bytes()
    atomic_write_bytes(copy, data)
    settings = {"tasks_file": str(source), "tasks_sha256": hashlib.sha256(data).hexdigest()}
    atomic_write_json(directory / EVAL_SETTINGS_FILE, settings)
    return items


def load_eval_dir(out_dir: str | os.PathLike[str]) -> list[EvalItem]:
    """The items of an existing evaluation directory.

    Raises:
        EvalDirectoryError: No ``eval answer`` has run there.
    """
    copy = Path(out_dir) / EVAL_TASKS_FILE
    if not copy.is_file():
        raise EvalDirectoryError(f"{out_dir}: no {EVAL_TASKS_FILE}; run `selfinstruct eval answer`")
    return load_eval_items(copy)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded_sha256(directory: Path) -> str:
    settings = directory / EVAL_SETTINGS_FILE
    try:
        return str(json.loads(settings.read_text(encoding="utf-8"))["tasks_sha256"])
    except (OSError, ValueError, KeyError):
        return _sha256(directory / EVAL_TASKS_FILE)
