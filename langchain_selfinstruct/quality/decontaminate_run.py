"""``selfinstruct decontaminate``: check a finished run against evaluation sets.

For datasets made before ``--exclude`` existed, or against a set added later: every task's
instruction goes through the same :class:`~langchain_selfinstruct.quality.decontaminate.
Decontaminator` the loop uses, and the flagged tasks are written to ``contaminated.jsonl`` in the
run directory (replaced atomically; the run's own files are never touched).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_selfinstruct._io import atomic_write_text
from langchain_selfinstruct.export import load_run_tasks
from langchain_selfinstruct.quality.decontaminate import Decontaminator

__all__ = ["CONTAMINATED_FILE", "DecontaminationResult", "decontaminate_run"]

CONTAMINATED_FILE = "contaminated.jsonl"


@dataclass(frozen=True)
class DecontaminationResult:
    """What :func:`decontaminate_run` found."""

    path: Path
    """The ``contaminated.jsonl`` written."""
    checked: int
    """Tasks checked."""
    flagged: list[dict[str, Any]] = field(default_factory=list)
    """One record per flagged task: ``task_id``, ``instruction``, ``reason``, ``detail``."""

    @property
    def by_reason(self) -> Counter[str]:
        """Flagged tasks by reason (``contaminated:<file>``)."""
        return Counter(record["reason"] for record in self.flagged)


def decontaminate_run(
    run_dir: str | os.PathLike[str],
    decontaminator: Decontaminator,
    out: str | os.PathLike[str] | None = None,
) -> DecontaminationResult:
    """Flag the run's tasks that are too close to an excluded text.

    Args:
        run_dir: The run directory (or a task file).
        decontaminator: The excluded texts and the two rules.
        out: Where to write the flagged tasks; default ``RUN_DIR/contaminated.jsonl``.

    Returns:
        The path written, the number checked and the flagged records (file order).

    Raises:
        FileNotFoundError: No run there.
        langchain_selfinstruct.schema.TaskFileError: ``tasks.jsonl`` is corrupt.
    """
    tasks = load_run_tasks(run_dir)
    hits = decontaminator.check([task.instruction for task in tasks])
    flagged = [
        {
            "task_id": task.id,
            "instruction": task.instruction,
            "reason": hit.reason,
            "detail": hit.detail,
        }
        for task, hit in zip(tasks, hits, strict=True)
        if hit is not None
    ]
    base = Path(run_dir)
    default = (base if base.is_dir() else base.parent) / CONTAMINATED_FILE
    path = Path(out) if out is not None else default
    lines = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in flagged)
    atomic_write_text(path, lines)
    return DecontaminationResult(path, len(tasks), flagged)
