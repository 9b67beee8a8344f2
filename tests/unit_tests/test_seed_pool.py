"""Properties of our own 175-task seed pool (seeds/seed_tasks.jsonl)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

from langchain_selfinstruct import load_seed_tasks
from langchain_selfinstruct.schema import Task
from langchain_selfinstruct.steps import InstanceFilter, InstructionFilter


@pytest.fixture(scope="module")
def seeds() -> list[Task]:
    return load_seed_tasks()


@pytest.fixture(scope="module")
def scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def test_shape_of_the_pool(seeds: list[Task]) -> None:
    assert len(seeds) == 175
    assert [t.id for t in seeds] == [f"seed_task_{i}" for i in range(175)]
    assert len({t.name for t in seeds}) == 175
    assert all(t.source == "seed" and len(t.instances) == 1 for t in seeds)
    assert all(isinstance(t.is_classification, bool) for t in seeds)


def test_classification_share_and_input_share(seeds: list[Task]) -> None:
    assert sum(bool(t.is_classification) for t in seeds) >= 25
    with_input = sum(bool(t.instances[0].input) for t in seeds) / len(seeds)
    assert 0.65 <= with_input <= 0.75


def test_instruction_lengths_span_short_to_long(seeds: list[Task]) -> None:
    lengths = [len(t.instruction.split()) for t in seeds]
    assert min(lengths) <= 5
    assert max(lengths) >= 40
    assert all(3 < n <= 150 for n in lengths)


def test_classification_outputs_are_short_labels(seeds: list[Task]) -> None:
    for task in seeds:
        if task.is_classification:
            label = task.instances[0].output
            assert len(label.split()) <= 4, (task.id, label)
            assert label.lower() in (task.instruction + " " + task.instances[0].input).lower(), (
                task.id,
                label,
            )


def test_every_seed_passes_our_own_filters(seeds: list[Task]) -> None:
    result = InstructionFilter(threshold=0.7).invoke([t.instruction for t in seeds])
    assert result.rejected == []
    for task in seeds:
        assert InstanceFilter().invoke(task) == task


def test_no_near_duplicate_pair_inside_the_pool(
    seeds: list[Task], scorer: rouge_scorer.RougeScorer
) -> None:
    worst = max(
        (scorer.score(a.instruction, b.instruction)["rougeL"].fmeasure, a.id, b.id)
        for a, b in itertools.combinations(seeds, 2)
    )
    assert worst[0] <= 0.7, worst


def test_pool_is_ours_not_a_paraphrase_of_the_paper(
    seeds: list[Task], scorer: rouge_scorer.RougeScorer, paper_seed_path: Path
) -> None:
    paper = [json.loads(line)["instruction"] for line in paper_seed_path.read_text().splitlines()]
    worst = max(
        (scorer.score(theirs, ours.instruction)["rougeL"].fmeasure, ours.id, theirs)
        for ours in seeds
        for theirs in paper
    )
    assert worst[0] <= 0.6, worst
