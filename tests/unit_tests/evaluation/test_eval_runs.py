"""The evaluation directory: answer, grade, compare and report, resumable and blind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableLambda

from langchain_selfinstruct import FakeSelfInstructLLM
from langchain_selfinstruct.cli import main
from langchain_selfinstruct.evaluation import (
    AnswerRecord,
    EvalDirectoryError,
    GradeRecord,
    PairRecord,
    answer_run,
    compare_run,
    default_eval_tasks_path,
    grade_run,
    write_eval_report,
)
from langchain_selfinstruct.evaluation.metrics import bootstrap_interval, grade_agreement
from langchain_selfinstruct.evaluation.store import read_records
from tests.unit_tests.fakes import RecordingLLM, Script

TASKS = [
    {"id": f"t{i}", "motivation_app": f"App{i % 3}", "instruction": text, "instances": [inst]}
    for i, (text, inst) in enumerate(
        [
            ("Add the numbers.", {"input": "2 and 5", "output": "7"}),
            ("Name a blue fruit.", {"input": "", "output": "A blueberry."}),
            ("Write a greeting for a card.", {"input": "birthday", "output": "Happy birthday!"}),
            ("Translate to French.", {"input": "thank you", "output": "merci"}),
            ("Give an antonym.", {"input": "cold", "output": "hot"}),
            ("Sort the letters.", {"input": "c a b", "output": "a b c"}),
        ]
    )
]


@pytest.fixture
def tasks_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in TASKS), encoding="utf-8")
    return path


def _answers(out: Path) -> list[AnswerRecord]:
    return read_records(out / "answers.jsonl", AnswerRecord)


def test_answers_resume_and_failures_are_recorded_then_retried(
    tmp_path: Path, tasks_file: Path
) -> None:
    out = tmp_path / "eval"
    empty = RecordingLLM(script=Script(["  "]))  # always empty: unparseable
    counts = answer_run(out, empty, "m1", tasks=tasks_file, concurrency=3)
    assert (counts.done, counts.failed, counts.total) == (0, 6, 6)
    assert len(empty.log.calls) == 6 * 3  # bounded: first call and two resamples each
    assert {r.status for r in _answers(out)} == {"failed"}
    assert all("empty" in (r.error or "") for r in _answers(out))
    good = answer_run(out, FakeSelfInstructLLM(), "m1", concurrency=3)
    assert (good.done, good.failed, good.skipped) == (6, 0, 0)
    again = answer_run(out, FakeSelfInstructLLM(), "m1")
    assert (again.done, again.skipped) == (0, 6)
    answered = [r for r in _answers(out) if r.status == "answered"]
    assert sorted(r.task_id for r in answered) == [f"t{i}" for i in range(6)]
    assert (out / "tasks.jsonl").read_bytes() == tasks_file.read_bytes()


def test_another_task_set_is_refused_and_a_torn_line_set_aside(
    tmp_path: Path, tasks_file: Path
) -> None:
    out = tmp_path / "eval"
    answer_run(out, FakeSelfInstructLLM(), "m1", tasks=tasks_file, limit=2)
    with pytest.raises(EvalDirectoryError, match="another task set"):
        answer_run(out, FakeSelfInstructLLM(), "m1", tasks=default_eval_tasks_path())
    with (out / "answers.jsonl").open("a") as handle:
        handle.write('{"task_id": "t2", "instance_')
    counts = answer_run(out, FakeSelfInstructLLM(), "m1")
    assert (counts.done, counts.skipped) == (4, 2)
    assert (out / "answers.jsonl.torn").read_text().startswith('{"task_id": "t2"')
    assert len(_answers(out)) == 6


def test_grading_is_blind_seeded_and_never_twice(tmp_path: Path, tasks_file: Path) -> None:
    out = tmp_path / "eval"
    answer_run(out, FakeSelfInstructLLM(seed=1), "secret-model-alpha", tasks=tasks_file)
    answer_run(out, FakeSelfInstructLLM(seed=2), "secret-model-beta")
    judge = RecordingLLM(script=Script([" B - fine"]))
    counts = grade_run(out, {"j": judge}, seed=5, concurrency=1)
    assert (counts.done, counts.total) == (12, 12)
    assert not any("secret-model" in prompt for prompt in judge.log.prompts)
    graded = read_records(out / "grades.jsonl", GradeRecord)
    order = [(r.model, r.task_id) for r in graded]
    assert len(set(order)) == 12
    assert len({m for m, _ in order[:4]}) == 2  # the models are interleaved
    other = tmp_path / "other"
    answer_run(other, FakeSelfInstructLLM(seed=1), "secret-model-alpha", tasks=tasks_file)
    answer_run(other, FakeSelfInstructLLM(seed=2), "secret-model-beta")
    grade_run(other, {"j": RecordingLLM(script=Script([" B - fine"]))}, seed=6, concurrency=1)
    assert [
        (r.model, r.task_id) for r in read_records(other / "grades.jsonl", GradeRecord)
    ] != order
    assert grade_run(out, {"j": judge}, seed=5).done == 0
    assert len(judge.log.calls) == 12
    with pytest.raises(ValueError, match="seed 5"):
        grade_run(out, {"j": judge}, seed=1)


def test_a_judge_answering_garbage_is_counted_and_retried_next_time(
    tmp_path: Path, tasks_file: Path
) -> None:
    out = tmp_path / "eval"
    answer_run(out, FakeSelfInstructLLM(), "m1", tasks=tasks_file)
    counts = grade_run(out, {"j": RecordingLLM(script=Script(["no idea"]))})
    assert (counts.done, counts.failed) == (0, 6)
    fixed = grade_run(out, {"j": RecordingLLM(script=Script([" A - right"]))})
    assert (fixed.done, fixed.failed, fixed.skipped) == (6, 0, 0)
    report = write_eval_report(out)
    shares = report.numbers["grades"]["j"]["m1"]
    assert shares["n"] == 6 and shares["shares"]["A"] == 1.0 and shares["failed"] == 0


def test_compare_reports_for_the_model_whatever_order_was_shown(
    tmp_path: Path, tasks_file: Path
) -> None:
    out = tmp_path / "eval"
    answer_run(out, RecordingLLM(script=Script(["short"])), "base", tasks=tasks_file)
    answer_run(out, RecordingLLM(script=Script(["a much longer reply here"])), "new")
    judge = RecordingLLM(script=Script([" 1 - first"]))  # always the reply shown first
    longer = RunnableLambda(_prefer_longer)  # a judge that picks the reply with more words
    counts = compare_run(out, {"j": longer}, "base", seed=0)
    assert counts.done == 6
    pairs = read_records(out / "pairs.jsonl", PairRecord)
    assert {p.outcome for p in pairs} == {"win"}
    assert {p.baseline_first for p in pairs} == {True, False}
    assert all((p.length_model, p.length_baseline) == (5, 1) for p in pairs)
    numbers = write_eval_report(out).numbers
    (row,) = numbers["win_rates"]
    assert row["win_rate"] == 1.0 and row["inconsistency_rate"] == 0.0
    assert numbers["pair_length_preference"]["j"]["share"] == 1.0
    always_first = compare_run(tmp_path / "eval", {"k": judge}, "base")
    assert always_first.done == 6
    rows = {r["judge"]: r for r in write_eval_report(out).numbers["win_rates"]}
    assert rows["k"]["inconsistent"] == 6 and rows["k"]["tie"] == 6


def _prefer_longer(prompt: PromptValue) -> str:
    text = prompt.to_string()
    one = text.split("Reply 1: ")[-1].split("\n")[0]
    two = text.split("Reply 2: ")[-1].split("\n")[0]
    return " 1 - longer" if len(one.split()) > len(two.split()) else " 2 - longer"


def test_the_report_draws_the_bars_and_two_judges_agreement(
    tmp_path: Path, tasks_file: Path
) -> None:
    out = tmp_path / "eval"
    answer_run(out, FakeSelfInstructLLM(seed=1), "m1", tasks=tasks_file)
    answer_run(out, FakeSelfInstructLLM(seed=2), "m2")
    grade_run(out, {"fake": FakeSelfInstructLLM(seed=7), "fake2": FakeSelfInstructLLM(seed=8)})
    report = write_eval_report(out)
    assert report.png is not None and report.png.read_bytes()[:4] == b"\x89PNG"
    html = report.html.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "Cohen" in html
    (agreement,) = report.numbers["agreement"]
    assert agreement["judges"] == ["fake", "fake2"] and agreement["n"] == 12
    saved = json.loads((out / "eval_report.json").read_text(encoding="utf-8"))
    assert saved["grades"] == report.numbers["grades"]


def test_metrics_bootstrap_and_kappa() -> None:
    low, high = bootstrap_interval([1.0] * 30 + [0.0] * 10)
    assert low < 0.75 < high and low > 0.5 and high < 0.95
    narrow = bootstrap_interval([1.0] * 300 + [0.0] * 100)
    assert narrow[1] - narrow[0] < high - low
    grades = [
        GradeRecord.model_validate(
            {"judge": j, "model": "m", "task_id": f"t{i}", "instance_index": 0, "seed": 0,
             "status": "graded", "grade": g}
        )
        for j, labels in (("x", "AABCDD"), ("y", "ABCCDA"))
        for i, g in enumerate(labels)
    ]  # fmt: skip
    (row,) = grade_agreement(grades)
    # Four grades: 3 of 6 agree, 1/4 expected by chance; A/B against C/D: 4 of 6, 1/2 expected.
    assert row["n"] == 6 and row["kappa_four"] == pytest.approx(1 / 3)
    assert row["kappa_acceptable"] == pytest.approx(1 / 3)


def test_the_cli_runs_a_dry_evaluation(tmp_path: Path, tasks_file: Path) -> None:
    out = str(tmp_path / "eval")
    runner = CliRunner()
    for args in (
        ["answer", "--tasks", str(tasks_file), "--model", "fake", "--out", out],
        ["answer", "--model", "fake:0", "--out", out],
        ["grade", out, "--judge", "fake"],
        ["compare", out, "--judge", "fake", "--baseline", "fake"],
        ["report", out],
    ):
        result = runner.invoke(main, ["eval", *args])
        assert result.exit_code == 0, result.output
    assert "fake / fake:" in result.output and "eval_grades.png" in result.output
    missing = runner.invoke(main, ["eval", "grade", str(tmp_path), "--judge", "fake"])
    assert missing.exit_code == 1 and "run `selfinstruct eval answer`" in missing.output


def test_the_log_never_writes_a_line_it_could_not_read_back(tmp_path: Path) -> None:
    from langchain_selfinstruct.evaluation.store import JsonlLog
    from langchain_selfinstruct.schema import MAX_LINE_BYTES

    path = tmp_path / "answers.jsonl"
    small = AnswerRecord(
        model="m", task_id="t0", instance_index=0, status="answered", response="hi"
    )
    huge = small.model_copy(update={"task_id": "t1", "response": "x" * MAX_LINE_BYTES})
    with JsonlLog[AnswerRecord](path) as log, pytest.raises(ValueError, match="not written"):
        log.append(small, huge)
    assert not path.read_bytes()  # all or nothing: the small one is not written either
    with JsonlLog[AnswerRecord](path) as log:
        log.append(small)
    assert read_records(path, AnswerRecord) == [small]
