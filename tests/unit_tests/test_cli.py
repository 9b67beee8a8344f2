"""The ``selfinstruct`` command on the scripted fake model: help, version, runs, resume, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from langchain_selfinstruct import __version__
from langchain_selfinstruct.cli import generate, main
from langchain_selfinstruct.schema import load_tasks


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _generate(out: Path, n: int, *extra: str) -> Result:
    return _run("generate", "--model", "fake", "-n", str(n), "--out", str(out), *extra)


def _table(text: str) -> dict[str, str]:
    rows = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in text.splitlines())
    return {row[0]: row[1] for row in rows if len(row) == 2}


def _squash(text: str) -> str:
    # Help text is re-wrapped to the terminal width, even inside hyphenated words.
    return "".join(text.split())


def test_generate_help_lists_every_option_with_its_help_text() -> None:
    result = _run("generate", "--help")
    assert result.exit_code == 0
    options = [p for p in generate.params if isinstance(p, click.Option)]
    assert len(options) >= 15
    for option in options:
        for flag in option.opts:
            assert flag in result.output
        assert option.help, f"{option.name} has no help text"
        assert _squash(option.help) in _squash(result.output), option.name


def test_top_level_help_lists_the_commands() -> None:
    result = _run("--help")
    assert result.exit_code == 0
    for command in ("generate", "export", "report"):
        assert re.search(rf"^\s+{command}\b", result.output, flags=re.MULTILINE)


def test_version() -> None:
    result = _run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"selfinstruct, version {__version__}"


def test_generate_writes_the_tasks_and_prints_the_summary_table(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _generate(out, 5, "--quiet")
    assert result.exit_code == 0, result.output
    assert [t.id for t in load_tasks(out / "tasks.jsonl")] == [
        f"machine_task_{i}" for i in range(5)
    ]
    table = _table(result.stdout)
    stats = json.loads((out / "stats.json").read_text())
    assert table["output"] == str(out)
    assert table["stopped because"] == "reached the target: 5 of 5 tasks"
    assert table["exit code"] == "0"
    assert table["tasks in directory"] == table["accepted this run"] == "5"
    assert table["instances kept"] == str(stats["instances_kept"])
    assert table["model calls / errors"] == f"{stats['model_calls']} / {stats['model_errors']}"
    for reason, count in stats["rejected"].items():
        assert table[f"rejected: {reason}"] == str(count)
    assert result.stderr == ""


def _json_summary(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    record: dict[str, Any] = json.loads(result.stdout)
    return record


def test_json_summary_has_the_counters_and_matches_stats_json(tmp_path: Path) -> None:
    record = _json_summary(_generate(tmp_path, 5, "--json", "--quiet"))
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert record["out_dir"] == str(tmp_path)
    assert (record["total_tasks"], record["resumed_tasks"], record["accepted"]) == (5, 0, 5)
    for key in ("rejected", "failures", "model_calls", "prompt_tokens", "stop_reason"):
        assert record[key] == stats[key], key


def test_a_rerun_resumes_and_a_larger_target_continues(tmp_path: Path) -> None:
    _json_summary(_generate(tmp_path, 5, "--json", "--quiet"))
    first = (tmp_path / "tasks.jsonl").read_bytes()

    again = _json_summary(_generate(tmp_path, 5, "--json", "--quiet"))
    assert (again["total_tasks"], again["resumed_tasks"], again["accepted"]) == (5, 5, 0)
    assert again["stop_reason"] == "target"
    assert (tmp_path / "tasks.jsonl").read_bytes() == first

    more = _json_summary(_generate(tmp_path, 8, "--json", "--quiet"))
    assert (more["total_tasks"], more["resumed_tasks"], more["accepted"]) == (8, 5, 3)
    assert (tmp_path / "tasks.jsonl").read_bytes().startswith(first)
    assert [t.id for t in load_tasks(tmp_path / "tasks.jsonl")][5:] == [
        "machine_task_5",
        "machine_task_6",
        "machine_task_7",
    ]


def test_options_reach_the_settings(tmp_path: Path) -> None:
    result = _generate(tmp_path, 2, "--quiet", "-c", "3", "--seed", "11", "--preset", "fast")
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert (settings["max_concurrency"], settings["seed"], settings["preset"]) == (3, 11, "fast")


def test_the_progress_bar_goes_to_stderr_only(tmp_path: Path) -> None:
    result = _generate(tmp_path, 3, "--json")
    assert result.exit_code == 0, result.output
    assert "accepted" in result.stderr
    assert json.loads(result.stdout)["total_tasks"] == 3


@pytest.mark.parametrize("model", ["unknownprovider:x", "fake:-1"])
def test_a_bad_model_gives_a_one_line_error_and_creates_nothing(tmp_path: Path, model: str) -> None:
    out = tmp_path / "never"
    result = _run("generate", "--model", model, "-n", "5", "--out", str(out), "--quiet")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "key", "old", "new"),
    [("--seed", "seed", "0", "5"), ("--concurrency", "max_concurrency", "8", "3")],
)
def test_a_resume_with_another_seed_or_concurrency_is_refused_and_changes_nothing(
    tmp_path: Path, option: str, key: str, old: str, new: str
) -> None:
    assert _generate(tmp_path, 3, "--quiet").exit_code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = _generate(tmp_path, 5, "--quiet", option, new)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'settings.json'}: holds another run ({key} differs: {old} there, "
        f"{new} now); it decides which tasks are generated, so resume with {option} {old}, "
        "or choose another --out\n"
    )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_export_follows_the_extension_and_refuses_another(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert _generate(run, 3, "--quiet").exit_code == 0
    ok = _run("export", str(run), "--format", "openai", "--out", str(tmp_path / "chat.json"))
    assert ok.exit_code == 0, ok.output
    rows = json.loads((tmp_path / "chat.json").read_text())
    assert [set(row) for row in rows] == [{"messages"}] * len(rows)
    refused = _run("export", str(run), "--format", "openai", "--out", str(tmp_path / "chat.txt"))
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: {tmp_path / 'chat.txt'}: the openai export follows")
    assert not (tmp_path / "chat.txt").exists()


def test_an_unpriced_model_shows_unknown_cost_everywhere_even_on_a_resume_that_did_nothing(
    tmp_path: Path,
) -> None:
    for _ in range(2):  # the second session finds the target reached and calls no model
        table = _table(_generate(tmp_path, 3, "--quiet").stdout)
        assert table["cost"] == "unknown (no price for this model)"
        record = _json_summary(_generate(tmp_path, 3, "--quiet", "--json"))
        assert record["cost_usd"] is None
        assert json.loads((tmp_path / "stats.json").read_text())["cost_usd"] is None
    assert record["model_calls"] == 0


def test_a_priced_model_shows_dollars_and_a_resume_that_did_nothing_costs_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_selfinstruct import stats

    monkeypatch.setitem(stats.DEFAULT_PRICES, "fake", (1000.0, 2000.0))
    first = _generate(tmp_path, 3, "--quiet", "--json")
    cost = _json_summary(first)["cost_usd"]
    assert cost > 0
    assert _table(_generate(tmp_path, 4, "--quiet").stdout)["cost"].startswith("$")
    assert _table(_generate(tmp_path, 4, "--quiet").stdout)["cost"] == "$0.0000"
    assert json.loads((tmp_path / "stats.json").read_text())["cost_usd"] == 0.0


def _scripted_model(monkeypatch: pytest.MonkeyPatch, llm: Any) -> None:
    from langchain_selfinstruct import models

    monkeypatch.setattr(models, "resolve_model", lambda *args, **kwargs: llm)


def test_a_stalled_run_exits_3_and_the_summary_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_core.language_models import FakeListLLM

    _scripted_model(monkeypatch, FakeListLLM(responses=["Hi."]))
    result = _generate(tmp_path, 3, "--quiet", "-c", "1")
    assert result.exit_code == 3
    table = _table(result.stdout)
    assert table["stopped because"] == (
        "stalled: no task accepted in 5 rounds in a row, 0 of 3 tasks; "
        "most frequent: rejected too_short (5); too_short dominates: words are counted by "
        "spaces; if the text has none (Chinese, Japanese, Thai) use --tokenizer unicode "
        "(tokenizer='unicode')"
    )
    assert table["exit code"] == "3"
    record = json.loads(_generate(tmp_path, 3, "--quiet", "-c", "1", "--json").stdout)
    assert (record["stop_reason"], record["exit_code"]) == ("stalled", 3)
    assert record["stop_detail"].startswith("stalled: no task accepted in 5 rounds in a row")


def test_a_model_that_always_fails_exits_non_zero_naming_the_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_core.language_models import FakeListLLM

    class Broken(FakeListLLM):
        def _call(self, *args: Any, **kwargs: Any) -> str:
            raise PermissionError("401 invalid api key")

        async def _acall(self, *args: Any, **kwargs: Any) -> str:
            raise PermissionError("401 invalid api key")

    _scripted_model(monkeypatch, Broken(responses=["unused"]))
    result = _generate(tmp_path, 3, "--quiet", "-c", "1", "--json")
    record = json.loads(result.stdout)
    # A refused key stops the loop at once (no stall window), under its own reason: code 4.
    assert record["stop_reason"] == "model_error"
    assert result.exit_code == record["exit_code"] == 4
    assert "failed generate_instructions (1)" in record["stop_detail"]
    assert "last error: PermissionError: 401 invalid api key" in record["stop_detail"]


@pytest.mark.parametrize(
    ("extra", "reason", "detail"),
    [
        ((), "target", "reached the target: 3 of 3 tasks"),
        (("--max-tokens", "1"), "max_tokens", "stopped at the --max-tokens budget"),
    ],
)
def test_a_run_stopped_at_its_target_or_a_budget_exits_0(
    tmp_path: Path, extra: tuple[str, ...], reason: str, detail: str
) -> None:
    result = _generate(tmp_path, 3, "--quiet", "--json", *extra)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["stop_reason"], record["exit_code"]) == (reason, 0)
    assert record["stop_detail"].startswith(detail)


def test_generate_help_documents_the_exit_codes() -> None:
    text = " ".join(_run("generate", "--help").output.split())
    for line in (
        "0 the target or a budget (--max-cost, --max-tokens) was reached",
        "1 an error before or during the run",
        "2 a bad option",
        "3 stalled: rounds in a row accepted nothing",
        "4 stopped on model errors or any other reason",
        "130 interrupted (Ctrl-C)",
    ):
        assert line in text


def test_a_second_ctrl_c_reports_what_was_written_and_exits_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit_tests.test_runner import HangsMidRun, _ctrl_c_when_the_model_hangs

    _ctrl_c_when_the_model_hangs(monkeypatch)
    _scripted_model(monkeypatch, HangsMidRun())
    result = _generate(tmp_path, 500, "--quiet", "-c", "2")
    assert result.exit_code == 130
    assert "nothing was written" not in result.output
    tasks = load_tasks(tmp_path / "tasks.jsonl")
    table = _table(result.stdout)
    assert table["stopped because"] == (
        f"interrupted: {len(tasks)} of 500 tasks; run the same command again to resume"
    )
    assert json.loads((tmp_path / "stats.json").read_text())["accepted"] == len(tasks)


def test_a_third_ctrl_c_says_what_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit_tests.test_runner import HangsMidRun, _ctrl_c_when_the_model_hangs

    _ctrl_c_when_the_model_hangs(monkeypatch, presses=3)
    _scripted_model(monkeypatch, HangsMidRun())
    result = _generate(tmp_path, 500, "--quiet", "-c", "2")
    assert result.exit_code == 130
    count = len(load_tasks(tmp_path / "tasks.jsonl"))
    assert result.stderr == (
        f"interrupted while stopping: {count} tasks are in {tmp_path / 'tasks.jsonl'}, every "
        "line complete; stats.json may be out of date; run the same command again to resume\n"
    )


def test_ctrl_c_while_the_model_loads_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_selfinstruct import models

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "resolve_model", interrupted)
    result = _generate(tmp_path / "out", 5, "--quiet")
    assert result.exit_code == 130
    assert result.stderr == "interrupted before the run started; nothing was written\n"
    assert not (tmp_path / "out").exists()
