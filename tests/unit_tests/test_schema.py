from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from langchain_selfinstruct.schema import (
    Instance,
    Task,
    TaskFileError,
    dump_task_line,
    load_tasks,
    save_tasks,
)


def _json_lines(path: Path) -> list[object]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize("fixture_name", ["paper_seed_path", "user_oriented_path"])
def test_reference_files_round_trip_to_same_json_values(
    fixture_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source: Path = request.getfixturevalue(fixture_name)
    tasks = load_tasks(source)
    out = tmp_path / "copy.jsonl"
    save_tasks(out, tasks)
    assert _json_lines(out) == _json_lines(source)
    assert len(tasks) == len(_json_lines(source))


def test_extra_fields_survive_and_are_reachable(user_oriented_path: Path) -> None:
    task = load_tasks(user_oriented_path)[0]
    assert task.model_extra is not None
    assert isinstance(task.model_extra["motivation_app"], str)
    assert task.is_classification is None
    assert "is_classification" not in json.loads(dump_task_line(task))


def test_machine_task_provenance_round_trips(tmp_path: Path) -> None:
    task = Task(
        id="machine_task_0",
        instruction="List three uses for a paperclip.",
        instances=[Instance(output="Hold paper; reset a router; make a hook.")],
        is_classification=False,
        source="machine",
        model="fake:list",
        model_params={"temperature": 0.7},
        prompt_task_ids=["seed_task_1", "seed_task_2"],
        most_similar={"Name a use for a brick.": 0.25},
        avg_similarity_score=0.1,
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    )
    path = tmp_path / "tasks.jsonl"
    save_tasks(path, [task])
    (loaded,) = load_tasks(path)
    assert loaded == task
    assert loaded.instances[0].input == ""


def test_missing_id_gets_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text('\n{"instruction": "Say hi.", "instances": [{"output": "Hi"}]}\n')
    (task,) = load_tasks(path)
    assert task.id == "mine_2"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"id": "a", "instruction": "x"}\n{not json}\n', r":2: invalid JSON"),
        (b'{"id": "a", "instances": []}\n', r":1: field 'instruction': field required"),
        (b'{"id": "a", "instruction": "x", "instances": "oops"}\n', r":1: field 'instances'"),
        (
            b'{"id": "a", "instruction": "x", "instances": [{"input": "i"}]}\n',
            r":1: field 'instances.0.output': field required",
        ),
        (b'{"id": "a", "instruction": 5}\n', r":1: field 'instruction': input should be"),
        (b'["a", "b"]\n', r":1: expected a JSON object, got list"),
        (
            b'{"id": "a", "instruction": "x"}\n{"id": "b", "instruction": "\xff"}\n',
            r":2: not valid UTF-8",
        ),
        (b"", r"file is empty"),
        (b"\n  \n", r"file is empty"),
        (b"\x00\x01\x02binary", r":1: invalid JSON"),
    ],
)
def test_load_errors_name_file_line_and_field(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(TaskFileError, match=expected) as info:
        load_tasks(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_task_file_error(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="cannot read task file"):
        load_tasks(tmp_path / "absent.jsonl")


def test_failed_save_keeps_existing_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tasks.jsonl"
    original = Task(id="t0", instruction="Keep me.", instances=[Instance(output="ok")])
    save_tasks(path, [original])
    before = path.read_bytes()

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save_tasks(path, [original, original])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.jsonl"]


def test_save_tasks_refuses_a_task_the_loader_would_refuse_and_writes_nothing(
    tmp_path: Path,
) -> None:
    from langchain_selfinstruct.schema import MAX_LINE_BYTES, save_tasks

    out = tmp_path / "tasks.jsonl"
    out.write_text("keep\n")
    big = Task(id="big", instruction="Say it.", instances=[Instance(output="y" * MAX_LINE_BYTES)])
    small = Task(id="small", instruction="Say it.", instances=[Instance(output="y")])
    with pytest.raises(ValueError, match=r"task big: its line would be \d+ bytes, over the 1 MiB"):
        save_tasks(out, [small, big])
    assert out.read_text() == "keep\n"
