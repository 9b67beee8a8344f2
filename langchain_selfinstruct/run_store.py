"""The output directory of a Self-Instruct run, built for crashes and resumes.

Layout of ``OUT/``:

- ``tasks.jsonl``: accepted machine tasks, appended and fsynced one line per task;
- ``rejects.jsonl``: every rejected instruction or instance with its reason (appended);
- ``settings.json``: the run's settings (no credentials), rewritten atomically;
- ``stats.json``: counters of the latest session, rewritten atomically after every round.

Starting again on the same directory resumes: accepted tasks are read back, a torn last line (a
crash mid-write) is moved to ``tasks.jsonl.torn`` and reported, and nothing accepted is lost or
written twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from langchain_selfinstruct._io import append_line_fsync, atomic_write_json
from langchain_selfinstruct.schema import (
    MAX_LINE_BYTES,
    Task,
    TaskFileError,
    checked_task_line,
    parse_task_lines,
)

__all__ = [
    "COMPATIBILITY_KEYS",
    "REJECT_TEXT_CHARS",
    "ResumeState",
    "RunDirectory",
    "RunDirectoryError",
]

TASKS_FILE = "tasks.jsonl"
REJECTS_FILE = "rejects.jsonl"
SETTINGS_FILE = "settings.json"
STATS_FILE = "stats.json"

COMPATIBILITY_KEYS = (
    "seed_tasks_sha256",
    "preset_sha256",
    "model",
    "seed",
    "max_concurrency",
    "tokenizer",
    "filters",
)
"""Settings that must match for a run to continue in an existing directory.

