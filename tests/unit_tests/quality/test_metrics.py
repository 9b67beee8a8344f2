"""Diversity metrics, Wilson intervals and Cohen's kappa on hand-made sets with known values."""

from __future__ import annotations

import math

import pytest

from langchain_selfinstruct import Instance, Task
from langchain_selfinstruct.judges import cohen_kappa, wilson_interval
from langchain_selfinstruct.quality.diversity import (
    classification_share,
    distinct_n,
    diversity_numbers,
    label_balance,
    label_balance_summary,
    per_thousand,
)


def test_distinct_n_counts_within_texts() -> None:
    texts = ["the cat sat", "the cat ran"]
    assert distinct_n(texts, 1) == 4 / 6  # the, cat, sat, ran
    assert distinct_n(texts, 2) == 3 / 4  # the cat (x2), cat sat, cat ran
    assert distinct_n(["a"], 2) == 0.0
    assert distinct_n(["Sort, the WORDS!", "sort the words"], 1) == 3 / 6
    with pytest.raises(ValueError, match="n must be >= 1"):
        distinct_n(texts, 0)


def test_per_thousand() -> None:
    assert per_thousand(30, 200) == 150.0
    assert per_thousand(3, 0) is None


def _task(i: int, cls: bool | None, outputs: list[str]) -> Task:
    return Task(
        id=f"t{i}",
        instruction=f"Task {i}",
        is_classification=cls,
        instances=[Instance(output=o) for o in outputs],
    )


def test_classification_share_ignores_unknown() -> None:
    tasks = [_task(0, True, []), _task(1, False, []), _task(2, None, []), _task(3, False, [])]
    assert classification_share(tasks) == 1 / 3
    assert classification_share([_task(0, None, [])]) is None


def test_label_balance_is_pielou_evenness() -> None:
    assert label_balance(["Yes", "No", "Yes", "No"]) == pytest.approx(1.0)
    assert label_balance(["Yes", "Yes", "Yes "]) == 0.0
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert label_balance(["a", "a", "a", "b"]) == pytest.approx(expected)  # 0.8113
    tasks = [_task(0, True, ["a", "b"]), _task(1, True, ["a", "a"]), _task(2, False, ["x", "y"])]
    assert label_balance_summary(tasks) == {
        "tasks": 2,
        "mean_balance": 0.5,
        "single_label_share": 0.5,
    }


def test_diversity_numbers_reuse_the_verb_analysis() -> None:
    tasks = [_task(i, i % 2 == 0, ["a", "b"]) for i in range(4)]
    numbers = diversity_numbers(tasks, {"distinct_verbs": 2, "distinct_pairs": 3})
    assert numbers["root_verbs_per_1k"] == 500.0 and numbers["verb_noun_pairs_per_1k"] == 750.0
    assert numbers["classification_share"] == 0.5
    assert diversity_numbers(tasks, None)["root_verbs_per_1k"] is None


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 10)[0] == 0.0 and round(wilson_interval(0, 10)[1], 4) == 0.2775
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(3, 2)


def test_cohen_kappa_known_values() -> None:
    # p_o = 0.75, p_e = (2*1 + 2*3) / 16 = 0.5
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    assert cohen_kappa(["y", "n"], ["n", "y"]) == pytest.approx(-1.0)
    assert cohen_kappa(["y", "y"], ["y", "y"]) is None
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError, match="differ in length"):
        cohen_kappa([1], [1, 0])
