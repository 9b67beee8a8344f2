"""The evaluation against a real OpenAI-compatible server: the embedded SmolLM2 served by
llama-cpp-python on 127.0.0.1, as the model answering five tasks and as their judge.

A 135M model is a weak judge, so the test checks the machinery, not the grades: every item is
answered, every reply either graded or recorded as a counted failure, and the report is drawn.
Replies are capped at a few dozen tokens to keep the test short.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration_tests.servers.llama_server import MODEL_ALIAS, LlamaServer

pytestmark = [pytest.mark.local_model, pytest.mark.allow_hosts(["127.0.0.1"])]

ITEMS = 5


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from langchain_selfinstruct.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_served_model_answers_and_judges_five_tasks(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    server = ("--base-url", llama_server.base_url, "--completion")
    answered = _cli(
        *("eval", "answer", "--model", MODEL_ALIAS, "--out", str(out), "--limit", str(ITEMS)),
        *("--max-tokens", "40", "-c", "1", *server),
    )
    assert answered.returncode == 0, answered.stderr + llama_server.log_tail()
    answers = _records(out / "answers.jsonl")
    assert len(answers) == ITEMS
    assert all(a["status"] == "answered" and str(a["response"]).strip() for a in answers)
    for a in answers:
        usage = a["usage"]
        assert isinstance(usage, dict) and usage["completion_tokens"] > 0

    graded = _cli("eval", "grade", str(out), "--judge", MODEL_ALIAS, "-c", "1", *server)
    assert graded.returncode == 0, graded.stderr + llama_server.log_tail()
    grades = _records(out / "grades.jsonl")
    assert len(grades) == ITEMS  # each reply graded once or recorded as a failure, none dropped
    assert {(g["model"], g["task_id"]) for g in grades} == {
        (a["model"], a["task_id"]) for a in answers
    }
    for g in grades:
        assert (g["status"], g.get("grade") in ("A", "B", "C", "D")) in (
            ("graded", True),
            ("failed", False),
        )
    failed = sum(g["status"] == "failed" for g in grades)
    assert f"{failed} failed" in graded.stdout if failed else "failed" not in graded.stdout

    report = _cli("eval", "report", str(out))
    assert report.returncode == 0, report.stderr
    html = (out / "eval_report.html").read_text(encoding="utf-8")
    assert MODEL_ALIAS in html
    if failed < ITEMS:
        assert (out / "eval_grades.png").read_bytes()[:4] == b"\x89PNG"
