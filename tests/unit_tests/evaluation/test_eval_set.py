"""Our own evaluation set: its shape, its originality against the paper's 252, and --exclude."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from langchain_selfinstruct.evaluation import EvalItem, default_eval_tasks_path, load_eval_items
from langchain_selfinstruct.quality import Decontaminator
from langchain_selfinstruct.quality.decontaminate import load_exclusion_texts
from langchain_selfinstruct.resources import prompt_path
from langchain_selfinstruct.schema import TaskFileError


@pytest.fixture(scope="module")
def items() -> list[EvalItem]:
    return load_eval_items()


@pytest.fixture(scope="module")
def scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def test_the_set_has_100_tasks_over_30_apps_each_with_a_reference(items: list[EvalItem]) -> None:
    assert len(items) >= 100
    assert len({i.task_id for i in items}) == len(items)
    apps = Counter(i.motivation_app for i in items)
    assert len(apps) >= 30 and "" not in apps
    assert max(apps.values()) <= 5  # spread, not one app dominating
    assert all(i.instruction.strip() and i.reference.strip() for i in items)
    with_input = sum(bool(i.input) for i in items) / len(items)
    assert 0.4 <= with_input <= 0.9


def test_the_file_is_in_the_papers_format() -> None:
    for line in default_eval_tasks_path().read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        assert set(record) == {"id", "motivation_app", "instruction", "instances"}
        assert all(set(i) == {"input", "output"} for i in record["instances"])


def test_no_task_is_a_near_paraphrase_of_another(
    items: list[EvalItem], scorer: rouge_scorer.RougeScorer
) -> None:
    worst = max(
        (scorer.score(a.instruction, b.instruction)["rougeL"].fmeasure, a.key, b.key)
        for a, b in itertools.combinations(items, 2)
    )
    assert worst[0] <= 0.7, worst


def test_no_task_is_a_near_paraphrase_of_the_papers_252(
    items: list[EvalItem], scorer: rouge_scorer.RougeScorer, user_oriented_path: Path
) -> None:
    paper = [json.loads(line) for line in user_oriented_path.read_text().splitlines()]
    assert len(paper) == 252
    theirs = [p["instruction"] for p in paper]
    theirs_full = [
        f"{p['instruction']} {inst['input']}".strip() for p in paper for inst in p["instances"]
    ]
    for ours in items:
        best = max(scorer.score(t, ours.instruction)["rougeL"].fmeasure for t in theirs)
        assert best <= 0.6, (ours.key, ours.instruction, best)
        mine = f"{ours.instruction} {ours.input}".strip()
        best_full = max(scorer.score(t, mine)["rougeL"].fmeasure for t in theirs_full)
        assert best_full <= 0.6, (ours.key, best_full)


def test_the_generation_loops_exclude_takes_our_set(items: list[EvalItem]) -> None:
    path = default_eval_tasks_path()
    texts = load_exclusion_texts(path)
    assert len(texts) >= len(items)
    guard = Decontaminator([path])
    hit = guard(items[0].instruction)
    assert hit is not None and hit.reason.startswith("contaminated:")
    assert guard("Compose a limerick about a sleepy walrus on an iceberg.") is None


def test_a_task_file_without_reference_names_the_task(tmp_path: Path) -> None:
    bad = tmp_path / "tasks.jsonl"
    bad.write_text(
        json.dumps({"id": "x1", "instruction": "Say hi.", "instances": [{"output": ""}]}) + "\n"
    )
    with pytest.raises(TaskFileError, match=r"x1.*instances\.0\.output"):
        load_eval_items(bad)


PAPER_RUBRIC = (
    "A: The response is valid and satisfying.",
    "B: The response is acceptable but has minor errors or imperfections.",
    "C: The response is relevant and responds to the instruction, but it has significant errors "
    "in the content.",
    "D: The response is irrelevant or completely invalid.",
)


@pytest.mark.parametrize("name", ["eval_answer.txt", "response_grade.txt", "pairwise_judge.txt"])
def test_eval_prompts_are_our_own_wording(name: str, scorer: rouge_scorer.RougeScorer) -> None:
    text = prompt_path(name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if len(line.split()) >= 4]
    assert lines
    for line in lines:
        best = max(scorer.score(line, other)["rougeL"].fmeasure for other in PAPER_RUBRIC)
        assert best <= 0.6, line
