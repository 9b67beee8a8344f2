"""generate -> review -> report and decontaminate from the command line, on the fake model."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner, Result

from langchain_selfinstruct._cli_quality import DECONTAMINATE_FLAGGED_EXIT
from langchain_selfinstruct.cli import main


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_generate_review_report_end_to_end(tmp_path: Path) -> None:
    run, report = tmp_path / "run", tmp_path / "report"
    assert (
        _run("generate", "-m", "fake", "-n", "25", "--out", str(run), "-q", "--curate").exit_code
        == 0
    )
    rejects = (run / "rejects.jsonl").read_text()
    assert '"reason": "instance:judge:' in rejects
    result = _run(
        "review", str(run), "--judge", "fake", "--judge", "fake:0", "--sample", "10", "--seed", "3"
    )
    assert result.exit_code == 0, result.output
    assert "fake: reviewed 10 now" in result.output
    again = _run("review", str(run), "--judge", "fake", "--sample", "10", "--seed", "3")
    assert "fake: reviewed 0 now" in again.output and "10 already reviewed" in again.output
    assert _run("report", str(run), "--out", str(report)).exit_code == 0
    html = (report / "report.html").read_text()
    assert (
        "the paper&#x27;s Table 2 for this run" in html
        or "the paper's Table 2 for this run" in html
    )
    assert re.search(r'data-key="review:fake:acceptable_output".*?<td>58\.0%</td>', html)
    assert 'data-key="kappa:valid_task"' in html and 'data-key="distinct_2"' in html
    numbers = json.loads((report / "report.json").read_text())
    assert numbers["review"]["seed"] == 3 and numbers["diversity"]["distinct_1"] > 0


def test_review_refuses_a_repeated_judge_and_a_missing_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _run("generate", "-m", "fake", "-n", "3", "--out", str(run), "-q")
    result = CliRunner().invoke(main, ["review", str(run), "--judge", "fake", "--judge", "fake"])
    assert result.exit_code == 2 and "give each --judge once" in result.output
    result = CliRunner().invoke(main, ["review", str(tmp_path), "--judge", "fake"])
    assert result.exit_code == 1 and "tasks.jsonl: not found" in result.output


def test_exclude_and_decontaminate(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    _run("generate", "-m", "fake", "-n", "10", "--out", str(plain), "-q")
    first = [
        json.loads(line)["instruction"] for line in (plain / "tasks.jsonl").read_text().splitlines()
    ]
    exclude = tmp_path / "eval.txt"
    exclude.write_text("\n".join(first[:3]) + "\n")
    result = CliRunner().invoke(main, ["decontaminate", str(plain), "--exclude", str(exclude)])
    assert "contaminated:eval.txt: 3" in result.output and "flagged 3 of 10 tasks" in result.output
    assert result.exit_code == DECONTAMINATE_FLAGGED_EXIT  # a script can tell a leak from a pass
    clean = tmp_path / "clean"
    _run("generate", "-m", "fake", "-n", "10", "--out", str(clean), "-q", "--exclude", str(exclude))
    kept = {
        json.loads(line)["instruction"] for line in (clean / "tasks.jsonl").read_text().splitlines()
    }
    assert not kept & set(first[:3])
    assert '"reason": "contaminated:eval.txt"' in (clean / "rejects.jsonl").read_text()
    passed = CliRunner().invoke(main, ["decontaminate", str(clean), "--exclude", str(exclude)])
    assert passed.exit_code == 0 and "flagged 0 of 10 tasks" in passed.output
    result = CliRunner().invoke(main, ["decontaminate", str(plain)])
    assert result.exit_code == 2 and "give at least one --exclude FILE" in result.output


def test_curate_judge_needs_curate(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "generate",
            "-m",
            "fake",
            "-n",
            "2",
            "--out",
            str(tmp_path / "r"),
            "--curate-judge",
            "fake",
        ],
    )
    assert result.exit_code == 2 and "--curate-judge needs --curate" in result.output
