"""``review.jsonl``: the judges' verdicts on a run's sample, append-only like ``tasks.jsonl``.

One line per judged item: ``status`` ``reviewed`` with the three verdicts, or ``failed`` with the
error (a failed item is judged again on the next run; a reviewed one never). Lines are appended
and fsynced one by one; a torn last line (a crash mid-write) is moved to ``review.jsonl.torn``
when the file is opened again, as ``tasks.jsonl``'s is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from langchain_selfinstruct._io import append_line_fsync
from langchain_selfinstruct.judges import CallUsage, Verdict
from langchain_selfinstruct.schema import TaskFileError

__all__ = ["REVIEW_FILE", "ReviewLog", "ReviewRecord", "read_reviews"]

REVIEW_FILE = "review.jsonl"


class ReviewRecord(BaseModel):
    """One line of ``review.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    judge: str
    """The judge's model name as given to ``--judge``."""
    task_id: str
    instance_index: int
    """The instance reviewed (one per task, chosen by the seed, as in the paper)."""
    seed: int
    """The sample's seed."""
    status: Literal["reviewed", "failed"]
    instruction: str
    input: str
    output: str
    verdicts: dict[str, Verdict] | None = None
    """Question -> verdict, when reviewed."""
    usage: CallUsage | None = None
    """What the judge call cost (retries included)."""
    error: str | None = None
    """When failed: the first line of the error."""

    @property
    def key(self) -> tuple[str, str]:
        """``(judge, task id)``: what is never reviewed twice."""
        return self.judge, self.task_id


def read_reviews(path: str | os.PathLike[str]) -> list[ReviewRecord]:
    """Read ``review.jsonl`` (no file: no records); a torn last line is ignored.

    Raises:
        TaskFileError: A complete line is not a valid record; the message names the line and
            the field.
    """
    file = Path(path)
    if not file.is_file():
        return []
    raw = file.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]
    records = []
    for number, line in enumerate(complete.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(ReviewRecord.model_validate_json(line))
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "<record>"
            raise TaskFileError(file, number, f"field '{field}': {first['msg'].lower()}") from e
    return records


class ReviewLog:
    """Append-only writer of ``review.jsonl``; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._handle: IO[str] | None = None

    def __enter__(self) -> ReviewLog:
        self._set_torn_line_aside()
        self._handle = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None

    def append(self, record: ReviewRecord) -> None:
        """Append one record and force it to disk."""
        if self._handle is None:
            raise RuntimeError("ReviewLog is not open; use it as a context manager")
        data: dict[str, Any] = record.model_dump(mode="json", exclude_none=True)
        append_line_fsync(self._handle, json.dumps(data, ensure_ascii=False))

    def _set_torn_line_aside(self) -> None:
        if not self.path.is_file():
            return
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        if end == len(raw):
            return
        with self.path.with_name(self.path.name + ".torn").open("ab") as aside:
            aside.write(raw[end:] + b"\n")
            aside.flush()
            os.fsync(aside.fileno())
        os.truncate(self.path, end)
