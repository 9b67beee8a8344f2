"""A resume must use the added filters (``--exclude``, ``--curate``) of the run it continues."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from langchain_selfinstruct.cli import main


def _generate(out: Path, n: int, *extra: str) -> Result:
    args = ["generate", "--model", "fake", "-n", str(n), "--out", str(out), "-q", *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_a_resume_without_the_runs_exclude_file_is_refused(tmp_path: Path) -> None:
    excluded = tmp_path / "eval.txt"
    excluded.write_text("Translate the sentence into French.\n", encoding="utf-8")
    out = tmp_path / "run"
    assert _generate(out, 2, "--exclude", str(excluded)).exit_code == 0
    settings = json.loads((out / "settings.json").read_text(encoding="utf-8"))
    assert [rule["rule"] for rule in settings["filters"]] == ["decontaminate"]
    assert settings["filters"][0]["sources"] == ["eval.txt"]
    before = (out / "tasks.jsonl").read_bytes()

    refused = _generate(out, 4)
    assert refused.exit_code == 1
    assert "filters differs" in refused.output
    assert "rules there: decontaminate" in refused.output
    assert (out / "tasks.jsonl").read_bytes() == before

    resumed = _generate(out, 4, "--exclude", str(excluded))
    assert resumed.exit_code == 0, resumed.output
    assert len((out / "tasks.jsonl").read_text(encoding="utf-8").splitlines()) == 4


def test_a_resume_with_curation_added_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _generate(out, 2).exit_code == 0
    refused = _generate(out, 4, "--curate")
    assert refused.exit_code == 1
    assert "filters differs" in refused.output


def test_a_run_recorded_before_filters_existed_resumes_without_any(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _generate(out, 2).exit_code == 0
    settings_path = out / "settings.json"
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    del settings["filters"]
    settings_path.write_text(json.dumps(settings), encoding="utf-8")
    assert _generate(out, 3).exit_code == 0
