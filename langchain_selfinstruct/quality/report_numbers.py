"""What the data-quality work adds to ``selfinstruct report``: review and diversity numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_selfinstruct._report_quality import diversity_section, review_section
from langchain_selfinstruct.quality.diversity import diversity_numbers
from langchain_selfinstruct.quality.review_report import review_numbers
from langchain_selfinstruct.quality.review_store import REVIEW_FILE, read_reviews
from langchain_selfinstruct.schema import Task, TaskFileError

__all__ = ["quality_numbers", "quality_sections"]


def quality_numbers(
    run_dir: Path, tasks: list[Task], verbs: dict[str, Any] | None, notes: list[str]
) -> dict[str, Any]:
    """``review`` (from ``review.jsonl``, ``None`` when absent) and ``diversity`` numbers.

    A corrupt ``review.jsonl`` becomes a note, not a failed report.
    """
    review_path = (run_dir if run_dir.is_dir() else run_dir.parent) / REVIEW_FILE
    try:
        review = review_numbers(read_reviews(review_path))
    except TaskFileError as e:
        notes.append(f"review section left out: {e}")
        review = None
    return {"review": review, "diversity": diversity_numbers(tasks, verbs)}


def quality_sections(numbers: dict[str, Any]) -> list[str]:
    """The HTML sections for :func:`quality_numbers`' numbers."""
    return [review_section(numbers.get("review")), diversity_section(numbers.get("diversity"))]
