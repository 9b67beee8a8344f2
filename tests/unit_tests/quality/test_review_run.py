"""The review of a run: reproducible sample, resumable append-only file, failures, the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_selfinstruct import FakeSelfInstructLLM, SelfInstructPipeline, TaskFileError
from langchain_selfinstruct.quality.review_report import review_numbers
from langchain_selfinstruct.quality.review_run import review_items, review_run
from langchain_selfinstruct.quality.review_store import ReviewLog, read_reviews
from langchain_selfinstruct.schema import load_tasks


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run")
    SelfInstructPipeline(FakeSelfInstructLLM(seed=1), seed=1).run(path, 30)
    return path


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    (out / "tasks.jsonl").write_bytes((run_dir / "tasks.jsonl").read_bytes())
    return out


def test_the_sample_is_fixed_by_the_seed(run_dir: Path) -> None:
    tasks = load_tasks(run_dir / "tasks.jsonl")
    first = review_items(tasks, 10, seed=0)
    assert first == review_items(list(reversed(tasks)), 10, seed=0)
    assert [t.id for t, _ in review_items(tasks, 20, seed=0)][:10] == [t.id for t, _ in first]
    assert review_items(tasks, 10, seed=1) != first
    assert all(0 <= index < len(task.instances) for task, index in first)


def test_review_resumes_and_never_reviews_twice(run_dir: Path, tmp_path: Path) -> None:
    run = _copy(run_dir, tmp_path)
    judges = {"fake": FakeSelfInstructLLM(), "fake:0": FakeSelfInstructLLM(seed=3)}
    first = review_run(run, judges, sample=8, seed=0, concurrency=4)
    assert first.reviewed == {"fake": 8, "fake:0": 8} and first.skipped == 0
    again = review_run(run, judges, sample=12, seed=0)
    assert again.skipped == 16 and again.reviewed == {"fake": 4, "fake:0": 4}
    records = read_reviews(run / "review.jsonl")
    assert len(records) == 24 and len({r.key for r in records}) == 24
    assert {r.seed for r in records} == {0}
    with pytest.raises(ValueError, match="holds a review with seed 0; pass --seed 0"):
        review_run(run, judges, sample=8, seed=5)


def test_failed_items_are_recorded_and_retried(run_dir: Path, tmp_path: Path) -> None:
    run = _copy(run_dir, tmp_path)
    broken = FakeSelfInstructLLM(garbage_rate=1.0)
    summary = review_run(run, {"fake": broken}, sample=3)
    assert summary.failed == {"fake": 3} and not summary.reviewed
    records = read_reviews(run / "review.jsonl")
    assert {r.status for r in records} == {"failed"} and all(r.error for r in records)
    assert review_numbers(records) is None
    retried = review_run(run, {"fake": FakeSelfInstructLLM()}, sample=3)
    assert retried.reviewed == {"fake": 3}
    numbers = review_numbers(read_reviews(run / "review.jsonl"))
    assert numbers is not None and numbers["judges"]["fake"]["failed"] == 0


def test_a_torn_last_line_is_set_aside_and_a_bad_line_is_named(
    tmp_path: Path, run_dir: Path
) -> None:
    run = _copy(run_dir, tmp_path)
    review_run(run, {"fake": FakeSelfInstructLLM()}, sample=2)
    path = run / "review.jsonl"
    with path.open("a") as handle:
        handle.write('{"judge": "fake", "task_')
    assert len(read_reviews(path)) == 2
    with ReviewLog(path):
        pass
    assert (run / "review.jsonl.torn").read_text().startswith('{"judge"')
    path.write_text(path.read_text() + '{"judge": "fake"}\n')
    with pytest.raises(TaskFileError, match=r"review.jsonl:3: field 'task_id'"):
        read_reviews(path)


def test_numbers_give_wilson_intervals_the_paper_and_kappa(run_dir: Path, tmp_path: Path) -> None:
    run = _copy(run_dir, tmp_path)
    review_run(run, {"a": FakeSelfInstructLLM(seed=1), "b": FakeSelfInstructLLM(seed=1)}, sample=20)
    numbers = review_numbers(read_reviews(run / "review.jsonl"), examples=2)
    assert numbers is not None
    output = numbers["judges"]["a"]["questions"]["acceptable_output"]
    assert output["n"] == 20 and output["paper"] == 0.58
    assert output["ci_low"] <= output["share"] <= output["ci_high"]
    # Two copies of one deterministic judge agree on everything.
    assert all(q["observed"] == 1.0 for q in numbers["agreement"].values())
    assert numbers["agreement_judges"] == ["a", "b"]
    assert all(len(shown) <= 2 for shown in numbers["examples"].values())
    lines = [json.loads(line) for line in (run / "review.jsonl").read_text().splitlines()]
    assert all(line["usage"]["calls"] >= 1 for line in lines)
