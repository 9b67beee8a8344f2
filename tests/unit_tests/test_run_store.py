"""The run directory: fresh start, resume, torn last line, bad files, incompatible runs, fsync."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from langchain_selfinstruct.run_store import COMPATIBILITY_KEYS, RunDirectory, RunDirectoryError
from langchain_selfinstruct.schema import Instance, Task, TaskFileError, dump_task_line, load_tasks

SETTINGS: dict[str, Any] = {
    "seed_tasks_sha256": "1" * 64,
    "preset_sha256": "2" * 64,
    "model": "fake:0.0",
    "num_instructions": 3,
}


def _task(number: int) -> Task:
    return Task(
        id=f"machine_task_{number}",
        instruction=f"Name {number + 2} reasons a lighthouse keeper might keep a logbook.",
        instances=[Instance(input="", output=f"Reason list number {number}.")],
        is_classification=False,
        source="machine",
    )


def _line(number: int) -> bytes:
    return (dump_task_line(_task(number)) + "\n").encode()


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _filled(path: Path, count: int) -> RunDirectory:
    """A run directory holding ``count`` tasks, one reject and stats, written by the class."""
    directory = RunDirectory(path)
    directory.prepare(SETTINGS)
    with directory:
        for number in range(count):
            directory.append_task(_task(number))
        directory.append_reject({"stage": "filter_instructions", "reason": "near_duplicate"})
        directory.write_stats({"accepted": count})
    return directory


def test_prepare_on_a_fresh_nested_path_creates_it_and_records_settings(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "first"
    state = RunDirectory(out).prepare(SETTINGS)
    assert state.tasks == []
    assert state.torn_bytes == 0
    assert out.is_dir()
    assert json.loads((out / "settings.json").read_text()) == SETTINGS
    assert not (out / "tasks.jsonl").exists()
    assert not (out / "tasks.jsonl.torn").exists()


def test_check_alone_never_touches_the_disk(tmp_path: Path) -> None:
    out = tmp_path / "not-yet"
    RunDirectory(out).check(SETTINGS)
    assert not out.exists()


def test_resume_returns_the_tasks_in_file_order(tmp_path: Path) -> None:
    _filled(tmp_path / "out", 3)
    state = RunDirectory(tmp_path / "out").prepare({**SETTINGS, "num_instructions": 9})
    assert [t.model_dump() for t in state.tasks] == [_task(n).model_dump() for n in range(3)]
    assert state.torn_bytes == 0
    # Settings outside COMPATIBILITY_KEYS may change between sessions and are recorded.
    assert json.loads((tmp_path / "out" / "settings.json").read_text())["num_instructions"] == 9


@pytest.mark.parametrize(
    "torn",
    [b'{"id": "machine_task_2", "instruc', dump_task_line(_task(2)).encode()],
    ids=["partial-json", "complete-json-without-newline"],
)
def test_torn_last_line_is_set_aside_and_the_next_append_starts_clean(
    tmp_path: Path, torn: bytes
) -> None:
    out = tmp_path / "out"
    _filled(out, 2)
    tasks_file = out / "tasks.jsonl"
    complete = tasks_file.read_bytes()
    with tasks_file.open("ab") as handle:
        handle.write(torn)

    directory = RunDirectory(out)
    state = directory.prepare(SETTINGS)

    assert [t.id for t in state.tasks] == ["machine_task_0", "machine_task_1"]
    assert state.torn_bytes == len(torn)
    assert tasks_file.read_bytes() == complete
    assert (out / "tasks.jsonl.torn").read_bytes() == torn + b"\n"
    with directory:
        directory.append_task(_task(7))
    assert tasks_file.read_bytes() == complete + _line(7)
    assert [t.id for t in load_tasks(tasks_file)] == [
        "machine_task_0",
        "machine_task_1",
        "machine_task_7",
    ]


def test_a_second_torn_line_is_added_to_the_audit_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _filled(out, 1)
    for fragment in (b'{"id": "a', b'{"id": "b'):
        with (out / "tasks.jsonl").open("ab") as handle:
            handle.write(fragment)
        RunDirectory(out).prepare(SETTINGS)
    assert (out / "tasks.jsonl.torn").read_bytes() == b'{"id": "a\n{"id": "b\n'
    assert (out / "tasks.jsonl").read_bytes() == _line(0)


def test_an_invalid_complete_line_raises_with_file_and_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _filled(out, 0)
    (out / "tasks.jsonl").write_bytes(_line(0) + b"{not json}\n" + _line(2))
    before = _snapshot(out)
    with pytest.raises(TaskFileError, match=r"tasks\.jsonl:2: invalid JSON") as info:
        RunDirectory(out).prepare({**SETTINGS, "num_instructions": 50})
    assert info.value.line == 2
    assert _snapshot(out) == before


def test_duplicate_ids_raise_naming_the_second_occurrence(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _filled(out, 0)
    (out / "tasks.jsonl").write_bytes(_line(0) + _line(1) + _line(0))
    with pytest.raises(TaskFileError, match=r"tasks\.jsonl:3: .*duplicate task id") as info:
        RunDirectory(out).prepare(SETTINGS)
    assert info.value.line == 3


@pytest.mark.parametrize("key", COMPATIBILITY_KEYS)
def test_incompatible_settings_raise_and_leave_every_file_byte_identical(
    tmp_path: Path, key: str
) -> None:
    out = tmp_path / "out"
    _filled(out, 2)
    # A torn tail too: an incompatible run must not even tidy it up.
    with (out / "tasks.jsonl").open("ab") as handle:
        handle.write(b'{"id": "half')
    before = _snapshot(out)
    with pytest.raises(RunDirectoryError, match=f"{key} differs"):
        RunDirectory(out).prepare({**SETTINGS, key: "something else"})
    assert _snapshot(out) == before


def test_settings_that_are_not_an_object_raise(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "settings.json").write_text("[1, 2]")
    with pytest.raises(RunDirectoryError, match="expected a JSON object"):
        RunDirectory(out).prepare(SETTINGS)


def test_a_path_that_is_a_file_raises_and_keeps_the_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_bytes(b"precious")
    with pytest.raises(RunDirectoryError, match="not a directory"):
        RunDirectory(target).prepare(SETTINGS)
    assert target.read_bytes() == b"precious"


def _deny_writes_to(monkeypatch: pytest.MonkeyPatch, denied: Path) -> list[Path]:
    """Make ``os.access`` refuse writes to ``denied``; returns the paths it was asked about."""
    asked: list[Path] = []
    real_access = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        asked.append(Path(path))
        if Path(path) == denied and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    return asked


def test_a_non_writable_directory_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root passes every os.access check, so the refusal is simulated at that boundary.
    out = tmp_path / "out"
    out.mkdir()
    asked = _deny_writes_to(monkeypatch, out)
    with pytest.raises(RunDirectoryError, match="not writable"):
        RunDirectory(out).prepare(SETTINGS)
    assert out in asked
    assert list(out.iterdir()) == []


def test_a_missing_directory_under_a_non_writable_parent_raises_before_creating_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _deny_writes_to(monkeypatch, tmp_path)
    with pytest.raises(RunDirectoryError, match="not writable"):
        RunDirectory(tmp_path / "a" / "b").prepare(SETTINGS)
    assert not (tmp_path / "a").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file modes")
def test_a_read_only_directory_raises_for_real(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(RunDirectoryError, match="not writable"):
            RunDirectory(out).prepare(SETTINGS)
    finally:
        out.chmod(0o700)


def test_appends_write_exactly_one_fsynced_line_per_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    directory = RunDirectory(out)
    directory.prepare(SETTINGS)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with directory:
        for number in range(3):
            directory.append_task(_task(number))
            assert len(synced) == number + 1
            assert (out / "tasks.jsonl").read_bytes().count(b"\n") == number + 1
        directory.append_reject({"stage": "filter_instances", "reason": "instance:empty_output"})
    assert len(synced) == 4
    assert (out / "tasks.jsonl").read_bytes() == b"".join(_line(n) for n in range(3))
    rejects = (out / "rejects.jsonl").read_text().splitlines()
    assert [json.loads(line)["reason"] for line in rejects] == ["instance:empty_output"]


def test_appending_outside_the_context_manager_is_an_error(tmp_path: Path) -> None:
    directory = RunDirectory(tmp_path)
    with pytest.raises(RuntimeError, match="context manager"):
        directory.append_task(_task(0))
    with pytest.raises(RuntimeError, match="context manager"):
        directory.append_reject({"reason": "x"})


def test_write_stats_replaces_the_file_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    directory = RunDirectory(tmp_path)
    directory.prepare(SETTINGS)
    directory.write_stats({"accepted": 1})
    directory.write_stats({"accepted": 2, "rejected": {"near_duplicate": 4}})
    assert json.loads(directory.stats_path.read_text()) == {
        "accepted": 2,
        "rejected": {"near_duplicate": 4},
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json", "stats.json"]


def test_corrupt_file_with_a_torn_tail_fails_before_moving_anything(tmp_path: Path) -> None:
    from langchain_selfinstruct.run_store import RunDirectory
    from langchain_selfinstruct.schema import TaskFileError

    good = '{"id": "machine_task_0", "instruction": "Name a colour.", "instances": []}\n'
    content = (good + "{broken\n" + '{"id": "machine_ta').encode()
    (tmp_path / "tasks.jsonl").write_bytes(content)
    with pytest.raises(TaskFileError, match=r"tasks\.jsonl:2: invalid JSON"):
        RunDirectory(tmp_path).prepare({"model": "m"})
    assert (tmp_path / "tasks.jsonl").read_bytes() == content
    assert not (tmp_path / "tasks.jsonl.torn").exists()


def test_settings_are_replaced_through_a_temporary_file_and_a_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _filled(out, 1)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        renames.append((Path(src).name, Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    RunDirectory(out).prepare({**SETTINGS, "num_instructions": 9})
    assert [dst for _, dst in renames] == ["settings.json"]
    assert renames[0][0].startswith(".settings.json.")
    assert json.loads((out / "settings.json").read_text())["num_instructions"] == 9
    assert sorted(p.name for p in out.iterdir()) == [
        "rejects.jsonl",
        "settings.json",
        "stats.json",
        "tasks.jsonl",
    ]


def test_a_reject_holding_a_huge_text_is_stored_cut_with_a_marker_and_its_length(
    tmp_path: Path,
) -> None:
    from langchain_selfinstruct.schema import MAX_LINE_BYTES

    directory = RunDirectory(tmp_path)
    directory.prepare(SETTINGS)
    huge = "é" * 1_500_000
    record = {
        "stage": "filter_instances",
        "reason": "instance:duplicate",
        "instruction": "Name a color.",
        "instance": {"input": "", "output": huge},
    }
    with directory:
        directory.append_reject(record)
        directory.append_reject({"stage": "x", "reason": "small", "instruction": "short"})
    lines = (tmp_path / "rejects.jsonl").read_bytes().splitlines()
    assert len(lines[0]) <= MAX_LINE_BYTES
    stored = json.loads(lines[0])
    assert stored["instruction"] == "Name a color."
    assert stored["reason"] == "instance:duplicate"
    output = stored["instance"]["output"]
    assert output == "é" * 16_384 + "… [truncated: 1500000 chars]"
    assert stored["truncated"] == {"instance.output": 1_500_000}
    assert json.loads(lines[1]) == {"stage": "x", "reason": "small", "instruction": "short"}


def test_a_task_line_the_reader_would_refuse_is_never_appended(tmp_path: Path) -> None:
    from langchain_selfinstruct.schema import MAX_LINE_BYTES

    directory = RunDirectory(tmp_path)
    directory.prepare(SETTINGS)
    task = _task(0).model_copy(update={"instances": [Instance(output="x" * MAX_LINE_BYTES)]})
    with directory, pytest.raises(ValueError, match=r"machine_task_0: its line would be 10\d{5} "):
        directory.append_task(task)
    assert (tmp_path / "tasks.jsonl").read_bytes() == b""
