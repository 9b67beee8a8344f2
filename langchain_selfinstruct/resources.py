"""Locate the prompt templates and seed tasks that ship with the package.

In a wheel, ``prompts/``, ``seeds/`` and ``evaluation/`` are force-included under
``langchain_selfinstruct/_data``; in a source checkout (editable install) they sit at the
repository root. Both are searched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from langchain_selfinstruct.schema import Task, load_tasks

__all__ = ["DEFAULT_SEED_TASKS_NAME", "data_path", "load_seed_tasks", "prompt_path"]

DEFAULT_SEED_TASKS_NAME = "seed_tasks.jsonl"

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_path(kind: Literal["prompts", "seeds", "evaluation"], name: str) -> Path:
    """Return the path of a shipped data file.

    Args:
        kind: ``"prompts"``, ``"seeds"`` or ``"evaluation"``.
        name: File name inside that folder.

    Returns:
        The existing file.

    Raises:
        FileNotFoundError: Neither the installed nor the checkout layout has the file.
    """
    candidates = (_PACKAGE_DIR / "_data" / kind / name, _PACKAGE_DIR.parent / kind / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"{kind}/{name} not found (searched {searched}); reinstall langchain-selfinstruct"
    )


def prompt_path(name: str) -> Path:
    """Return the path of a shipped prompt, e.g. ``prompt_path("classification.chat.txt")``."""
    return data_path("prompts", name)


def load_seed_tasks() -> list[Task]:
    """Load the project's own 175 human-written seed tasks.

    Returns:
        The seed tasks, each marked ``source="seed"``.
    """
    tasks = load_tasks(data_path("seeds", DEFAULT_SEED_TASKS_NAME))
    return [task.model_copy(update={"source": "seed"}) for task in tasks]
