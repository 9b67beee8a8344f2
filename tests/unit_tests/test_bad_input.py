"""Bad input to ``selfinstruct generate``: one clear line, a non-zero exit, and no trace on disk.

Library errors (seed files, output directories, model names) print exactly one line, ``Error:``
followed by the cause and, for a file, ``path:line``. Option values click refuses print click's
usage hint and one ``Error:`` line naming the option and the value. Either way nothing is
created or changed on disk.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from langchain_selfinstruct.cli import main
from langchain_selfinstruct.schema import MAX_LINE_BYTES

GOOD = json.dumps(
    {
        "id": "own_1",
        "instruction": "Suggest a name for a new bakery.",
        "instances": [{"input": "", "output": "Golden Crust"}],
        "is_classification": False,
    }
)
USAGE_ERROR = 2  # click's exit code for a refused option value


def _generate(*args: str) -> Result:
    return CliRunner().invoke(main, ["generate", "--model", "fake", "--quiet", *args])


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _assert_one_line_error(result: Result, *fragments: str) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return lines[0]


def _assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == USAGE_ERROR, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0]
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- seed files

huge = '{"instruction": "' + "word " * (MAX_LINE_BYTES // 5) + '"}'


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            f'{GOOD}\n{{"instruction": "Half a task",\n', ":2: invalid JSON", id="bad-json"
        ),
        pytest.param(f"{GOOD}\n{GOOD[:-1]}\n", ":2: invalid JSON", id="truncated-object"),
        pytest.param(
            f'{GOOD}\n{{"id": "x", "instances": []}}\n',
            ":2: field 'instruction': field required",
            id="missing-instruction",
        ),
        pytest.param(
            f'{GOOD}\n{{"instruction": "Ok.", "instances": [{{"input": "only"}}]}}\n',
            ":2: field 'instances.0.output': field required",
            id="missing-output",
        ),
        pytest.param(
            f'{GOOD}\n\n{{"instruction": ["not", "text"]}}\n',
            ":3: field 'instruction': input should be a valid string",
            id="instruction-list",
        ),
        pytest.param(
            f'{GOOD}\n{{"instruction": "Ok.", "instances": "none"}}\n',
            ":2: field 'instances': input should be a valid list",
            id="instances-string",
        ),
        pytest.param(
            f'{GOOD}\n{{"instruction": "Ok.", "is_classification": "maybe"}}\n',
            ":2: field 'is_classification'",
            id="classification-not-bool",
        ),
        pytest.param(f"[{GOOD}]\n", ":1: expected a JSON object, got list", id="json-array"),
        pytest.param("42\n", ":1: expected a JSON object, got int", id="json-number"),
        pytest.param("", ": file is empty", id="empty"),
        pytest.param("\n   \n\n", ": file is empty", id="blank-lines"),
        pytest.param(f"{GOOD}\n{huge}\n", ":2: line is", id="huge-line"),
    ],
)
def test_a_malformed_seed_file_names_the_file_and_line(
    tmp_path: Path, content: str, expected: str
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    result = _generate("-n", "2", "--out", str(out), "--seed-tasks", str(seeds))
    _assert_one_line_error(result, f"{seeds}{expected}")
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"\x1f\x8b\x08\x00" + bytes(range(256)), ":1: not valid UTF-8", id="gzip"),
        pytest.param(
            GOOD.encode() + b"\n\x89PNG\r\n\x1a\n\x00\x00", ":2: not valid UTF-8", id="png"
        ),
        pytest.param(b"\xef\xbb\xbf" + GOOD.encode() + b"\n", ":1: invalid JSON", id="bom"),
    ],
)
def test_a_binary_seed_file_names_the_file_and_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    seeds = tmp_path / "seeds.bin"
    seeds.write_bytes(content)
    out = tmp_path / "out"
    result = _generate("-n", "2", "--out", str(out), "--seed-tasks", str(seeds))
    _assert_one_line_error(result, f"{seeds}{expected}")
    assert not out.exists()


def test_a_missing_seed_file_is_named(tmp_path: Path) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "nowhere.jsonl"
    result = _generate("-n", "2", "--out", str(out), "--seed-tasks", str(missing))
    _assert_one_line_error(result, str(missing), "cannot read task file")
    assert not out.exists()


# --------------------------------------------------------------------------- option values


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--preset", "paper"], ["'--preset'", "'paper'"]),
        (["-n", "0"], ["'--num-instructions'", "0 is not in the range"]),
        (["-n", "-5"], ["'--num-instructions'", "-5"]),
        (["-n", "100000000000"], ["'--num-instructions'", "100000000000"]),
        (["-n", "lots"], ["'--num-instructions'", "'lots'"]),
        (["--concurrency", "0"], ["'--concurrency'", "0"]),
        (["--concurrency", "100000"], ["'--concurrency'", "100000"]),
        (["--requests-per-second", "0"], ["'--requests-per-second'", "0"]),
        (["--requests-per-second", "-3"], ["'--requests-per-second'", "-3"]),
        (["--requests-per-second", "1e-300"], ["'--requests-per-second'", "1e-300"]),
        (["--requests-per-second", "nan"], ["'--requests-per-second'", "'nan' is not a finite"]),
        (["--requests-per-second", "inf"], ["'--requests-per-second'", "'inf' is not a finite"]),
        (["--max-cost", "-1"], ["'--max-cost'", "-1"]),
        (["--max-cost", "0"], ["'--max-cost'", "0"]),
        (["--max-cost", "nan"], ["'--max-cost'", "'nan' is not a finite"]),
        (["--max-tokens", "0"], ["'--max-tokens'", "0"]),
        (["--max-tokens", "-100"], ["'--max-tokens'", "-100"]),
        (["--seed", "1.5"], ["'--seed'", "'1.5'"]),
    ],
)
def test_a_refused_option_value_is_named_and_nothing_is_created(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    out = tmp_path / "out"
    result = _generate("-n", "2", "--out", str(out), *args)
    _assert_usage_error(result, *fragments)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--model", "nonsense-model"], "unknown model provider in 'nonsense-model'"),
        (["--model", "fake:-1"], "fake:<latency seconds>"),
        (["--model", "fake:soon"], "fake:<latency seconds>"),
        (["--model", "x", "--base-url", "ftp://127.0.0.1/v1"], "--base-url must start with http"),
        (["--model", "fake", "--max-cost", "5"], "no price known for model"),
    ],
)
def test_a_model_that_cannot_be_used_gives_one_line(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["generate", "-n", "2", "--out", str(out), "-q", *args])
    _assert_one_line_error(result, fragment)
    assert not out.exists()


# --------------------------------------------------------------------------- output directory


def test_an_output_path_under_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep me\n", encoding="utf-8")
    result = _generate("-n", "2", "--out", str(blocker / "run"))
    _assert_one_line_error(result, str(blocker), "is a file")
    assert blocker.read_text(encoding="utf-8") == "keep me\n"
    assert _snapshot(tmp_path) == {"notes.txt": b"keep me\n"}


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "run"
    blocker.write_text("keep me\n", encoding="utf-8")
    result = _generate("-n", "2", "--out", str(blocker))
    _assert_usage_error(result, "'--out'", "is a file")
    assert _snapshot(tmp_path) == {"run": b"keep me\n"}


def _deny_writes(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    real_access: Callable[..., bool] = os.access

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        if Path(str(path)) == denied and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def test_an_unwritable_output_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root passes every permission check, so the refusal is simulated at the os.access boundary
    # (the next test does it for real where it can).
    parent = tmp_path / "locked"
    parent.mkdir()
    _deny_writes(monkeypatch, parent)
    result = _generate("-n", "2", "--out", str(parent / "run"))
    _assert_one_line_error(result, str(parent), "not writable")
    assert list(parent.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file modes")
def test_a_read_only_output_directory_is_refused_for_real(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    out.chmod(0o500)
    try:
        result = _generate("-n", "2", "--out", str(out))
        _assert_one_line_error(result, str(out), "not writable")
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o700)


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    """An output directory holding a finished two-task run (fake model, fast preset)."""
    out = tmp_path / "run"
    result = _generate("-n", "2", "--out", str(out), "--preset", "fast")
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize(
    ("args", "differs"),
    [
        (["--preset", "faithful"], "preset_sha256 differs"),
        (["--preset", "fast", "--seed-tasks", "{seeds}"], "seed_tasks_sha256 differs"),
        (["--preset", "fast", "--model", "fake", "--completion"], None),
    ],
)
def test_a_directory_holding_another_runs_settings_is_left_alone(
    finished_run: Path, tmp_path: Path, args: list[str], differs: str | None
) -> None:
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(GOOD + "\n", encoding="utf-8")
    before = _snapshot(finished_run)
    args = [arg.replace("{seeds}", str(seeds)) for arg in args]
    result = _generate("-n", "4", "--out", str(finished_run), *args)
    if differs is None:
        # Same model, preset and seeds: a compatible run resumes (the control case).
        assert result.exit_code == 0, result.output
        assert _snapshot(finished_run) != before
        return
    line = _assert_one_line_error(result, str(finished_run / "settings.json"), differs)
    assert "choose another --out" in line
    assert _snapshot(finished_run) == before


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("settings.json", b"{not json", "unreadable settings"),
        ("settings.json", b"[1, 2]", "expected a JSON object"),
        ("tasks.jsonl", b'{"id": "machine_task_0"}\n', "tasks.jsonl:1: field 'instruction'"),
    ],
)
def test_a_corrupted_output_directory_is_named_and_left_alone(
    finished_run: Path, name: str, content: bytes, fragment: str
) -> None:
    (finished_run / name).write_bytes(content)
    before = _snapshot(finished_run)
    result = _generate("-n", "4", "--out", str(finished_run), "--preset", "fast")
    _assert_one_line_error(result, fragment)
    assert _snapshot(finished_run) == before