Each one changes which tasks are generated: the seed and the concurrency decide the prompt sampling
and the commit order, and ``filters`` (``--exclude``, ``--curate``, custom rules) which are kept, so
a resume with other values would mix two runs in one dataset; so does ``tokenizer``, which decides
how the filter counts words and finds near-duplicates. A run recorded before ``filters`` existed
used none, one recorded before ``tokenizer`` existed used ``"rouge"``.
"""

_CLI_OPTIONS = {
    "preset_sha256": "--preset",
    "model": "--model",
    "seed": "--seed",
    "max_concurrency": "--concurrency",
    "tokenizer": "--tokenizer",
}
_DEFAULTS: dict[str, Any] = {"filters": [], "tokenizer": "rouge"}
"""What a key missing from an older ``settings.json`` meant."""


REJECT_TEXT_CHARS = 16_384
"""A reject record too long for one line keeps this many characters of each longer text."""


class RunDirectoryError(RuntimeError):
    """The output directory cannot be used; the message names the path and the fix."""


@dataclass
class ResumeState:
    """What an existing output directory already holds."""

    tasks: list[Task] = field(default_factory=list)
    """Accepted tasks, in file order."""
    torn_bytes: int = 0
    """Size of an incomplete last line that was set aside (0 when the file was clean)."""


class RunDirectory:
    """Append-only storage for one run's accepted tasks, rejects, settings and stats.

    Use as a context manager after :meth:`prepare`; files are opened in append mode only.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tasks_path = self.path / TASKS_FILE
        """Path of ``tasks.jsonl``."""
        self.rejects_path = self.path / REJECTS_FILE
        """Path of ``rejects.jsonl``."""
        self.stats_path = self.path / STATS_FILE
        """Path of ``stats.json``."""
        self.settings_path = self.path / SETTINGS_FILE
        """Path of ``settings.json``."""
        self._tasks: IO[str] | None = None
        self._rejects: IO[str] | None = None

    def check(self, settings: dict[str, Any]) -> None:
        """Fail, without touching the disk, if the directory cannot take this run.

        Args:
            settings: The new run's settings; its :data:`COMPATIBILITY_KEYS` must match the
                existing run's.

        Raises:
            RunDirectoryError: The path is a file, is not writable, or holds an incompatible run.
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunDirectoryError(f"{self.path}: exists and is not a directory")
        existing = self._existing_settings()
        for key in COMPATIBILITY_KEYS:
            if existing is not None and _setting(existing, key) != _setting(settings, key):
                old, new = _shown(existing, key), _shown(settings, key)
                raise RunDirectoryError(
                    f"{self.settings_path}: holds another run ({key} differs: {old} there, {new} "
                    "now); it decides which tasks are generated, so resume with "
                    f"{_resume_hint(existing, key)}, or choose another --out"
                )
        probe = self.path if self.path.exists() else _existing_parent(self.path)
        if not probe.is_dir():
            raise RunDirectoryError(f"{probe}: is a file, so no directory can be made under it")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise RunDirectoryError(f"{probe}: directory is not writable")

    def prepare(self, settings: dict[str, Any]) -> ResumeState:
        """Check the directory, read back what it holds, and record the settings.

        Args:
            settings: The run's settings (must hold no credentials).

        Returns:
            The tasks already accepted by earlier sessions.
        """
        self.check(settings)
        self.path.mkdir(parents=True, exist_ok=True)
        state = self._read_tasks()
        atomic_write_json(self.settings_path, settings)
        return state

    def __enter__(self) -> RunDirectory:
        self._tasks = self.tasks_path.open("a", encoding="utf-8")
        self._rejects = self.rejects_path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in (self._tasks, self._rejects):
            if handle is not None:
                handle.close()
        self._tasks = self._rejects = None

    def append_task(self, task: Task) -> None:
        """Append one accepted task and force it to disk.

        Raises:
            ValueError: The task's line would be longer than resume and :func:`load_tasks` read
                (:data:`~langchain_selfinstruct.schema.MAX_LINE_BYTES`); nothing is written.
        """
        if self._tasks is None:
            raise RuntimeError("RunDirectory is not open; use it as a context manager")
        append_line_fsync(self._tasks, checked_task_line(task))

    def append_reject(self, record: dict[str, Any]) -> None:
        """Append one reject record (stage, reason, text, detail) and force it to disk.

        A record longer than :data:`~langchain_selfinstruct.schema.MAX_LINE_BYTES` keeps the
        first :data:`REJECT_TEXT_CHARS` characters of each longer text, marked
        ``"… [truncated: N chars]"``, and lists the cut fields with their lengths under
        ``"truncated"``.
        """
        if self._rejects is None:
            raise RuntimeError("RunDirectory is not open; use it as a context manager")
        append_line_fsync(self._rejects, _reject_line(record))

    def write_stats(self, stats: dict[str, Any]) -> None:
        """Replace ``stats.json`` atomically."""
        atomic_write_json(self.stats_path, stats)

    def _existing_settings(self) -> dict[str, Any] | None:
        if not self.settings_path.is_file():
            return None
        try:
            data = json.loads(self.settings_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RunDirectoryError(f"{self.settings_path}: unreadable settings ({e})") from e
        if not isinstance(data, dict):
            raise RunDirectoryError(f"{self.settings_path}: expected a JSON object")
        return data

    def _read_tasks(self) -> ResumeState:
        if not self.tasks_path.is_file() or self.tasks_path.stat().st_size == 0:
            return ResumeState()
        raw = self.tasks_path.read_bytes()
        complete_end = raw.rfind(b"\n") + 1
        # Parse everything before touching the disk, so a corrupt file fails with nothing moved.
        tasks = parse_task_lines(self.tasks_path, raw[:complete_end])
        _reject_duplicate_ids(self.tasks_path, tasks)
        torn = raw[complete_end:]
        if torn:
            # An append cut short by a crash was never acknowledged: keep its bytes aside for
            # audit and drop them from the dataset so the next append starts on a fresh line.
            with (self.path / f"{TASKS_FILE}.torn").open("ab") as aside:
                aside.write(torn + b"\n")
                aside.flush()
                os.fsync(aside.fileno())
            os.truncate(self.tasks_path, complete_end)
        return ResumeState(tasks=tasks, torn_bytes=len(torn))


def _reject_line(record: dict[str, Any]) -> str:
    line = json.dumps(record, ensure_ascii=False, default=str)
    if len(line.encode("utf-8")) <= MAX_LINE_BYTES:
        return line
    truncated: dict[str, int] = {}
    cut = _cut_texts(json.loads(line), "", truncated)
    line = json.dumps({**cut, "truncated": truncated}, ensure_ascii=False)
    if len(line.encode("utf-8")) > MAX_LINE_BYTES:
        # Only a record with dozens of long fields gets here: keep what says why it was rejected.
        keep = {k: cut[k] for k in ("stage", "reason", "instruction") if k in cut}
        line = json.dumps({**keep, "truncated": truncated}, ensure_ascii=False)
    return line


def _cut_texts(value: Any, path: str, truncated: dict[str, int]) -> Any:
    if isinstance(value, str) and len(value) > REJECT_TEXT_CHARS:
        truncated[path] = len(value)
        return f"{value[:REJECT_TEXT_CHARS]}… [truncated: {len(value)} chars]"
    if isinstance(value, dict):
        return {k: _cut_texts(v, f"{path}.{k}" if path else k, truncated) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_texts(v, f"{path}[{i}]", truncated) for i, v in enumerate(value)]
    return value


def _reject_duplicate_ids(path: Path, tasks: list[Task]) -> None:
    seen: set[str] = set()
    for number, task in enumerate(tasks, start=1):
        if task.id in seen:
            raise TaskFileError(path, number, f"field 'id': duplicate task id {task.id!r}")
        seen.add(task.id)


def _setting(settings: dict[str, Any], key: str) -> Any:
    return settings.get(key, _DEFAULTS.get(key))


def _shown(settings: dict[str, Any], key: str) -> str:
    value = _setting(settings, key)
    if key == "preset_sha256" and isinstance(value, str):
        # A hash alone says nothing to a user: name the preset it belongs to.
        return f"{settings.get('preset')!r} (sha256 {value[:12]})"
    return repr(value) if isinstance(value, str) else str(value)


def _resume_hint(existing: dict[str, Any], key: str) -> str:
    if key == "seed_tasks_sha256":
        return "the same --seed-tasks file"
    if key == "filters":
        rules = ", ".join(str(rule.get("rule")) for rule in existing.get(key) or []) or "none"
        return f"the same --exclude / --curate options (rules there: {rules})"
    value = existing.get("preset") if key == "preset_sha256" else _setting(existing, key)
    return f"{_CLI_OPTIONS[key]} {value}"


def _existing_parent(path: Path) -> Path:
    for parent in path.absolute().parents:
        if parent.exists():
            return parent
    return Path.cwd()
