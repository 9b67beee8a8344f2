"""An evaluation directory's files: answers, grades and pairwise verdicts, append-only.

``DIR/`` holds ``tasks.jsonl`` (a copy of the evaluation set, so later commands need no
``--tasks``), ``eval.json`` (its checksum), and three logs of one JSON record per line:
``answers.jsonl``, ``grades.jsonl`` and ``pairs.jsonl``. Lines are appended and fsynced one by
one; a torn last line (a crash mid-write) is moved to ``<file>.torn`` when the log is opened
again, as ``tasks.jsonl``'s is in a generation run. A record with ``status`` ``failed`` is tried
again by the next command; any other status is never redone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from langchain_selfinstruct._io import append_lines_fsync
from langchain_selfinstruct.judges import CallUsage
from langchain_selfinstruct.schema import MAX_LINE_BYTES, TaskFileError

__all__ = [
    "ANSWERS_FILE",
    "GRADES_FILE",
    "PAIRS_FILE",
    "AnswerRecord",
    "GradeRecord",
    "JsonlLog",
    "PairRecord",
    "read_records",
]

ANSWERS_FILE = "answers.jsonl"
GRADES_FILE = "grades.jsonl"
PAIRS_FILE = "pairs.jsonl"

R = TypeVar("R", bound=BaseModel)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    instance_index: int
    usage: CallUsage | None = None
    """What the model calls cost (retries included)."""
    error: str | None = None
    """When failed: the first line of the error (credentials removed)."""

    @property
    def item(self) -> tuple[str, int]:
        """The evaluation item."""
        return self.task_id, self.instance_index


class AnswerRecord(_Record):
    """One line of ``answers.jsonl``: a model's reply to one item."""

    model: str
    """The model's name as given to ``--model``."""
    status: Literal["answered", "failed"]
    response: str = ""
    truncated: bool = False
    """The reply was cut to fit one line of the log (see :data:`MAX_LINE_BYTES`)."""

    @property
    def key(self) -> tuple[str, str, int]:
        """What is never answered twice."""
        return self.model, self.task_id, self.instance_index


class GradeRecord(_Record):
    """One line of ``grades.jsonl``: a judge's grade of one model's reply to one item."""

    judge: str
    model: str
    """The graded model (recorded here, never shown to the judge)."""
    seed: int
    """The seed of the order the replies were graded in."""
    status: Literal["graded", "failed"]
    grade: Literal["A", "B", "C", "D"] | None = None
    rationale: str = ""

    @property
    def key(self) -> tuple[str, str, str, int]:
        """What is never graded twice."""
        return self.judge, self.model, self.task_id, self.instance_index


class PairRecord(_Record):
    """One line of ``pairs.jsonl``: a judge's comparison of a model with the baseline."""

    judge: str
    baseline: str
    model: str
    seed: int
    """The seed that chose which reply was shown first."""
    status: Literal["judged", "failed"]
    outcome: Literal["win", "tie", "loss"] | None = None
    """For ``model`` against ``baseline``; a tie when the two orders disagreed."""
    inconsistent: bool = False
    baseline_first: bool = False
    """The baseline's reply was shown as reply 1 in the first call."""
    length_model: int = 0
    """Words in the model's reply."""
    length_baseline: int = 0
    rationales: tuple[str, str] | None = None

    @property
    def key(self) -> tuple[str, str, str, str, int]:
        """What is never judged twice."""
        return self.judge, self.baseline, self.model, self.task_id, self.instance_index


def read_records(path: str | os.PathLike[str], kind: type[R]) -> list[R]:
    """Read a log (no file: no records); a torn last line is ignored.

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
            records.append(kind.model_validate_json(line))
        except ValidationError as e:
            first = e.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "<record>"
            raise TaskFileError(file, number, f"field '{field}': {first['msg'].lower()}") from e
    return records


class JsonlLog(Generic[R]):
    """Append-only writer of one log; use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._handle: IO[str] | None = None

    def __enter__(self) -> JsonlLog[R]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._set_torn_line_aside()
        self._handle = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None

    def append(self, *records: R) -> None:
        """Append records and force them to disk (one fsync for all of them).

        Raises:
            ValueError: A line would be longer than :data:`MAX_LINE_BYTES` (nothing is
                written: no reader could read it back).
        """
        if self._handle is None:
            raise RuntimeError("JsonlLog is not open; use it as a context manager")
        lines = []
        for record in records:
            data: dict[str, Any] = record.model_dump(mode="json", exclude_none=True)
            line = json.dumps(data, ensure_ascii=False)
            if len(line.encode("utf-8")) > MAX_LINE_BYTES:
                raise ValueError(
                    f"{self.path}: a record over {MAX_LINE_BYTES} bytes is not written"
                )
            lines.append(line)
        if lines:
            append_lines_fsync(self._handle, lines)

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
