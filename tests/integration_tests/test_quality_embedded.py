"""generate -> review -> report on the embedded SmolLM2-135M model, as generator and judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from langchain_selfinstruct.cli import main
from tests.markers import NEEDS_LOCAL

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.slow,
    NEEDS_LOCAL,
]


def test_generate_review_report_on_the_embedded_model(tmp_path: Path) -> None:
    run, report = tmp_path / "run", tmp_path / "report"
    runner = CliRunner()
    generated = runner.invoke(
        main, ["generate", "-n", "3", "--preset", "fast", "--out", str(run), "-q", "-c", "2"]
    )
    assert generated.exit_code == 0, generated.output
    reviewed = runner.invoke(main, ["review", str(run), "--judge", "embedded", "--sample", "3"])
    assert reviewed.exit_code == 0, reviewed.output
    lines = [json.loads(line) for line in (run / "review.jsonl").read_text().splitlines()]
    # Every item is recorded, reviewed or failed; the prompt's worked examples are what let a
    # 135M judge answer in the three-line form at all (without them every review failed).
    assert len(lines) == 3 and {line["status"] for line in lines} <= {"reviewed", "failed"}
    assert any(line["status"] == "reviewed" for line in lines)
    made = runner.invoke(main, ["report", str(run), "--out", str(report)])
    assert made.exit_code == 0, made.output
    assert "Review: the paper" in (report / "report.html").read_text()
