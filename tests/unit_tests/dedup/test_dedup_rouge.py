from __future__ import annotations

import itertools
import json
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_selfinstruct.dedup.rouge import fmeasure, lcs_many, min_lcs_above, rouge_l
from langchain_selfinstruct.dedup.tokenize import encode_ids
from tests.unit_tests.dedup.helpers import (
    NearDuplicateGenerator,
    oracle_rouge_l,
    oracle_score,
    oracle_tokens,
)


def _instructions(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line)["instruction"] for line in handle if line.strip()]


def _assert_same_scores(pairs: list[tuple[str, str]]) -> None:
    tokens = {text: oracle_tokens(text) for pair in pairs for text in pair}
    for a, b in pairs:
        expected = oracle_score(tokens[a], tokens[b])
        assert abs(rouge_l(a, b) - expected) < 1e-9, (a, b)
        assert rouge_l(a, b) == expected  # in fact bit-for-bit


def test_all_pairs_of_paper_seed_instructions(paper_seed_path: Path) -> None:
    seeds = _instructions(paper_seed_path)
    assert len(seeds) == 175
    _assert_same_scores(list(itertools.combinations(seeds, 2)))


def test_seed_against_user_oriented_sample(paper_seed_path: Path, user_oriented_path: Path) -> None:
    seeds = _instructions(paper_seed_path)
    user = random.Random(0).sample(_instructions(user_oriented_path), 60)
    _assert_same_scores([(a, b) for a in seeds for b in user])


def test_scorer_argument_order_is_target_then_prediction() -> None:
    a, b = "write a poem about the sea", "write a poem"
    assert rouge_l(a, b) == oracle_rouge_l(a, b) == oracle_rouge_l(b, a) == rouge_l(b, a)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("ab cAB.,é写\n"), max_size=40),
    st.text(alphabet=st.sampled_from("ab cAB.,é写\n"), max_size=40),
)
def test_hypothesis_strings_match_rouge_score(a: str, b: str) -> None:
    assert rouge_l(a, b) == oracle_rouge_l(a, b)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_arbitrary_unicode_matches_rouge_score(a: str, b: str) -> None:
    assert rouge_l(a, b) == oracle_rouge_l(a, b)


@pytest.mark.parametrize(("a", "b"), [("", ""), ("", "hello"), ("写诗", "写诗"), ("!!!", "a")])
def test_texts_without_tokens_score_zero(a: str, b: str) -> None:
    assert rouge_l(a, b) == oracle_rouge_l(a, b) == 0.0


def test_generated_near_duplicates_match_rouge_score() -> None:
    gen = NearDuplicateGenerator(seed=1)
    texts = [gen.next(dup_share=0.7) for _ in range(400)]
    _assert_same_scores(list(itertools.pairwise(texts)) + list(zip(texts, texts[7:], strict=False)))


def test_vectorised_fmeasure_is_bitwise_equal_to_rouge_score() -> None:
    for m, n in itertools.product(range(1, 30), repeat=2):
        lcs = np.arange(0, min(m, n) + 1)
        got = fmeasure(lcs, m, np.full(len(lcs), n))
        target, prediction = ["t"] * m, ["t"] * n
        for length, value in zip(lcs.tolist(), got.tolist(), strict=True):
            # Prediction sharing exactly `length` tokens with the target, in order.
            pred = ["t"] * length + ["x"] * (n - length)
            expected = oracle_score(target, pred)
            assert value == expected, (length, m, n)
        assert len(prediction) == n


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 0.7000000000000001, 0.85, 1.0])
def test_min_lcs_above_is_the_exact_float_crossing(threshold: float) -> None:
    for m in range(1, 45):
        n = np.arange(1, 90)
        need = min_lcs_above(threshold, m, n)
        for size, got in zip(n.tolist(), need.tolist(), strict=True):
            scores = fmeasure(np.arange(0, min(m, size) + 1), m, np.full(min(m, size) + 1, size))
            above = np.flatnonzero(scores > threshold)
            expected = int(above[0]) if len(above) else min(m, size) + 1
            assert got == expected, (m, size)


def test_exact_ties_follow_rouge_score_floats() -> None:
    # 2 * lcs / (m + n) == 0.7 exactly; rouge_score's float result is sometimes 0.7 (kept) and
    # sometimes 0.7000000000000001 (rejected by the paper's code). min_lcs_above must agree.
    kept = rejected = 0
    for m, n in itertools.product(range(1, 50), repeat=2):
        for lcs in range(1, min(m, n) + 1):
            if Fraction(2 * lcs, m + n) != Fraction(7, 10):
                continue
            value = float(fmeasure(np.array([lcs]), m, np.array([n]))[0])
            above = value > 0.7
            assert (min_lcs_above(0.7, m, np.array([n]))[0] <= lcs) == above
            kept += not above
            rejected += above
    assert kept > 0 and rejected > 0


def test_lcs_many_matches_pairwise_lcs() -> None:
    rng = random.Random(3)
    pool = [[rng.randrange(6) for _ in range(rng.randint(0, 80))] for _ in range(50)]
    query = [rng.randrange(6) for _ in range(70)]
    got = lcs_many(encode_ids(query), [encode_ids(p) for p in pool]).tolist()
    for seq, value in zip(pool, got, strict=True):
        table = [[0] * (len(seq) + 1) for _ in range(len(query) + 1)]
        for i, x in enumerate(query):
            for j, y in enumerate(seq):
                table[i + 1][j + 1] = (
                    table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
                )
        assert value == table[-1][-1]
    assert lcs_many("ab", []).tolist() == []
